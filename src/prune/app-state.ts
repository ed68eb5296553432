import pMap from 'p-map';
import { manifestPrefix } from '../contract/keys';
import { parseManifest, type Manifest } from '../contract/manifest';
import { validateAppName } from '../contract/names';
import { parseStagingRecord } from '../contract/staging';
import { CorruptRecordError } from '../errors';
import type { ObjectInfo, Storage } from '../storage/storage';
import type { ManifestEntry } from './retention';

/** Reading what the bucket says about an app: shared by prune, rollback and status. */

const READ_CONCURRENCY = 16;

export interface StoredManifest extends ManifestEntry {
  manifest: Manifest;
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/**
 * Every manifest of the app, read and parsed. One that cannot be read fails the whole read
 * with its key and the problem: deciding anything about an app with a build missing from the
 * picture could delete what that build needs.
 */
export async function readManifests(storage: Storage, app: string): Promise<StoredManifest[]> {
  const prefix = manifestPrefix(app);
  const listed = await collect(storage.list(prefix));
  const entries = await pMap(
    listed,
    async (o): Promise<StoredManifest | undefined> => {
      const name = o.key.slice(prefix.length);
      if (!/^\d+$/.test(name)) {
        throw new CorruptRecordError(o.key, 'its name is not a unix timestamp in seconds, so no build age can be read from it; remove or rename it');
      }
      const body = await storage.get(o.key);
      // Deleted since the listing (another prune, or valpop's own cleanup): nothing to decide.
      if (!body) return undefined;
      const manifest = parseManifest(o.key, body.toString('utf8'));
      return { key: o.key, timestamp: Number(name), files: manifest.files, publishId: manifest.publishId, manifest };
    },
    { concurrency: READ_CONCURRENCY },
  );
  return entries.filter((e): e is StoredManifest => e !== undefined);
}

/** Every app with manifests or data in the bucket, and the prefixes that are not app names. */
export async function listAppNames(storage: Storage): Promise<{ apps: string[]; ignored: string[] }> {
  const names = new Set([...(await storage.listChildren('manifests/')), ...(await storage.listChildren('data/'))]);
  const apps: string[] = [];
  const ignored: string[] = [];
  for (const name of [...names].sort()) {
    try {
      apps.push(validateAppName(name));
    } catch {
      ignored.push(name);
    }
  }
  return { apps, ignored };
}

/** What publishes in progress rely on: the paths they name, and their run IDs (which name their copies). */
export interface InFlight {
  paths: Set<string>;
  builds: Set<string>;
}

/** Reads the staging records of publishes in progress. */
export async function readInFlight(storage: Storage, records: readonly ObjectInfo[]): Promise<InFlight> {
  const inFlight: InFlight = { paths: new Set(), builds: new Set() };
  await pMap(
    records,
    async (o) => {
      const body = await storage.get(o.key);
      // Removed since the listing: that publish has written its manifest, or gave up.
      if (!body) return;
      const record = parseStagingRecord(o.key, body.toString('utf8'));
      inFlight.builds.add(record.publishId);
      for (const f of record.files) inFlight.paths.add(f.path);
    },
    { concurrency: READ_CONCURRENCY },
  );
  return inFlight;
}

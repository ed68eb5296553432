import pMap from 'p-map';
import { manifestPrefix, manifestTimestamp } from '../contract/keys';
import { parseManifest, type Manifest } from '../contract/manifest';
import { CorruptRecordError } from '../errors';
import type { Storage } from '../storage/storage';
import { collect } from './listings';

/** Reading the app's manifests (`manifests/<app>/<seconds>`): all of them, the newest, or one. */

const READ_CONCURRENCY = 16;

/** A manifest as read from the bucket, with what its key says (the shape prune/retention's `ManifestEntry` reads). */
export interface StoredManifest {
  key: string;
  /** The key's last segment: the build's start time in unix seconds. */
  timestamp: number;
  files: readonly string[];
  /** The run that wrote the build, which names its entry-file copies; absent for valpop's builds. */
  publishId?: string;
  manifest: Manifest;
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

/** The app's manifest keys whose names are timestamps, newest first; nothing is read. */
export async function listManifestKeys(storage: Storage, app: string): Promise<Array<{ key: string; timestamp: number }>> {
  const keys: Array<{ key: string; timestamp: number }> = [];
  for await (const o of storage.list(manifestPrefix(app))) {
    const timestamp = manifestTimestamp(o.key);
    if (timestamp !== undefined) keys.push({ key: o.key, timestamp });
  }
  return keys.sort((a, b) => b.timestamp - a.timestamp);
}

/** The manifest at `key`, parsed; undefined when it is not there. */
export async function readManifest(storage: Storage, key: string): Promise<Manifest | undefined> {
  const body = await storage.get(key);
  return body && parseManifest(key, body.toString('utf8'));
}

/**
 * Reads the app's manifests newest first, a few at a time, handing each to `visit` until it
 * returns true (done). One that cannot be read is skipped: a stray key under manifests/ must not
 * stop a publish, and a build whose manifest nobody can read cannot be rolled back to anyway.
 */
export async function visitManifestsNewestFirst(storage: Storage, app: string, visit: (m: StoredManifest) => boolean): Promise<void> {
  const keys = await listManifestKeys(storage, app);
  for (let i = 0; i < keys.length; i += READ_CONCURRENCY) {
    const read = await pMap(
      keys.slice(i, i + READ_CONCURRENCY),
      async ({ key, timestamp }): Promise<StoredManifest | undefined> => {
        try {
          const manifest = await readManifest(storage, key);
          return manifest && { key, timestamp, files: manifest.files, publishId: manifest.publishId, manifest };
        } catch (err) {
          if (err instanceof CorruptRecordError) return undefined;
          throw err;
        }
      },
      { concurrency: READ_CONCURRENCY },
    );
    for (const m of read) if (m && visit(m)) return;
  }
}

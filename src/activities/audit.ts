import { createHash } from 'node:crypto';
import pMap from 'p-map';
import { auditApp, summarizeAudit, type AppAuditSummary, type AuditedManifest } from '../audit/audit';
import { collect, listAppObjects } from '../bucket/listings';
import { dataKey, ENTRY_POINT, manifestPrefix, manifestTimestamp } from '../contract/keys';
import { parseManifest } from '../contract/manifest';
import { validateAppName } from '../contract/names';
import type { Storage } from '../storage/storage';
import { withFailureTranslation } from './failures';

const READ_CONCURRENCY = 16;

export interface AuditAppInput {
  bucket: string;
  app: string;
  /** Keys of each kind kept in the result; the rest are counted. */
  listLimit: number;
}

export interface AuditActivityDeps {
  openStorage: (bucket: string) => Storage;
}

/**
 * Activities of the audit: reads only, on the shared worker. One listing of data/<app>/ per app,
 * its manifests, and the live fed-mods.json; never a HEAD per file.
 */
export function createAuditActivities(deps: AuditActivityDeps) {
  return withFailureTranslation({
    async auditApp(input: AuditAppInput): Promise<AppAuditSummary> {
      const app = validateAppName(input.app);
      const storage = deps.openStorage(input.bucket);
      const [manifests, listing, live] = await Promise.all([readAuditedManifests(storage, app), listAppObjects(storage, app), storage.get(dataKey(app, ENTRY_POINT))]);
      const liveFedModsSha256 = live ? createHash('sha256').update(live).digest('hex') : undefined;
      return summarizeAudit(auditApp({ app, manifests, listing, liveFedModsSha256 }), input.listLimit);
    },
  });
}

export type AuditActivities = ReturnType<typeof createAuditActivities>;

/** Every manifest of the app; one that cannot be read is reported with its problem, not fatal. */
async function readAuditedManifests(storage: Storage, app: string): Promise<AuditedManifest[]> {
  const listed = await collect(storage.list(manifestPrefix(app)));
  const read = await pMap(
    listed,
    async (o): Promise<AuditedManifest | undefined> => {
      const timestamp = manifestTimestamp(o.key);
      if (timestamp === undefined) return { key: o.key, timestamp: 0, problem: 'its name is not a unix timestamp in seconds' };
      const body = await storage.get(o.key);
      // Deleted since the listing: a prune got there first.
      if (!body) return undefined;
      try {
        return { key: o.key, timestamp, manifest: parseManifest(o.key, body.toString('utf8')) };
      } catch (err) {
        return { key: o.key, timestamp, problem: (err as Error).message };
      }
    },
    { concurrency: READ_CONCURRENCY },
  );
  return read.filter((m): m is AuditedManifest => m !== undefined);
}

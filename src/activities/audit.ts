import { createHash } from 'node:crypto';
import pMap from 'p-map';
import { auditApp, summarizeAudit, type AppAuditSummary, type AuditedManifest } from '../audit/audit';
import { setTimeout as sleep } from 'node:timers/promises';
import { listGoLive } from '../bucket/go-live-records';
import { collect, listAppObjects } from '../bucket/listings';
import { listPrunePlans } from '../bucket/plan-records';
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
  /** How often, and how long apart, an audit that found problems while the app was busy looks again. Default 6 × 5 s. */
  settle?: { attempts: number; delayMs: number };
}

/**
 * Activities of the audit: reads only, on the shared worker. One listing of data/<app>/ per app,
 * its manifests, and the live fed-mods.json; never a HEAD per file.
 */
export function createAuditActivities(deps: AuditActivityDeps) {
  return withFailureTranslation({
    /**
     * A go-live step rewrites objects before its manifest names them, and a prune deletes a
     * manifest's objects after the manifest: while either runs the audit can see what is not
     * damage. Problems seen then are looked at again once the app is quiet (or flagged `underWay`).
     */
    async auditApp(input: AuditAppInput): Promise<AppAuditSummary> {
      const app = validateAppName(input.app);
      const storage = deps.openStorage(input.bucket);
      const settle = deps.settle ?? { attempts: 6, delayMs: 5000 };
      for (let attempt = 1; ; attempt++) {
        const audit = await auditOnce(storage, app);
        const busy = audit.ok ? false : await underWay(storage, app);
        if (!busy || attempt >= settle.attempts) return { ...summarizeAudit(audit, input.listLimit), ...(busy ? { underWay: true } : {}) };
        await sleep(settle.delayMs);
      }
    },
  });
}

export type AuditActivities = ReturnType<typeof createAuditActivities>;

async function auditOnce(storage: Storage, app: string) {
  const [manifests, listing, live] = await Promise.all([readAuditedManifests(storage, app), listAppObjects(storage, app), storage.get(dataKey(app, ENTRY_POINT))]);
  const liveFedModsSha256 = live ? createHash('sha256').update(live).digest('hex') : undefined;
  return auditApp({ app, manifests, listing, liveFedModsSha256 });
}

/** A go-live step (its record) or a prune (its plan) of the app is under way. */
async function underWay(storage: Storage, app: string): Promise<boolean> {
  const [goLive, plans] = await Promise.all([listGoLive(storage, app), listPrunePlans(storage, app)]);
  return goLive.length > 0 || plans.length > 0;
}

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

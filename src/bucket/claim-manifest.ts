import { manifestKey } from '../contract/keys';
import { parseManifest, renderManifest } from '../contract/manifest';
import { CorruptRecordError } from '../errors';
import type { Storage } from '../storage/storage';
import type { KnownStagingRecords } from './known-records';
import { readStagingRecord } from './staging';

/** Writing a build's manifest under the first free `manifests/<app>/<seconds>` key: publishes and rollbacks alike. */

/** Two builds of one app that start in the same second: the later takes the next free second, up to this many on. */
export const MAX_TIMESTAMP_PROBES = 120;

/** Where a build's manifest went. */
export interface ClaimedManifest {
  manifestKey: string;
  timestamp: number;
}

/** Which build, and from which second on its manifest key is claimed. */
export interface ManifestClaim {
  app: string;
  publishId: string;
  timestamp: number;
}

/** True when the manifest at `key` was written by `publishId`: a retried write finds its own. */
export async function writtenBy(storage: Storage, key: string, publishId: string): Promise<boolean> {
  const body = await storage.get(key);
  if (!body) return false;
  try {
    return parseManifest(key, body.toString('utf8')).publishId === publishId;
  } catch {
    return false; // someone else's unreadable manifest is still someone else's
  }
}

/**
 * Writes the manifest `render(ts)` at the first key from `claim.timestamp` on that is free or
 * already holds this build's own (a retry), never over another build's. `blame` is the key a
 * failure names when every key is taken.
 */
export async function claimManifestKey(storage: Storage, claim: ManifestClaim, render: (timestamp: number) => string, blame: string): Promise<ClaimedManifest> {
  for (let ts = claim.timestamp; ts < claim.timestamp + MAX_TIMESTAMP_PROBES; ts++) {
    const key = manifestKey(claim.app, ts);
    const created = await storage.putIfAbsent(key, Buffer.from(render(ts)), { contentType: 'application/json', cacheControl: 'no-cache' });
    if (created || (await writtenBy(storage, key, claim.publishId))) return { manifestKey: key, timestamp: ts };
  }
  throw new CorruptRecordError(blame, `every manifest key from ${claim.timestamp} to ${claim.timestamp + MAX_TIMESTAMP_PROBES - 1} is taken`);
}

/**
 * Writes the build's manifest from its staging record, never over another build's manifest,
 * and removes the staging record. Safe to retry after any partial step. `known`: the Job's
 * memory of the record it staged, which spares parsing it again (it is still read).
 */
export async function commitManifest(storage: Storage, input: ManifestClaim & { stagingKey: string }, known?: KnownStagingRecords): Promise<ClaimedManifest> {
  const record = await (known ? known.read(storage, input.stagingKey) : readStagingRecord(storage, input.stagingKey));
  if (!record) {
    const committed = await findCommitted(storage, input);
    if (committed) return committed;
    throw new CorruptRecordError(input.stagingKey, 'the staging record of this publish is missing and no manifest was written');
  }
  const claimed = await claimManifestKey(storage, input, (ts) => renderManifest({ ...record, timestamp: ts, publishId: input.publishId }), input.stagingKey);
  known?.forget(input.stagingKey);
  await storage.delete([input.stagingKey]);
  return claimed;
}

/** The manifest this publish wrote, if an earlier attempt got that far. */
export async function findCommitted(storage: Storage, input: ManifestClaim): Promise<ClaimedManifest | undefined> {
  for (let ts = input.timestamp; ts < input.timestamp + MAX_TIMESTAMP_PROBES; ts++) {
    const key = manifestKey(input.app, ts);
    if (await writtenBy(storage, key, input.publishId)) return { manifestKey: key, timestamp: ts };
    if (!(await storage.get(key))) break;
  }
  return undefined;
}

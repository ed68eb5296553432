import { manifestKey } from '../contract/keys';
import { parseManifest, renderManifest } from '../contract/manifest';
import { parseStagingRecord } from '../contract/staging';
import { CorruptRecordError } from '../errors';
import type { Storage } from '../storage/storage';
import type { CommitManifestInput, CommitManifestResult } from './types';

/** Two builds of one app that start in the same second: the later takes the next free second, up to this many on. */
export const MAX_TIMESTAMP_PROBES = 120;

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
 * Writes the build's manifest from its staging record, never over another build's manifest,
 * and removes the staging record. Safe to retry after any partial step.
 */
export async function commitManifest(storage: Storage, input: Omit<CommitManifestInput, 'bucket'>): Promise<CommitManifestResult> {
  const staged = await storage.get(input.stagingKey);
  if (!staged) {
    const committed = await findCommitted(storage, input);
    if (committed) return committed;
    throw new CorruptRecordError(input.stagingKey, 'the staging record of this publish is missing and no manifest was written');
  }
  const record = parseStagingRecord(input.stagingKey, staged.toString('utf8'));
  for (let ts = input.timestamp; ts < input.timestamp + MAX_TIMESTAMP_PROBES; ts++) {
    const key = manifestKey(input.app, ts);
    const body = renderManifest({ ...record, timestamp: ts, publishId: input.publishId });
    const created = await storage.putIfAbsent(key, Buffer.from(body), { contentType: 'application/json', cacheControl: 'no-cache' });
    if (created || (await writtenBy(storage, key, input.publishId))) {
      await storage.delete([input.stagingKey]);
      return { manifestKey: key, timestamp: ts };
    }
  }
  throw new CorruptRecordError(
    input.stagingKey,
    `every manifest key from ${input.timestamp} to ${input.timestamp + MAX_TIMESTAMP_PROBES - 1} is taken`,
  );
}

/** The manifest this publish wrote, if an earlier attempt got that far. */
export async function findCommitted(storage: Storage, input: Pick<CommitManifestInput, 'app' | 'publishId' | 'timestamp'>): Promise<CommitManifestResult | undefined> {
  for (let ts = input.timestamp; ts < input.timestamp + MAX_TIMESTAMP_PROBES; ts++) {
    const key = manifestKey(input.app, ts);
    if (await writtenBy(storage, key, input.publishId)) return { manifestKey: key, timestamp: ts };
    if (!(await storage.get(key))) break;
  }
  return undefined;
}

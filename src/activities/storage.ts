import { manifestKey } from '../contract/keys';
import { renderManifest } from '../contract/manifest';
import { parseStagingRecord } from '../contract/staging';
import { CorruptRecordError } from '../errors';
import type { Storage } from '../storage/storage';
import { withFailureTranslation } from './failures';
import { MAX_TIMESTAMP_PROBES, writtenBy } from './manifest-write';
import { createRollbackActivities } from './rollback';
import type { CommitManifestInput, CommitManifestResult, DiscardStagingInput } from './types';

export interface StorageActivityDeps {
  /** Opens the named bucket with the worker's own endpoint and credentials. */
  openStorage: (bucket: string) => Storage;
}

/** Activities that touch only the bucket; they run on the shared worker (rollback's included). */
export function createStorageActivities(deps: StorageActivityDeps) {
  return withFailureTranslation({
    ...createRollbackActivities(deps),
    /**
     * Writes the build's manifest from its staging record, never over another build's
     * manifest, and removes the staging record. Safe to retry after any partial step.
     */
    async commitManifest(input: CommitManifestInput): Promise<CommitManifestResult> {
      const storage = deps.openStorage(input.bucket);
      const staged = await storage.get(input.stagingKey);
      if (!staged) return findCommitted(storage, input);
      const record = parseStagingRecord(input.stagingKey, staged.toString('utf8'));
      for (let ts = input.timestamp; ts < input.timestamp + MAX_TIMESTAMP_PROBES; ts++) {
        const key = manifestKey(input.app, ts);
        const body = renderManifest({ ...record, timestamp: ts, publishId: input.publishId });
        const created = await storage.putIfAbsent(key, Buffer.from(body), {
          contentType: 'application/json',
          cacheControl: 'no-cache',
        });
        if (created || (await writtenBy(storage, key, input.publishId))) {
          await storage.delete([input.stagingKey]);
          return { manifestKey: key, timestamp: ts };
        }
      }
      throw new CorruptRecordError(
        input.stagingKey,
        `every manifest key from ${input.timestamp} to ${input.timestamp + MAX_TIMESTAMP_PROBES - 1} is taken`,
      );
    },

    /** Removes the staging record of a publish that gave up, so its files become collectable. */
    async discardStaging(input: DiscardStagingInput): Promise<void> {
      await deps.openStorage(input.bucket).delete([input.stagingKey]);
    },
  });
}

export type StorageActivities = ReturnType<typeof createStorageActivities>;

/** The staging record is gone: an earlier attempt committed and cleaned up, or it was never written. */
async function findCommitted(storage: Storage, input: CommitManifestInput): Promise<CommitManifestResult> {
  for (let ts = input.timestamp; ts < input.timestamp + MAX_TIMESTAMP_PROBES; ts++) {
    const key = manifestKey(input.app, ts);
    if (await writtenBy(storage, key, input.publishId)) return { manifestKey: key, timestamp: ts };
    if (!(await storage.get(key))) break;
  }
  throw new CorruptRecordError(input.stagingKey, 'the staging record of this publish is missing and no manifest was written');
}

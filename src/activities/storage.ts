import type { Storage } from '../storage/storage';
import { withFailureTranslation } from './failures';
import { commitManifest } from '../bucket/claim-manifest';
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
    /** Publishes started before the go-live step wrote their manifest here, with the worker's store. */
    async commitManifest(input: CommitManifestInput): Promise<CommitManifestResult> {
      return commitManifest(deps.openStorage(input.bucket), input);
    },

    /** Removes the staging record of a publish that gave up, so its files become collectable. */
    async discardStaging(input: DiscardStagingInput): Promise<void> {
      await deps.openStorage(input.bucket).delete([input.stagingKey]);
    },
  });
}

export type StorageActivities = ReturnType<typeof createStorageActivities>;


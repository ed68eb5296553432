import type { Duration } from '@temporalio/common';
import type { BatchLimits } from '../source/batches';
import type { AppPruneStatus, PruneOptions } from '../prune/types';
import type { RollbackTarget, RollbackTo } from '../rollback/types';

/** The prune a publish runs for its own app once its manifest is written, as valpop does. */
export type PostPublishPrune = Pick<PruneOptions, 'timeout' | 'minAssetRecords' | 'orphanGrace' | 'maxDelete' | 'lockWaitSeconds' | 'heartbeatTimeout'>;

/** Everything a publish needs, and nothing secret: credentials stay with each worker. */
export interface PublishInput {
  app: string;
  bucket: string;
  image: string;
  valpopImage?: string;
  /** Path of the build on the Job's host; only the Job's own worker reads it. */
  sourceDir: string;
  /** The task queue only the Job polls. */
  filesTaskQueue: string;
  cacheMaxAge: number;
  batchLimits: BatchLimits;
  /** Batch activities in flight at once. */
  batchParallelism: number;
  /** Files uploaded at once inside one batch activity. */
  uploadConcurrency: number;
  /** Attempts per activity before the publish fails (0 = unlimited). */
  maxAttempts: number;
  /** A Job silent this long is taken for dead and its batch retried, e.g. '15s'. */
  heartbeatTimeout: Duration;
  /** How long a file activity may wait for a Job to poll its queue, e.g. '1h'. */
  jobAbsenceTimeout: Duration;
  /** Absent when the Job was told not to prune. */
  prune?: PostPublishPrune;
  /** false: skip the reference gate (`--no-verify-references`); absent or true: check. */
  verifyReferences?: boolean;
}

export type PublishPhase =
  | 'waiting-for-prune'
  | 'staging'
  | 'up-to-date'
  | 'uploading'
  | 'checking-references'
  | 'entry-copies'
  | 'waiting-to-go-live'
  | 'going-live'
  | 'restoring'
  | 'entry-point'
  | 'manifest'
  | 'pruning'
  | 'done'
  | 'failed';

export interface PublishProgress {
  phase: PublishPhase;
  files: number;
  fileTotal: number;
  bytes: number;
  byteTotal: number;
  /** Files the bucket already holds; not part of files/fileTotal. */
  skipped: number;
  /** Of files, those copied server-side from another key holding the same bytes; absent until a batch copied. */
  copied?: number;
  batches: number;
  batchTotal: number;
}

export interface PublishResult {
  manifestKey: string;
  timestamp: number;
  /** Every file of the build, and its bytes. */
  files: number;
  bytes: number;
  /** Files written by this publish (fed-mods.json included), and files already in the bucket. */
  uploaded: number;
  skipped: number;
  /** Files copied server-side from another key of the bucket holding the same bytes (not in `uploaded`); absent when copying was off. */
  copied?: number;
  listDigest: string;
  /** The newest build already was this one: nothing was written, `manifestKey` is its manifest. */
  upToDate?: boolean;
  prune?: {
    status: AppPruneStatus | 'failed';
    manifestsDeleted: number;
    objectsDeleted: number;
    reason?: string;
  };
}

/** A rollback: which build of which app to bring back. Nothing secret, as for a publish. */
export interface RollbackInput {
  app: string;
  bucket: string;
  to: RollbackTo;
  /** Attempts per activity before the rollback fails (0 = unlimited). */
  maxAttempts: number;
  /** How long the restore may go without reporting progress before it is retried elsewhere (default 30s). */
  heartbeatTimeout?: Duration;
}

export interface RollbackResult {
  app: string;
  /** The manifest the rollback wrote: a new build with the target's files. */
  manifestKey: string;
  timestamp: number;
  /** The build brought back. */
  target: RollbackTarget;
  /** Entry files written back to data/<app>/. */
  restored: number;
}

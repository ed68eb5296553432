import type { Duration } from '@temporalio/common';
import type { BatchLimits } from '../source/batches';

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
}

export type PublishPhase = 'staging' | 'uploading' | 'entry-point' | 'manifest' | 'done' | 'failed';

export interface PublishProgress {
  phase: PublishPhase;
  files: number;
  fileTotal: number;
  bytes: number;
  byteTotal: number;
  batches: number;
  batchTotal: number;
}

export interface PublishResult {
  manifestKey: string;
  timestamp: number;
  files: number;
  bytes: number;
  listDigest: string;
}

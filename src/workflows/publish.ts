import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  proxyActivities,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { FileActivities } from '../activities/files';
import type { StorageActivities } from '../activities/storage';
import type { StageSummary, UploadResult } from '../activities/types';
import type { PublishInput, PublishProgress, PublishResult } from './types';

export const progressQuery = defineQuery<PublishProgress>('progress');

// Mirrors PERMANENT_FAILURE_TYPES in src/errors.ts (a unit test keeps them equal); workflow
// code may import only @temporalio/workflow and types.
export const PERMANENT = ['ConfigError', 'InvalidName', 'SourceError', 'SourceChanged', 'AccessDenied', 'BucketNotFound', 'CorruptRecord'];

/**
 * Publishes one build: every file, then fed-mods.json, then the manifest.
 * History holds counts and digests only; the file list lives on the Job's disk and in the
 * staging record in the bucket.
 */
export async function PublishWorkflow(input: PublishInput): Promise<PublishResult> {
  const retry: RetryPolicy = {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: input.maxAttempts,
    nonRetryableErrorTypes: PERMANENT,
  };
  const files = proxyActivities<FileActivities>({
    taskQueue: input.filesTaskQueue,
    startToCloseTimeout: '1h',
    heartbeatTimeout: input.heartbeatTimeout,
    // The files exist only where the Job runs: if no Job polls its queue, give up instead of waiting forever.
    scheduleToStartTimeout: input.jobAbsenceTimeout,
    retry,
  });
  const bucket = proxyActivities<StorageActivities>({ startToCloseTimeout: '5m', retry });

  const { runId } = workflowInfo();
  const timestamp = Math.floor(workflowInfo().runStartTime.getTime() / 1000);
  const progress: PublishProgress = { phase: 'staging', files: 0, fileTotal: 0, bytes: 0, byteTotal: 0, batches: 0, batchTotal: 0 };
  setHandler(progressQuery, () => progress);

  const staged = await describeFailure('staging the build', () =>
    files.stageBuild({
      app: input.app,
      sourceDir: input.sourceDir,
      image: input.image,
      valpopImage: input.valpopImage,
      timestamp,
      publishId: runId,
      batchLimits: input.batchLimits,
    }),
  );
  Object.assign(progress, { phase: 'uploading', fileTotal: staged.fileCount, byteTotal: staged.totalBytes, batchTotal: staged.batchCount });

  try {
    await uploadBatches(staged);
    // fed-mods.json names the chunks browsers load next; written before any of them exist,
    // the asset proxy would answer those chunks with its HTML fallback.
    progress.phase = 'entry-point';
    count(await describeFailure('uploading fed-mods.json', () => files.uploadEntryPoint({ ...source(staged), cacheMaxAge: input.cacheMaxAge })));
    progress.phase = 'manifest';
    const committed = await describeFailure('writing the manifest', () =>
      bucket.commitManifest({ bucket: input.bucket, app: input.app, stagingKey: staged.stagingKey, publishId: runId, timestamp }),
    );
    progress.phase = 'done';
    const result: PublishResult = { ...committed, files: staged.fileCount, bytes: staged.totalBytes, listDigest: staged.listDigest };
    upsertMemo({ result });
    return result;
  } catch (err) {
    progress.phase = 'failed';
    // Without its staging record the failed build's files belong to no one and age out.
    await CancellationScope.nonCancellable(() =>
      bucket.discardStaging({ bucket: input.bucket, stagingKey: staged.stagingKey }).catch(() => undefined),
    );
    throw err;
  }

  function source(s: StageSummary) {
    return { app: input.app, sourceDir: input.sourceDir, listDigest: s.listDigest };
  }

  function count(r: UploadResult): void {
    progress.files += r.files;
    progress.bytes += r.bytes;
  }

  async function uploadBatches(s: StageSummary): Promise<void> {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < s.batchCount) {
        const batchIndex = next++;
        const r = await describeFailure(`uploading batch ${batchIndex + 1}/${s.batchCount}`, () =>
          files.uploadBatch({
            ...source(s),
            batchIndex,
            batchLimits: input.batchLimits,
            cacheMaxAge: input.cacheMaxAge,
            uploadConcurrency: input.uploadConcurrency,
          }),
        );
        count(r);
        progress.batches++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(input.batchParallelism, s.batchCount) }, lane));
  }
}

/** Re-throws an activity's failure with the step and the root cause in one line. */
async function describeFailure<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ActivityFailure) {
      const cause = err.cause;
      const message = cause instanceof Error ? cause.message : String(cause);
      const type = cause instanceof ApplicationFailure ? cause.type : cause?.name;
      throw ApplicationFailure.create({ type: type ?? 'PublishFailed', message: `${step} failed: ${message}`, nonRetryable: true });
    }
    throw err;
  }
}

import {
  CancellationScope,
  defineQuery,
  executeChild,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { FileActivities } from '../activities/files';
import type { StorageActivities } from '../activities/storage';
import type { StageSummary, UploadResult } from '../activities/types';
import type { AppPruneResult } from '../prune/types';
import { acquireAppLock } from './app-lock';
import { describeFailure, PERMANENT, rootMessage } from './failures';
import { PruneWorkflow } from './prune';
import type { PostPublishPrune, PublishInput, PublishProgress, PublishResult } from './types';

export const progressQuery = defineQuery<PublishProgress>('progress');

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
  // Short bucket calls (one manifest write, one delete): a worker that dies in one is replaced
  // after this timeout, so it is kept small.
  const bucket = proxyActivities<StorageActivities>({ startToCloseTimeout: '2m', retry });

  const { runId } = workflowInfo();
  const timestamp = Math.floor(workflowInfo().runStartTime.getTime() / 1000);
  const progress: PublishProgress = { phase: 'staging', files: 0, fileTotal: 0, bytes: 0, byteTotal: 0, skipped: 0, batches: 0, batchTotal: 0 };
  setHandler(progressQuery, () => progress);

  // Histories recorded before the app lock existed replay without it.
  let lock;
  if (patched('app-lock')) {
    progress.phase = 'waiting-for-prune';
    lock = await describeFailure('taking the app lock', () => acquireAppLock(input.bucket, input.app, 'shared'));
    progress.phase = 'staging';
  }
  let result: PublishResult;
  try {
    result = await publishHoldingLock();
  } finally {
    await lock?.release();
  }
  if (input.prune) {
    progress.phase = 'pruning';
    result.prune = await pruneAfterPublish(input.prune);
    progress.phase = 'done';
  }
  upsertMemo({ result });
  return result;

  async function publishHoldingLock(): Promise<PublishResult> {
    const staged = await describeFailure('staging the build', () =>
      files.stageBuild({
        app: input.app,
        sourceDir: input.sourceDir,
        image: input.image,
        valpopImage: input.valpopImage,
        timestamp,
        publishId: runId,
        batchLimits: input.batchLimits,
        cacheMaxAge: input.cacheMaxAge,
      }),
    );
    // Runs staged before files were skipped report no skip counts.
    const skipped = staged.skippedFiles ?? 0;
    Object.assign(progress, {
      phase: 'uploading',
      fileTotal: staged.uploadFiles ?? staged.fileCount,
      byteTotal: staged.uploadBytes ?? staged.totalBytes,
      skipped,
      batchTotal: staged.batchCount,
    });

    try {
      await uploadBatches(staged);
      // fed-mods.json names the chunks browsers load next; written before any of them exist,
      // the asset proxy would answer those chunks with its HTML fallback.
      progress.phase = 'entry-point';
      // Later builds overwrite the entry files in place; the copies are what a rollback restores.
      // Runs started before copies were kept replay without them.
      if (patched('entry-copies')) {
        await describeFailure('keeping copies of the entry files', () => files.keepEntryCopies({ ...source(staged), cacheMaxAge: input.cacheMaxAge, publishId: runId }));
      }
      count(await describeFailure('uploading fed-mods.json', () => files.uploadEntryPoint({ ...source(staged), cacheMaxAge: input.cacheMaxAge })));
      progress.phase = 'manifest';
      const committed = await describeFailure('writing the manifest', () =>
        bucket.commitManifest({ bucket: input.bucket, app: input.app, stagingKey: staged.stagingKey, publishId: runId, timestamp }),
      );
      progress.phase = 'done';
      return {
        ...committed,
        files: staged.fileCount,
        bytes: staged.totalBytes,
        uploaded: staged.fileCount - skipped,
        skipped,
        listDigest: staged.listDigest,
      };
    } catch (err) {
      progress.phase = 'failed';
      // Without its staging record the failed build's files belong to no one and age out.
      await CancellationScope.nonCancellable(() =>
        bucket.discardStaging({ bucket: input.bucket, stagingKey: staged.stagingKey }).catch(() => undefined),
      );
      throw err;
    }
  }

  /** valpop cleans up after every populate; a prune that cannot run is reported, never fatal. */
  async function pruneAfterPublish(options: PostPublishPrune): Promise<PublishResult['prune']> {
    try {
      const r = (await executeChild(PruneWorkflow, {
        workflowId: `${workflowInfo().workflowId}/prune`,
        // As valpop's cleanup: aged-out builds only; orphans are the scheduled prune's job.
        args: [{ ...options, bucket: input.bucket, app: input.app, dryRun: false, maxAttempts: input.maxAttempts, collectOrphans: false }],
      })) as AppPruneResult;
      return { status: r.status, manifestsDeleted: r.manifestsDeleted, objectsDeleted: r.objectsDeleted + r.orphansDeleted };
    } catch (err) {
      return { status: 'failed', manifestsDeleted: 0, objectsDeleted: 0, reason: rootMessage(err) };
    }
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
            stagingKey: s.stagingKey,
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

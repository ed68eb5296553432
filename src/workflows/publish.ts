import {
  ApplicationFailure,
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
import { acquireAppLock, type HeldAppLock } from './app-lock';
import { describeFailure, PERMANENT, rootMessage } from './failures';
import { attemptsOf, lanes, step } from './helpers';
import { PruneWorkflow } from './prune';
import type { PostPublishPrune, PublishInput, PublishProgress, PublishResult } from './types';

export const progressQuery = defineQuery<PublishProgress>('progress');

/**
 * Publishes one build: stage, upload the new files, then one guarded go-live step (the files
 * that replace objects, the entry files, fed-mods.json last, the manifest), then prune.
 * History holds counts and digests only; the file list lives on the Job's disk and in the
 * staging record in the bucket. Every write goes through the Job, with the store it was given.
 */
export async function PublishWorkflow(input: PublishInput): Promise<PublishResult> {
  const retry: RetryPolicy = {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    ...attemptsOf(input.maxAttempts),
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
  // Putting the previous build back must not give up while the store is briefly away.
  const restoring = proxyActivities<FileActivities>({
    taskQueue: input.filesTaskQueue,
    startToCloseTimeout: '10m',
    scheduleToStartTimeout: input.jobAbsenceTimeout,
    // 0 stays unlimited; otherwise at least 20 attempts.
    retry: { ...retry, ...attemptsOf(input.maxAttempts === 0 ? 0 : Math.max(input.maxAttempts, 20)) },
  });
  // Short bucket calls (one manifest write, one delete): a worker that dies in one is replaced
  // after this timeout, so it is kept small. Only runs started before the go-live step use them.
  const bucket = proxyActivities<StorageActivities>({ startToCloseTimeout: '2m', retry });

  const { runId } = workflowInfo();
  const timestamp = Math.floor(workflowInfo().runStartTime.getTime() / 1000);
  let batchLimits: PublishInput['batchLimits'] = input.batchLimits;
  const progress: PublishProgress = { phase: 'staging', files: 0, fileTotal: 0, bytes: 0, byteTotal: 0, skipped: 0, batches: 0, batchTotal: 0 };
  setHandler(progressQuery, () => progress);

  // Histories recorded before the app lock existed replay without it.
  let lock;
  if (patched('app-lock')) {
    progress.phase = 'waiting-for-prune';
    lock = await describeFailure('taking the app lock', () => acquireAppLock(input.bucket, input.app, 'shared'));
    progress.phase = 'staging';
  }
  // Runs started before the guarded go-live step replay the order they were recorded with.
  const guarded = patched('go-live');
  // Issue 16: runs from here on skip round trips that wait on nothing; older ones replay as recorded.
  let fewerRoundTrips = false;
  // Sent with the release of the shared lock, in one workflow task, when `fewerRoundTrips`.
  let turnReleased: Promise<void> | undefined;
  // From the go-live step: how many builds the post-publish prune would delete (see GoLiveResult).
  let agedOut: number | undefined;
  let result: PublishResult;
  try {
    result = guarded ? await publishThroughGoLive() : await publishBeforeGoLive();
  } finally {
    await Promise.all([turnReleased, lock?.release()]);
  }
  if (input.prune && agedOut === 0) {
    // No build ages out, so the prune would delete none, and no object with them: it is not run.
    // What else it could collect (leftovers of runs that never finished) waits for the next
    // prune that deletes a build, or for the scheduled one.
    result.prune = { status: 'pruned', manifestsDeleted: 0, objectsDeleted: 0 };
  } else if (input.prune) {
    progress.phase = 'pruning';
    // With the go-live step, the prune's activities run on the Job too, with the Job's store.
    // The prune holds the app's exclusive lock: a Job gone meanwhile may hold it up a little, not an hour.
    const onJob = guarded ? { activityTaskQueue: input.filesTaskQueue, activityScheduleToStartTimeout: '2m' as const } : {};
    result.prune = await pruneAfterPublish({ ...input.prune, ...onJob });
  }
  progress.phase = 'done';
  upsertMemo({ result });
  return result;

  async function publishThroughGoLive(): Promise<PublishResult> {
    // Runs started before batches were bounded keep the batches they staged with.
    if (patched('bounded-batches')) batchLimits = { ...input.batchLimits, maxBatches: batchBound(input.batchParallelism) };
    fewerRoundTrips = patched('16-fewer-round-trips');
    const staged = await step(progress, 'staging', 'staging the build', () => files.stageBuild({ ...stageInput(), goLive: true }));
    if (staged.upToDate) {
      progress.phase = 'up-to-date';
      return { ...staged.upToDate, ...totals(staged), uploaded: 0, skipped: staged.fileCount, upToDate: true };
    }
    startUploading(staged);
    try {
      await uploadBatches(staged);
      // The turn is asked for while the references are checked; it is given up if they fail.
      const turnAsked = fewerRoundTrips ? askForTurn() : undefined;
      // A build that loads files existing nowhere would be answered with index.html: it fails
      // here, before anything of it replaces the live build (issue 17).
      if (patched('reference-gate') && input.verifyReferences !== false) {
        await step(progress, 'checking-references', 'checking the files the build references', () => files.checkReferences(source(staged))).catch(async (err: unknown) => {
          await turnAsked?.giveUp();
          throw err;
        });
      }
      // Later builds overwrite the entry files in place; the copies are what a rollback restores.
      const keepCopies = () => files.keepEntryCopies({ ...source(staged), cacheMaxAge: input.cacheMaxAge, publishId: runId });
      let copies: Promise<unknown> | undefined;
      if (patched('overlap-entry-copies')) {
        // The copies go under this build's own keys, which nothing else writes: they go up while
        // the go-live turn is awaited and the step prepared, and are done before the step writes.
        copies = describeFailure('keeping copies of the entry files', keepCopies);
        // Awaited in goLive; a failure that comes while another step is awaited is not lost.
        copies.catch(() => undefined);
      } else {
        await step(progress, 'entry-copies', 'keeping copies of the entry files', keepCopies);
      }
      const committed = await goLive(staged, copies, turnAsked?.turn);
      // Runs staged before copies existed (no copyFiles) report no copied count, as they did.
      const copied = staged.copyFiles === undefined ? {} : { copied: progress.copied ?? 0 };
      const uploaded = staged.fileCount - (staged.skippedFiles ?? 0) - (progress.copied ?? 0);
      return { ...committed, ...totals(staged), uploaded, skipped: staged.skippedFiles ?? 0, ...copied };
    } catch (err) {
      progress.phase = 'failed';
      // Without its staging record the failed build's files belong to no one and age out.
      await CancellationScope.nonCancellable(() => files.discardStaging({ bucket: input.bucket, stagingKey: staged.stagingKey }).catch(() => undefined));
      throw err;
    }
  }

  /**
   * Builds of one app go live one at a time, in the order they started. What the step replaces
   * is kept aside first; if the step fails, the previous build is put back before the run ends.
   */
  async function goLive(staged: StageSummary, copies?: Promise<unknown>, askedTurn?: Promise<HeldAppLock | undefined>) {
    progress.phase = 'waiting-to-go-live';
    const turn = await (askedTurn ?? waitForTurn());
    try {
      // The turn's generation lets the step reuse the staging listing when nothing changed since (issue 16).
      const generation = patched('16-go-live-generation') && turn?.generation ? { turnGeneration: turn.generation } : {};
      const goLiveInput = {
        ...source(staged),
        stagingKey: staged.stagingKey,
        publishId: runId,
        timestamp,
        cacheMaxAge: input.cacheMaxAge,
        uploadConcurrency: input.uploadConcurrency,
        ...generation,
        ...(fewerRoundTrips && input.prune ? { agedOutRule: { minAssetRecords: input.prune.minAssetRecords, timeoutSeconds: input.prune.timeout } } : {}),
      };
      try {
        const plan = await step(progress, 'going-live', 'preparing to go live', () => files.prepareGoLive(goLiveInput));
        // Now known exactly: what the batches wrote and what this step writes.
        progress.fileTotal = progress.files + plan.writes;
        // A build that has a manifest has its entry copies.
        await copies;
        const { agedOut: counted, ...committed } = await step(progress, 'going-live', 'going live', () => files.goLive(goLiveInput));
        agedOut = counted;
        count(committed);
        return committed;
      } catch (err) {
        progress.phase = 'restoring';
        await putPreviousBuildBack(err);
        throw err;
      }
    } finally {
      if (fewerRoundTrips) turnReleased = turn?.release();
      else await turn?.release();
    }
  }

  function waitForTurn(): Promise<HeldAppLock | undefined> {
    return describeFailure('waiting for the go-live turn', () => acquireAppLock(input.bucket, input.app, 'go-live'));
  }

  /** The go-live turn, asked for ahead of the step, and a way to give it up (asked or granted) if the step never comes. */
  function askForTurn(): { turn: Promise<HeldAppLock | undefined>; giveUp(): Promise<void> } {
    const scope = new CancellationScope();
    const turn = scope.run(waitForTurn);
    // Awaited by goLive or giveUp; a failure meanwhile must not be reported as unhandled.
    turn.catch(() => undefined);
    return {
      turn,
      async giveUp() {
        scope.cancel();
        // Cancelled while waiting, the request was withdrawn; granted first, the turn is released here.
        const held = await turn.catch(() => undefined);
        await held?.release();
      },
    };
  }

  async function putPreviousBuildBack(failure: unknown): Promise<void> {
    let problem: string | undefined;
    try {
      const r = await CancellationScope.nonCancellable(() => restoring.restoreLive({ app: input.app, publishId: runId, timestamp }));
      if (r.lost.length > 0) problem = `no kept copy of ${r.lost.join(', ')}`;
    } catch (err) {
      problem = rootMessage(err);
    }
    if (problem === undefined) return;
    // An ApplicationFailure fails the run; any other error thrown here would only fail the workflow task, again and again.
    throw ApplicationFailure.create({
      type: 'RestoreFailed',
      message: `${rootMessage(failure)}; putting the previous build of ${input.app} back also failed (${problem}): its live files may be mixed until the next publish of ${input.app}`,
      nonRetryable: true,
    });
  }

  /** The order publishes had before the go-live step: batches, fed-mods.json, manifest on the shared worker. */
  async function publishBeforeGoLive(): Promise<PublishResult> {
    const staged = await describeFailure('staging the build', () => files.stageBuild(stageInput()));
    startUploading(staged);
    try {
      await uploadBatches(staged);
      progress.phase = 'entry-point';
      if (patched('entry-copies')) {
        await describeFailure('keeping copies of the entry files', () => files.keepEntryCopies({ ...source(staged), cacheMaxAge: input.cacheMaxAge, publishId: runId }));
      }
      count(await describeFailure('uploading fed-mods.json', () => files.uploadEntryPoint({ ...source(staged), cacheMaxAge: input.cacheMaxAge })));
      progress.phase = 'manifest';
      const committed = await describeFailure('writing the manifest', () =>
        bucket.commitManifest({ bucket: input.bucket, app: input.app, stagingKey: staged.stagingKey, publishId: runId, timestamp }),
      );
      const skipped = staged.skippedFiles ?? 0;
      return { ...committed, ...totals(staged), uploaded: staged.fileCount - skipped, skipped };
    } catch (err) {
      progress.phase = 'failed';
      await CancellationScope.nonCancellable(() => bucket.discardStaging({ bucket: input.bucket, stagingKey: staged.stagingKey }).catch(() => undefined));
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

  function stageInput() {
    return {
      app: input.app,
      sourceDir: input.sourceDir,
      image: input.image,
      valpopImage: input.valpopImage,
      timestamp,
      publishId: runId,
      batchLimits,
      cacheMaxAge: input.cacheMaxAge,
    };
  }

  function startUploading(s: StageSummary): void {
    // Runs staged before files were skipped report no skip counts.
    Object.assign(progress, {
      phase: 'uploading',
      fileTotal: s.uploadFiles ?? s.fileCount,
      byteTotal: s.uploadBytes ?? s.totalBytes,
      skipped: s.skippedFiles ?? 0,
      batchTotal: s.batchCount,
    });
  }

  function totals(s: StageSummary) {
    return { files: s.fileCount, bytes: s.totalBytes, listDigest: s.listDigest };
  }

  function source(s: StageSummary) {
    return { app: input.app, sourceDir: input.sourceDir, listDigest: s.listDigest };
  }

  function count(r: UploadResult): void {
    progress.files += r.files;
    progress.bytes += r.bytes;
    // Only batches that had copies to make report them (no new command, so no patch needed).
    if (r.copied !== undefined) progress.copied = (progress.copied ?? 0) + r.copied;
  }

  async function uploadBatches(s: StageSummary): Promise<void> {
    await lanes(input.batchParallelism, s.batchCount, async (batchIndex) => {
      const r = await describeFailure(`uploading batch ${batchIndex + 1}/${s.batchCount}`, () =>
        files.uploadBatch({
          ...source(s),
          stagingKey: s.stagingKey,
          batchIndex,
          batchLimits,
          cacheMaxAge: input.cacheMaxAge,
          uploadConcurrency: input.uploadConcurrency,
        }),
      );
      count(r);
      progress.batches++;
    });
  }
}

/**
 * The most upload batches of one publish, whatever its tree: enough for every lane with a
 * balanced tail, few enough that about six history events a batch keep a publish under 250.
 */
function batchBound(batchParallelism: number): number {
  return Math.min(32, Math.max(16, batchParallelism));
}

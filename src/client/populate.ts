import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { EarlyAppView } from '../bucket/app-view';
import type { LockAtListing } from '../bucket/listing-trust';
import { dataPrefix } from '../contract/keys';
import { PRUNE_DEFAULTS, type PublishSettings, type TemporalSettings } from '../config';
import { scanSource, startScan, type SourceScan } from '../source/scan';
import type { Storage } from '../storage/storage';
import type { Report, ReportEvent } from '../telemetry/log';
import { createFilesWorker, filesTaskQueue } from '../worker/files-worker';
import { appLockWorkflowId, lockStateQuery } from '../workflows/app-lock-api';
import { progressQuery, type PublishWorkflow } from '../workflows/publish';
import type { PublishProgress, PublishResult } from '../workflows/types';
import { resultOrFailure, runLink, startOrJoin } from './runs';
import { publishWorkflowId } from './workflow-id';

export interface PopulateDeps {
  client: Client;
  /** Connection for the Job's own file worker. */
  connection: NativeConnection;
  storage: Storage;
  bucket: string;
  temporal: TemporalSettings;
  /** Where progress lines go, one line per call, each with the event it stands for. */
  report: Report;
  /** How often progress is polled, in ms. Default 1000. */
  progressIntervalMs?: number;
  /** The scan of `settings.source`, when the caller started it early; otherwise populate scans. */
  scan?: SourceScan;
  /** The early view that scan takes evidence from (its `evidence()`); populate starts it. Default: a new one. */
  earlyView?: EarlyAppView;
}

export interface PopulateOutcome extends PublishResult {
  workflowId: string;
  runId: string;
  /** True when this Job attached to a run a previous Job had started. */
  resumed: boolean;
}

/** What names a publish in every event it reports. */
interface RunFields {
  app: string;
  workflowId: string;
  runId: string;
}

/** The Job: checks its inputs, starts (or rejoins) the publish, serves its files and waits. */
export async function populate(settings: PublishSettings, deps: PopulateDeps): Promise<PopulateOutcome> {
  // Read while the tree is hashed: staging decides from it (see EarlyAppView).
  const earlyView = deps.earlyView ?? new EarlyAppView();
  earlyView.start(deps.storage, settings.app, () => lockAtListing(deps.client, deps.bucket, settings.app));
  const scan = deps.scan ?? startScan(settings.source, { evidence: earlyView.evidence() });
  // Everything that can be wrong with the inputs, but a file that cannot be read, is found before
  // the run starts. With an image, the run's ID is known before the tree is hashed: the run takes
  // the app lock and the Job's worker connects while the hashing and the early view go on, and
  // staging waits for the hashes. Without one, the ID is the tree's digest.
  const tree = await scan.listed;
  const listDigest = settings.image ? undefined : (await scan.scanned).listDigest;
  await deps.storage.checkAccess();

  if (!settings.verifyReferences) {
    deps.report(`reference gate off (--no-verify-references): ${settings.app} goes live even if its fed-mods.json or index.html loads files that exist nowhere`, {
      event: 'references-unverified',
      level: 'warn',
      app: settings.app,
    });
  }
  const workflowId = publishWorkflowId(deps.bucket, settings.app, settings.image, listDigest);
  const taskQueue = filesTaskQueue(workflowId);
  const attached = await isRunning(deps.client, workflowId);
  const options = {
    workflowId,
    taskQueue: deps.temporal.taskQueue,
    args: [
      {
        app: settings.app,
        bucket: deps.bucket,
        image: settings.image,
        valpopImage: settings.valpopImage,
        sourceDir: settings.source,
        filesTaskQueue: taskQueue,
        cacheMaxAge: settings.cacheMaxAge,
        batchLimits: { maxFiles: settings.batchFiles, maxBytes: settings.batchBytes },
        batchParallelism: settings.batchParallelism,
        uploadConcurrency: settings.uploadConcurrency,
        maxAttempts: settings.maxAttempts,
        heartbeatTimeout: settings.heartbeatTimeout,
        jobAbsenceTimeout: settings.jobAbsenceTimeout,
        prune: settings.prune
          ? {
              timeout: settings.timeout,
              minAssetRecords: settings.minAssetRecords,
              orphanGrace: settings.orphanGrace,
              maxDelete: settings.maxDelete,
              lockWaitSeconds: settings.lockWaitSeconds,
              heartbeatTimeout: PRUNE_DEFAULTS.heartbeatTimeout,
            }
          : undefined,
        verifyReferences: settings.verifyReferences,
      },
    ],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    memo: { app: settings.app, image: settings.image, files: tree.found.length, bytes: tree.totalBytes },
  } as const;
  const searchAttributes = { PushcacheApp: [settings.app], ...(settings.image ? { PushcacheImage: [settings.image] } : {}) };
  const handle = await startOrJoin<typeof PublishWorkflow>(deps.client, 'PublishWorkflow', options, searchAttributes, () =>
    deps.report('namespace lacks search attributes PushcacheApp/PushcacheImage (Keyword); register them to filter runs by app', {
      event: 'search-attributes-missing',
      level: 'warn',
      app: settings.app,
      workflowId,
    }),
  );
  const runId = handle.firstExecutionRunId;
  const run: RunFields = { app: settings.app, workflowId, runId };
  deps.report(
    `${attached ? 'rejoined' : 'started'} publish of ${settings.app} (${tree.found.length} files, ${formatBytes(tree.totalBytes)}) as ${workflowId}`,
    { event: attached ? 'publish-rejoined' : 'publish-started', ...run, image: settings.image || undefined, files: tree.found.length, bytes: tree.totalBytes },
  );
  runLink(deps.temporal, deps.report, run);

  // Created after the start succeeded, so a refused start leaves no worker holding the connection.
  const worker = await createFilesWorker({
    connection: deps.connection,
    namespace: deps.temporal.namespace,
    taskQueue,
    batchParallelism: settings.batchParallelism,
    storage: deps.storage,
    earlyView,
    copy: settings.copy !== false,
    warn: (message) => deps.report(message, { event: 'copy-unsupported', level: 'warn', ...run }),
    // The tree is being scanned; the first stage takes that scan rather than hashing everything twice.
    scan: (root) => (root === settings.source ? scan.scanned : scanSource(root)),
  });

  // A file that could not be read fails the run's staging; it is reported as the bad input it is.
  let unreadable: unknown;
  scan.scanned.catch((err: unknown) => (unreadable = err));
  const result = await worker.runUntil(waitWithProgress(handle, deps, run)).catch((err: unknown) => {
    throw unreadable ?? err;
  });
  if (result.prune) deps.report(describePrune(settings.app, result.prune), pruneEvent(result.prune, run));
  // Last, because an operator often sees only the last line of a Job's log.
  if (result.upToDate) {
    deps.report(
      `nothing to publish for ${settings.app}: its newest build ${result.manifestKey} is ${settings.image} with all ${result.files} files in place; wrote nothing`,
      { event: 'up-to-date', ...run, files: result.files, bytes: result.bytes, manifestKey: result.manifestKey, timestamp: result.timestamp, resumed: attached },
    );
    return { ...result, workflowId, runId, resumed: attached };
  }
  deps.report(
    `published ${settings.app}: ${result.files} files (${formatBytes(result.bytes)}) under ${dataPrefix(settings.app)}` +
      (result.skipped || result.copied ? ` (${[`${result.uploaded} uploaded`, result.copied ? `${result.copied} copied in the bucket` : '', result.skipped ? `${result.skipped} already there` : ''].filter(Boolean).join(', ')})` : '') +
      `, manifest ${result.manifestKey}`,
    {
      event: 'published',
      ...run,
      files: result.files,
      bytes: result.bytes,
      uploaded: result.uploaded,
      skipped: result.skipped,
      ...(result.copied !== undefined ? { copied: result.copied } : {}),
      manifestKey: result.manifestKey,
      timestamp: result.timestamp,
      resumed: attached,
    },
  );
  return { ...result, workflowId, runId, resumed: attached };
}

function describePrune(app: string, prune: NonNullable<PublishResult['prune']>): string {
  switch (prune.status) {
    case 'busy':
      return `prune of ${app} skipped: other publishes of ${app} are running; the next prune catches up`;
    case 'failed':
      return `the build is published but pruning ${app} failed: ${prune.reason}`;
    default:
      return `pruned ${app}: ${prune.manifestsDeleted} old builds and ${prune.objectsDeleted} objects deleted`;
  }
}

function pruneEvent(prune: NonNullable<PublishResult['prune']>, run: RunFields): ReportEvent {
  return {
    event: prune.status === 'failed' ? 'prune-failed' : prune.status === 'busy' ? 'prune-skipped' : 'pruned',
    ...(prune.status === 'failed' ? { level: 'warn' as const } : {}),
    ...run,
    status: prune.status,
    manifestsDeleted: prune.manifestsDeleted,
    objectsDeleted: prune.objectsDeleted,
    reason: prune.reason,
  };
}

/**
 * What the app lock says right before the early view is read: with it, the go-live step can
 * tell whether that listing still holds (bucket/listing-trust.ts). Undefined whenever unsure.
 */
async function lockAtListing(client: Client, bucket: string, app: string): Promise<LockAtListing | undefined> {
  const handle = client.workflow.getHandle(appLockWorkflowId(bucket, app));
  try {
    // Short: the listing waits for this answer, and it is only worth a listing's time.
    return await client.withDeadline(Date.now() + 2000, async () => {
      if ((await handle.describe()).status.name !== 'RUNNING') return { kind: 'idle' } as const;
      const state = await handle.query(lockStateQuery);
      if (!state.generation || state.holders.some((h) => h.mode !== 'shared')) return undefined;
      return { kind: 'counted', generation: state.generation } as const;
    });
  } catch (err) {
    return err instanceof WorkflowNotFoundError ? { kind: 'idle' } : undefined;
  }
}

async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

async function waitWithProgress(handle: WorkflowHandle<typeof PublishWorkflow>, deps: PopulateDeps, run: RunFields): Promise<PublishResult> {
  let done = false;
  // Ends the poller's wait at once when the run ends, instead of up to one interval later.
  const finished = new AbortController();
  const result = handle.result().finally(() => {
    done = true;
    finished.abort();
  });
  let last = '';
  const uploadRate = new UploadRate();
  const poll = (async () => {
    while (!done) {
      await sleep(deps.progressIntervalMs ?? 1000, undefined, { signal: finished.signal }).catch(() => undefined);
      if (done) break;
      // A failed query (a worker replica killed, the server restarting) is a poll with nothing to say.
      const progress = await handle.query(progressQuery).catch(() => undefined);
      const rate = uploadRate.observe(progress, Date.now());
      const waitingFor = progress?.phase === 'waiting-to-go-live' ? await earlierPublishes(deps, run) : [];
      const line = progress ? describeProgress(progress, rate, waitingFor) : '';
      if (line && line !== last) deps.report(line, { event: 'progress', ...run, ...progress, bytesPerSecond: Math.round(rate) || undefined });
      last = line || last;
    }
  })();
  try {
    return await resultOrFailure(result, PublishFailedError);
  } finally {
    done = true;
    finished.abort();
    await poll;
  }
}

/**
 * Bytes per second uploaded, counted from the first upload this Job saw, so a rejoined Job reports
 * its own speed rather than the run's. 0 until it can say (no upload seen yet, no time passed, or
 * no progress this poll).
 */
export class UploadRate {
  private since: { at: number; bytes: number } | undefined;

  observe(progress: PublishProgress | undefined, now: number): number {
    if (!progress) return 0;
    if (progress.phase === 'uploading' && !this.since) this.since = { at: now, bytes: progress.bytes };
    const seconds = this.since ? (now - this.since.at) / 1000 : 0;
    return this.since && seconds > 0 ? (progress.bytes - this.since.bytes) / seconds : 0;
  }
}

/** The publish ran and failed; `message` is the one-line reason. */
export class PublishFailedError extends Error {
  override readonly name = 'PublishFailedError';
}

/**
 * The publishes of this app that took the lock before this one and still hold it: the ones a
 * build waiting to go live waits for. Empty when the lock cannot be asked.
 */
async function earlierPublishes(deps: PopulateDeps, run: RunFields): Promise<string[]> {
  try {
    const state = await deps.client.workflow.getHandle(appLockWorkflowId(deps.bucket, run.app)).query(lockStateQuery);
    const own = state.holders.findIndex((h) => h.owner.workflowId === run.workflowId && h.mode === 'shared');
    const before = own >= 0 ? state.holders.slice(0, own) : state.holders;
    return [...new Set(before.filter((h) => h.owner.workflowId !== run.workflowId).map((h) => h.owner.workflowId))];
  } catch {
    return [];
  }
}

/**
 * One progress line; `bytesPerSecond` adds the rate and the time left while uploading,
 * `waitingFor` the runs a build waiting to go live waits for.
 */
export function describeProgress(p: PublishProgress, bytesPerSecond = 0, waitingFor: readonly string[] = []): string {
  switch (p.phase) {
    case 'waiting-for-prune':
      return 'waiting for a running prune of this app to finish';
    case 'pruning':
      return 'pruning old builds of this app';
    case 'staging':
      return 'staging: hashing the build and recording its file list';
    case 'uploading':
      return (
        `uploading: ${p.files}/${p.fileTotal} files, ${formatBytes(p.bytes)}/${formatBytes(p.byteTotal)}, batch ${p.batches}/${p.batchTotal}` +
        (bytesPerSecond > 0 ? `, ${formatBytes(bytesPerSecond)}/s, about ${Math.ceil((p.byteTotal - p.bytes) / bytesPerSecond)}s left` : '') +
        (p.copied ? `, ${p.copied} copied in the bucket` : '') +
        (p.skipped ? ` (${p.skipped} unchanged files skipped)` : '')
      );
    case 'checking-references':
      return 'checking that every file fed-mods.json and index.html load is in the build or the bucket';
    case 'entry-copies':
      return 'keeping copies of the entry files for rollbacks';
    case 'waiting-to-go-live':
      return waitingFor.length > 0
        ? `every new file is up; waiting to go live until ${waitingFor.join(', ')} (started earlier) has gone live or failed`
        : 'every new file is up; waiting for the go-live turn';
    case 'going-live':
      return `going live: writing ${p.fileTotal - p.files} changed and entry files, fed-mods.json last, then the manifest`;
    case 'restoring':
      return 'going live failed; putting the previous build back';
    case 'entry-point':
      return 'uploading fed-mods.json (every other file of the build is in place)';
    case 'manifest':
      return 'writing the manifest';
    default:
      return '';
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

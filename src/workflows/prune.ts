import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  continueAsNew,
  defineQuery,
  executeChild,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { Duration, RetryPolicy } from '@temporalio/common';
import type { PruneActivities } from '../activities/prune';
import type { AppPruneResult, PruneAllResult, PruneCounts, PruneInput, PruneOptions } from '../prune/types';
import { acquireAppLock } from './app-lock';
import { describeFailure, PERMANENT, rootMessage } from './failures';
import { attemptsOf, lanes } from './helpers';
import { retentionRule } from './retention-rule';

export interface PruneAllProgress {
  apps: number;
  done: number;
  running: string[];
}

export const pruneProgressQuery = defineQuery<PruneAllProgress>('progress');

/** Decisions and keys listed per app in results; the rest are only counted. */
const LIST_LIMIT = 200;
/** Apps pruned by one run of a prune-all before it continues as new, to keep its history short. */
const APPS_PER_RUN = 500;

/**
 * Applies the retention rule to one app (`app`) or to every app in the bucket (`all`, each
 * app a child workflow so one app's failure or size never touches another's history).
 */
export async function PruneWorkflow(input: PruneInput, carried?: PruneAllCarry): Promise<AppPruneResult | PruneAllResult> {
  return input.all ? pruneAll(input, input.appParallelism, carried) : pruneApp(input, input.app);
}

async function pruneApp(input: PruneOptions, app: string): Promise<AppPruneResult> {
  const retry: RetryPolicy = { initialInterval: '1s', maximumInterval: '30s', ...attemptsOf(input.maxAttempts), nonRetryableErrorTypes: PERMANENT };
  // Planning holds the app's exclusive lock: it heartbeats on progress, so a lost worker costs
  // the app's publishes a heartbeat timeout, not the 30 minutes a large app may take to plan.
  const planning = proxyActivities<PruneActivities>({ startToCloseTimeout: '30m', heartbeatTimeout: input.heartbeatTimeout, retry, ...placement(input) });
  const deleting = proxyActivities<PruneActivities>({ startToCloseTimeout: '2h', heartbeatTimeout: input.heartbeatTimeout, retry, ...placement(input) });
  // One delete of one key, without heartbeats.
  const discarding = proxyActivities<PruneActivities>({ startToCloseTimeout: '2m', retry, ...placement(input) });

  const lock = await acquireAppLock(input.bucket, app, 'exclusive', input.lockWaitSeconds * 1000);
  if (!lock) return finish({ app, status: 'busy', ...ZERO, deleteCount: 0, manifests: [], recentlyWritten: 0 });
  try {
    const plan = await placed(input, `planning the prune of ${app}`, () =>
      planning.planAppPrune({
        bucket: input.bucket,
        app,
        rule: retentionRule(input),
        now: Math.floor(Date.now() / 1000),
        planId: workflowInfo().runId,
        dryRun: input.dryRun,
        listLimit: LIST_LIMIT,
        collectOrphans: input.collectOrphans ?? true,
      }),
    );
    const { planKey, ...summary } = plan;
    if (input.dryRun) return finish({ app, status: 'dry-run', ...summary });
    if (input.maxDelete !== undefined && plan.deleteCount > input.maxDelete) {
      if (planKey) await placed(input, `discarding the plan of ${app}`, () => discarding.discardPrunePlan({ bucket: input.bucket, planKey }));
      throw ApplicationFailure.create({
        type: 'MaxDeleteExceeded',
        message: `pruning ${app} would delete ${plan.deleteCount} objects, more than --max-delete ${input.maxDelete}; nothing was deleted (run with --dry-run to see them)`,
        nonRetryable: true,
      });
    }
    if (planKey) await placed(input, `deleting ${plan.deleteCount} objects of ${app}`, () => deleting.deletePlanned({ bucket: input.bucket, planKey }));
    return finish({ app, status: 'pruned', ...summary });
  } finally {
    await lock.release();
  }
}

/**
 * Where the activities run: the workflow's own queue unless the input names one (a Job's, whose
 * worker holds the store it was given). A queue nobody polls fails the prune after the
 * schedule-to-start timeout rather than leaving it, and the app's lock, waiting.
 */
function placement(input: PruneOptions): { taskQueue?: string; scheduleToStartTimeout?: Duration } {
  if (input.activityTaskQueue === undefined) return {};
  return {
    taskQueue: input.activityTaskQueue,
    ...(input.activityScheduleToStartTimeout !== undefined ? { scheduleToStartTimeout: input.activityScheduleToStartTimeout } : {}),
  };
}

/** describeFailure, saying what a schedule-to-start timeout on the given queue means. */
function placed<T>(input: PruneOptions, step: string, fn: () => Promise<T>): Promise<T> {
  return describeFailure(step, async () => {
    try {
      return await fn();
    } catch (err) {
      if (input.activityTaskQueue !== undefined && err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START') {
        throw ApplicationFailure.create({
          type: 'WorkerGone',
          message: `${step} failed: no worker took it from task queue ${input.activityTaskQueue} within ${String(input.activityScheduleToStartTimeout)} (has the Job that polls that queue exited?); nothing more was deleted`,
          nonRetryable: true,
        });
      }
      throw err;
    }
  });
}

function finish<T extends AppPruneResult | PruneAllResult>(result: T): T {
  // The memo shows the counts in the Temporal UI's run list without opening the result.
  const { manifests: _m, objects: _o, ...counts } = result as AppPruneResult;
  upsertMemo({ result: counts });
  return result;
}

const ZERO: Required<PruneCounts> = { manifestsKept: 0, manifestsDeleted: 0, objectsDeleted: 0, orphansDeleted: 0, objectsKept: 0, recordsDeleted: 0, conflicts: 0 };

/** What a prune-all hands to its next run when it continues as new. */
export interface PruneAllCarry {
  after: string;
  result: PruneAllResult;
}

async function pruneAll(input: PruneOptions, parallelism: number, carried?: PruneAllCarry): Promise<PruneAllResult> {
  const acts = proxyActivities<PruneActivities>({
    startToCloseTimeout: '10m',
    retry: { maximumInterval: '30s', ...attemptsOf(input.maxAttempts), nonRetryableErrorTypes: PERMANENT },
    ...placement(input),
  });
  const listed = await placed(input, 'listing the apps in the bucket', () => acts.listApps({ bucket: input.bucket }));
  const pending = listed.apps.filter((app) => carried === undefined || app > carried.after);
  const thisRun = pending.slice(0, APPS_PER_RUN);
  const result: PruneAllResult = carried?.result ?? { apps: 0, pruned: 0, busy: [], failed: [], ignored: listed.ignored, totals: { ...ZERO } };
  const progress: PruneAllProgress = { apps: result.apps + pending.length, done: result.apps, running: [] };
  setHandler(pruneProgressQuery, () => progress);

  await lanes(parallelism, thisRun.length, async (i) => {
    const app = thisRun[i];
    progress.running.push(app);
    try {
      const r = await executeChild(PruneWorkflow, {
        workflowId: `${workflowInfo().workflowId}/${app}`,
        args: [{ ...input, app, all: undefined }],
      });
      record(r as AppPruneResult);
    } catch (err) {
      if (!(err instanceof ChildWorkflowFailure)) throw err;
      result.failed.push({ app, reason: rootMessage(err) });
    } finally {
      result.apps++;
      progress.done++;
      progress.running.splice(progress.running.indexOf(app), 1);
    }
  });

  if (pending.length > thisRun.length) {
    await continueAsNew<typeof PruneWorkflow>({ ...input, all: true, appParallelism: parallelism }, { after: thisRun[thisRun.length - 1], result });
  }
  finish(result);
  if (result.failed.length > 0) {
    // Every other app was pruned; failing the run makes the broken ones visible on the Schedule.
    throw ApplicationFailure.create({
      type: 'PruneIncomplete',
      message: `${result.failed.length} of ${result.apps} apps could not be pruned: ${result.failed.map((f) => `${f.app} (${f.reason})`).join('; ')}`,
      nonRetryable: true,
    });
  }
  return result;

  function record(r: AppPruneResult): void {
    if (r.status === 'busy') result.busy.push(r.app);
    else result.pruned++;
    // Results and carried totals of older versions lack the newer counts.
    for (const k of Object.keys(ZERO) as Array<keyof PruneCounts>) result.totals[k] = (result.totals[k] ?? 0) + (r[k] ?? 0);
  }
}

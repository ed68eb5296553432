import {
  ContinueAsNew,
  isCancellation,
  metricMeter,
  TemporalFailure,
  workflowInfo,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import type { AuditResult } from '../audit/types';
import type { AppPruneResult, PruneInput } from '../prune/types';
import type { PublishInput, PublishResult } from '../workflows/types';
import { METRICS } from './metric-names';

/**
 * Records pushcache's publish and prune metrics when a run ends, from the workflow's input and
 * result: every run ends in workflow code, on a shared worker, whichever Job or activity failed.
 * Runs inside the workflow sandbox, so it imports only the workflow API and types. The SDK's
 * workflow meter records nothing while a run replays, so a run is counted once (twice only if a
 * worker dies between recording and reporting its last workflow task).
 */
export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new RunMetricsInterceptor()] });

type Outcome = 'failed' | 'cancelled';

interface RunRecorder {
  completed(result: unknown): void;
  ended(outcome: Outcome): void;
}

class RunMetricsInterceptor implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const recorder = recorderFor(workflowInfo().workflowType, input.args[0]);
    if (!recorder) return next(input);
    try {
      const result = await next(input);
      recorder.completed(result);
      return result;
    } catch (err) {
      const outcome = outcomeOf(err);
      if (outcome) recorder.ended(outcome);
      throw err;
    }
  }
}

/** How a thrown error ends the run; undefined when the run goes on. */
function outcomeOf(err: unknown): Outcome | undefined {
  if (err instanceof ContinueAsNew) return undefined;
  if (isCancellation(err)) return 'cancelled';
  // Any other error fails only the workflow task, which Temporal retries.
  return err instanceof TemporalFailure ? 'failed' : undefined;
}

function recorderFor(workflowType: string, input: unknown): RunRecorder | undefined {
  if (workflowType === 'PublishWorkflow') return publishRecorder((input as PublishInput).app);
  // A prune of every app is counted through its children, one prune per app.
  if (workflowType === 'PruneWorkflow' && !(input as PruneInput).all) return pruneRecorder((input as PruneInput).app!);
  if (workflowType === 'AuditWorkflow') return auditRecorder;
  return undefined;
}

/** Seconds since the run started, on the workflow clock (the time of the current workflow task). */
function runSeconds(): number {
  return Math.max(0, (Date.now() - workflowInfo().runStartTime.getTime()) / 1000);
}

function counter(metric: { name: string; description: string }) {
  return metricMeter.createCounter(metric.name, undefined, metric.description);
}

function durationHistogram(metric: { name: string; unit: string; description: string }) {
  return metricMeter.createHistogram(metric.name, 'float', metric.unit, metric.description);
}

function publishRecorder(app: string): RunRecorder {
  const end = (outcome: 'completed' | Outcome) => {
    counter(METRICS.publishes).add(1, { app, outcome });
    durationHistogram(METRICS.publishDuration).record(runSeconds(), { outcome });
  };
  return {
    completed(result) {
      const r = result as PublishResult;
      end('completed');
      counter(METRICS.publishedFiles).add(r.files, { app });
      counter(METRICS.publishedBytes).add(r.bytes, { app });
      counter(METRICS.skippedFiles).add(r.skipped, { app });
      if (r.copied) counter(METRICS.copiedFiles).add(r.copied, { app });
    },
    ended: end,
  };
}

function pruneRecorder(app: string): RunRecorder {
  const end = (status: AppPruneResult['status'] | Outcome) => {
    counter(METRICS.prunes).add(1, { app, status });
    durationHistogram(METRICS.pruneDuration).record(runSeconds(), { status });
  };
  return {
    completed(result) {
      const r = result as AppPruneResult;
      end(r.status);
      // A dry run's counts are what it would have deleted.
      if (r.status !== 'pruned') return;
      counter(METRICS.prunedManifests).add(r.manifestsDeleted, { app });
      counter(METRICS.prunedObjects).add(r.objectsDeleted, { app, reason: 'aged-out' });
      counter(METRICS.prunedObjects).add(r.orphansDeleted, { app, reason: 'orphan' });
    },
    ended: end,
  };
}

/** Per app of the audit's result; the problem counters are added to only when there is a problem, so a clean bucket's series stay absent. */
const auditRecorder: RunRecorder = {
  completed(result) {
    const r = result as AuditResult;
    const problems = new Map(r.problems.map((p) => [p.app, p]));
    const failed = new Set(r.failed.map((f) => f.app));
    for (const app of r.apps) {
      const p = problems.get(app);
      counter(METRICS.audits).add(1, { app, status: failed.has(app) ? 'failed' : p ? 'problems' : 'ok' });
      if (!p) continue;
      if (p.missingCount) counter(METRICS.auditMissing).add(p.missingCount, { app });
      if (p.mismatchedCount) counter(METRICS.auditMismatched).add(p.mismatchedCount, { app });
      if (p.unreadableCount) counter(METRICS.auditUnreadable).add(p.unreadableCount, { app });
      if (p.liveProblem) counter(METRICS.auditLiveMismatches).add(1, { app });
    }
  },
  ended() {
    // A run that failed as a whole audited nothing it could report per app.
  },
};

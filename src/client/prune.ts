import type { PruneSettings, PruneTarget } from '../config';
import type { AppPruneResult, PruneAllResult, PruneInput } from '../prune/types';
import type { ReportEvent } from '../telemetry/log';
import type { PruneWorkflow } from '../workflows/prune';
import { resultOrFailure, runLink, startOrJoin, type RunDeps } from './runs';
import { pruneAllWorkflowIdPrefix, pruneWorkflowIdPrefix } from './workflow-id';

export type PruneDeps = RunDeps;

/** The prune ran and failed (a corrupt manifest, the max-delete guard); `message` is the reason. */
export class PruneFailedError extends Error {
  override readonly name = 'PruneFailedError';
}

/** The workflow input of a prune: what the CLI, a publish and the Schedule all start. */
export function pruneInput(settings: PruneSettings, target: PruneTarget, bucket: string): PruneInput {
  const options = {
    bucket,
    timeout: settings.timeout,
    minAssetRecords: settings.minAssetRecords,
    orphanGrace: settings.orphanGrace,
    maxDelete: settings.maxDelete,
    dryRun: settings.dryRun,
    lockWaitSeconds: settings.lockWaitSeconds,
    heartbeatTimeout: settings.heartbeatTimeout,
    maxAttempts: settings.maxAttempts,
  };
  return 'app' in target ? { ...options, app: target.app } : { ...options, all: true, appParallelism: settings.appParallelism };
}

/** Starts a PruneWorkflow, waits for it and reports what it did (or would do). */
export async function prune(settings: PruneSettings, target: PruneTarget, deps: PruneDeps): Promise<AppPruneResult | PruneAllResult> {
  const stamp = (deps.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
  const workflowId =
    'app' in target ? `${pruneWorkflowIdPrefix(deps.bucket, target.app, settings.dryRun)}${stamp}` : `${pruneAllWorkflowIdPrefix(deps.bucket, settings.dryRun)}/${stamp}`;
  const handle = await startOrJoin<typeof PruneWorkflow>(deps.client, 'PruneWorkflow', {
    workflowId,
    taskQueue: deps.temporal.taskQueue,
    args: [pruneInput(settings, target, deps.bucket)],
    memo: 'app' in target ? { app: target.app } : { bucket: deps.bucket },
  });
  const run = { ...('app' in target ? { app: target.app } : { bucket: deps.bucket }), workflowId, runId: handle.firstExecutionRunId, dryRun: settings.dryRun };
  deps.report(`started ${settings.dryRun ? 'dry run of a prune' : 'prune'} of ${'app' in target ? target.app : `every app in ${deps.bucket}`} as ${workflowId}`, {
    event: 'prune-started',
    ...run,
  });
  runLink(deps.temporal, deps.report, run);
  const result = await resultOrFailure(handle.result(), PruneFailedError);
  for (const [line, event] of 'apps' in result ? describeAll(result, settings.dryRun) : describeApp(result)) deps.report(line, { ...event, ...run });
  return result;
}

/** A line of a prune's report and the event it stands for. */
type ReportLine = [line: string, event: ReportEvent];

export function describeApp(r: AppPruneResult): ReportLine[] {
  if (r.status === 'busy') {
    return [[`${r.app}: skipped, publishes of it were running for the whole lock wait; the next prune catches up`, { event: 'prune-skipped', app: r.app, status: r.status }]];
  }
  const dry = r.status === 'dry-run';
  const lines = r.manifests.map((m): ReportLine => [
    `${m.action === 'delete' ? (dry ? 'would delete' : 'deleted') : 'kept'} ${m.key}: ${m.reason}`,
    { event: 'prune-decision', app: r.app, key: m.key, action: m.action, reason: m.reason },
  ]);
  for (const o of r.objects ?? []) lines.push([`would delete ${o.key}: ${REASONS[o.reason]}`, { event: 'prune-decision', app: r.app, key: o.key, action: 'delete', reason: o.reason }]);
  if (r.conflicts) {
    const keys = r.conflictKeys ?? [];
    lines.push([
      `${r.app}: kept ${r.conflicts} objects that no kept build names but the live fed-mods.json or index.html loads: ${keys.join(', ')}` +
        (r.conflicts > keys.length ? ` and ${r.conflicts - keys.length} more` : '') +
        '; the live build is not one a retained manifest describes: republish it, or roll back to a build that has one',
      { event: 'prune-conflicts', level: 'warn', app: r.app, conflicts: r.conflicts, keys },
    ]);
  }
  if (r.referenceProblems?.length) {
    lines.push([
      `${r.app}: could not read every reference of the live entry files (what they do name was kept): ${r.referenceProblems.join('; ')}`,
      { event: 'prune-reference-problems', level: 'warn', app: r.app, problems: r.referenceProblems },
    ]);
  }
  const listed = (r.objects ?? []).length;
  const total = r.objectsDeleted + r.orphansDeleted + r.recordsDeleted;
  if (dry && listed < total) lines.push([`... and ${total - listed} more objects`, { event: 'prune-decisions-not-listed', app: r.app, objects: total - listed }]);
  const verb = dry ? 'would delete' : 'deleted';
  lines.push([
    `${r.app}: ${verb} ${r.manifestsDeleted} of ${r.manifestsDeleted + r.manifestsKept} builds, ` +
      `${r.objectsDeleted} objects of those builds and ${r.orphansDeleted} unreferenced objects; kept ${r.objectsKept} objects` +
      (r.recentlyWritten ? ` (${r.recentlyWritten} left because they were written within the grace period)` : '') +
      (r.conflicts ? ` (${r.conflicts} because the live entry files load them)` : '') +
      (dry ? '; nothing was deleted (dry run)' : ''),
    {
      event: 'pruned',
      app: r.app,
      status: r.status,
      manifestsDeleted: r.manifestsDeleted,
      manifestsKept: r.manifestsKept,
      objectsDeleted: r.objectsDeleted,
      orphansDeleted: r.orphansDeleted,
      recordsDeleted: r.recordsDeleted,
      objectsKept: r.objectsKept,
      recentlyWritten: r.recentlyWritten,
      conflicts: r.conflicts ?? 0,
      // Keys removed from the bucket, manifests and pushcache's records included.
      deleted: dry ? 0 : r.deleteCount,
    },
  ]);
  return lines;
}

const REASONS = {
  'aged-out': 'named only by builds that are deleted',
  orphan: 'named by no build and no publish in progress',
  'stale-record': "pushcache's record of a publish or prune that never finished",
} as const;

function describeAll(r: PruneAllResult, dryRun: boolean): ReportLine[] {
  const t = r.totals;
  const lines: ReportLine[] = [
    [
      `${dryRun ? 'would prune' : 'pruned'} ${r.pruned} of ${r.apps} apps: ${dryRun ? 'would delete' : 'deleted'} ${t.manifestsDeleted} builds, ` +
        `${t.objectsDeleted} objects of those builds and ${t.orphansDeleted} unreferenced objects; kept ${t.manifestsKept} builds and ${t.objectsKept} objects` +
        (t.conflicts ? ` (${t.conflicts} because live entry files load them; prune each app with --prefix to see which)` : '') +
        (dryRun ? '; nothing was deleted (dry run; use --prefix APP --dry-run to list the keys)' : ''),
      { event: 'pruned-all', apps: r.apps, pruned: r.pruned, ...t },
    ],
  ];
  if (r.busy.length) lines.push([`skipped while publishes were running: ${r.busy.join(', ')}`, { event: 'prune-skipped', apps: r.busy, status: 'busy' }]);
  if (r.ignored.length) lines.push([`ignored prefixes that are not app names: ${r.ignored.join(', ')}`, { event: 'prefixes-ignored', prefixes: r.ignored }]);
  for (const f of r.failed) lines.push([`failed ${f.app}: ${f.reason}`, { event: 'prune-app-failed', app: f.app, reason: f.reason }]);
  return lines;
}

import type { PruneTarget } from '../config';
import type { AppAuditSummary } from '../audit/audit';
import type { AuditInput, AuditResult } from '../audit/types';
import { isEntryFile } from '../contract/keys';
import type { AuditWorkflow } from '../workflows/audit';
import { rollback } from './rollback';
import { resultOrFailure, runLink, startOrJoin, type RunDeps } from './runs';

export type AuditDeps = RunDeps;

/** The audit found problems (or could not audit an app): the command exits non-zero. */
export class AuditProblemsError extends Error {
  override readonly name = 'AuditProblemsError';
  constructor(
    message: string,
    readonly result: AuditResult,
  ) {
    super(message);
  }
}

export interface AuditOptions {
  /** Put back live entry files from the newest build's copies when they are all that is wrong. */
  repair: boolean;
  appParallelism: number;
  maxAttempts: number;
}

/** The workflow ID prefix of an app's audits, and of audits of every app: `status` finds the latest by it. */
export const auditWorkflowIdPrefix = (target: PruneTarget, bucket: string) => ('app' in target ? `audit/${bucket}/${target.app}/` : `audit-all/${bucket}/`);

export function auditInput(target: PruneTarget, bucket: string, options: Pick<AuditOptions, 'appParallelism' | 'maxAttempts'>): AuditInput {
  return { bucket, ...('app' in target ? { app: target.app } : { all: true }), appParallelism: options.appParallelism, maxAttempts: options.maxAttempts };
}

/** Runs an AuditWorkflow, reports each problem, repairs what a rollback's restore can, and fails when anything is left wrong. */
export async function audit(target: PruneTarget, options: AuditOptions, deps: AuditDeps): Promise<AuditResult> {
  const stamp = (deps.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
  const workflowId = `${auditWorkflowIdPrefix(target, deps.bucket)}${stamp}`;
  const handle = await startOrJoin<typeof AuditWorkflow>(deps.client, 'AuditWorkflow', {
    workflowId,
    taskQueue: deps.temporal.taskQueue,
    args: [auditInput(target, deps.bucket, options)],
    memo: 'app' in target ? { app: target.app } : { bucket: deps.bucket },
  });
  const run = { workflowId, runId: handle.firstExecutionRunId };
  deps.report(`started audit of ${'app' in target ? target.app : `every app in ${deps.bucket}`} as ${workflowId}`, { event: 'audit-started', ...run });
  runLink(deps.temporal, deps.report, 'app' in target ? { ...run, app: target.app } : run);
  const result: AuditResult = await resultOrFailure(handle.result(), Error);
  for (const p of result.problems) for (const line of describeProblems(p)) deps.report(line, { event: 'audit-problem', level: 'warn', app: p.app });
  for (const f of result.failed) deps.report(`${f.app}: could not be audited: ${f.reason}`, { event: 'audit-failed', level: 'warn', app: f.app });

  let unrepaired = result.problems.length;
  if (options.repair) {
    for (const p of result.problems) {
      const how = repairPlan(p);
      if (how.kind === 'republish') {
        deps.report(`${p.app}: not repairable from copies (${how.why}); publish ${how.build} again`, { event: 'audit-republish', level: 'warn', app: p.app, build: how.build });
        continue;
      }
      // The restore a rollback does, to the newest build itself: entry files from its copies, fed-mods.json last.
      await rollback({ app: p.app, to: { timestamp: how.timestamp }, maxAttempts: options.maxAttempts }, deps);
      unrepaired--;
    }
  } else {
    for (const p of result.problems) {
      const how = repairPlan(p);
      deps.report(`${p.app}: ${how.kind === 'restore' ? 'pushcache audit --repair can put the entry files back from the copies of ' + how.build : `publish ${how.build} again (${how.why})`}`, {
        event: 'audit-advice',
        app: p.app,
      });
    }
  }
  const summary =
    `audited ${result.apps.length} app${result.apps.length === 1 ? '' : 's'}: ${result.ok} ok` +
    (result.problems.length ? `, ${result.problems.length} with problems (${result.missing} missing objects, ${result.mismatched} mismatched, ${result.unreadable} unreadable manifests, ${result.liveMismatches} live fed-mods.json not the newest build's)` : '') +
    (result.failed.length ? `, ${result.failed.length} not audited` : '');
  if (unrepaired > 0 || result.failed.length > 0) throw new AuditProblemsError(summary, result);
  deps.report(summary, { event: 'audited', ...run, apps: result.apps.length, ok: result.ok, repaired: result.problems.length - unrepaired });
  return result;
}

export function describeProblems(p: AppAuditSummary): string[] {
  const more = (shown: number, total: number) => (total > shown ? ` (and ${total - shown} more)` : '');
  return [
    ...p.missing.map((m) => `${p.app}: missing data/${p.app}/${m.path} (named by ${m.build})`),
    ...(p.missingCount > p.missing.length ? [`${p.app}: ${p.missingCount - p.missing.length} more missing objects`] : []),
    ...p.mismatched.map((m) => `${p.app}: data/${p.app}/${m.path} has ${m.field} ${m.found}, ${m.build} recorded ${m.expected}`),
    ...(p.mismatchedCount > p.mismatched.length ? [`${p.app}: ${p.mismatchedCount - p.mismatched.length} more mismatched objects`] : []),
    ...p.unreadable.map((u) => `${p.app}: manifest ${u.key} cannot be read: ${u.problem}${more(p.unreadable.length, p.unreadableCount)}`),
    ...(p.liveProblem ? [`${p.app}: ${p.liveProblem}`] : []),
    ...(p.underWay ? [`${p.app}: a publish going live or a prune of ${p.app} was under way during the audit; audit it again once it is done`] : []),
  ];
}

type RepairPlan = { kind: 'restore'; timestamp: number; build: string } | { kind: 'republish'; build: string; why: string };

/** Entry files alone wrong (and all of them listed), and the newest build has copies: a restore fixes it. Otherwise a republish. */
export function repairPlan(p: AppAuditSummary): RepairPlan {
  const n = p.newest;
  const build = n ? `${n.key}${n.image ? ` (${n.image})` : ''}` : `the app's newest build`;
  if (!n) return { kind: 'republish', build, why: 'no readable manifest' };
  const damaged = [...p.missing, ...p.mismatched].filter((o) => o.build === n.key);
  const older = [...p.missing, ...p.mismatched].filter((o) => o.build !== n.key);
  const allListed = p.missing.length === p.missingCount && p.mismatched.length === p.mismatchedCount;
  if (p.unreadableCount > 0) return { kind: 'republish', build, why: 'unreadable manifests' };
  if (older.length > 0 || !allListed) return { kind: 'republish', build, why: 'files other than the newest build\'s entry files are damaged' };
  if (damaged.some((o) => !isEntryFile(o.path))) return { kind: 'republish', build, why: 'files other than entry files are missing or damaged' };
  if (!n.publishId) return { kind: 'republish', build, why: 'the build has no copies of its entry files (published by valpop)' };
  return { kind: 'restore', timestamp: n.timestamp, build };
}

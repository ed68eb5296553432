import type { Client } from '@temporalio/client';
import type { AuditResult } from '../audit/types';
import { oneLine } from '../errors';
import { auditWorkflowIdPrefix } from './audit';

/** The outcome, for one app, of the latest audit that covered it (issue 17), as `status` shows it. */
export interface LastAudit {
  workflowId: string;
  runId: string;
  /** When that audit ended, ISO 8601. */
  at: string;
  status: 'ok' | 'problems' | 'failed' | 'unknown';
  missing?: number;
  mismatched?: number;
  unreadable?: number;
  /** The first keys found, as the audit kept them. */
  keys?: string[];
  live?: string;
  reason?: string;
}

/**
 * Finds the newest completed AuditWorkflow of the app, or of its whole bucket (a scheduled one),
 * through Temporal's visibility, and reads the app's part of its result. Undefined when no audit
 * covered the app yet (or visibility cannot be asked).
 */
export async function lastAudit(client: Client, bucket: string, app: string): Promise<LastAudit | undefined> {
  const query = `WorkflowType = 'AuditWorkflow' AND ExecutionStatus = 'Completed' AND (WorkflowId STARTS_WITH '${auditWorkflowIdPrefix({ app }, bucket)}' OR WorkflowId STARTS_WITH '${auditWorkflowIdPrefix({ all: true }, bucket)}')`;
  let newest: { workflowId: string; runId: string; closeTime?: Date } | undefined;
  try {
    for await (const w of client.workflow.list({ query })) {
      if (!newest || (w.closeTime && newest.closeTime && w.closeTime > newest.closeTime)) newest = { workflowId: w.workflowId, runId: w.runId, closeTime: w.closeTime };
    }
  } catch {
    return undefined;
  }
  if (!newest) return undefined;
  const base = { workflowId: newest.workflowId, runId: newest.runId, at: newest.closeTime?.toISOString() ?? '' };
  try {
    const r = (await client.workflow.getHandle(newest.workflowId, newest.runId).result()) as AuditResult;
    if (r.bucket !== bucket) return undefined;
    const failed = r.failed.find((f) => f.app === app);
    if (failed) return { ...base, status: 'failed', reason: failed.reason };
    const p = r.problems.find((x) => x.app === app);
    if (!p) return { ...base, status: r.apps.includes(app) ? 'ok' : 'unknown' };
    return {
      ...base,
      status: 'problems',
      missing: p.missingCount,
      mismatched: p.mismatchedCount,
      unreadable: p.unreadableCount,
      keys: [...p.missing.map((m) => m.path), ...p.mismatched.map((m) => m.path), ...p.unreadable.map((u) => u.key)].slice(0, 5),
      ...(p.liveProblem ? { live: p.liveProblem } : {}),
    };
  } catch (err) {
    return { ...base, status: 'unknown', reason: oneLine(err) };
  }
}

/** One line of `status` text. */
export function describeLastAudit(a: LastAudit | undefined): string {
  if (!a) return '  last audit: none yet (pushcache audit, or the audit Schedule)';
  const when = `${a.at} (${a.workflowId})`;
  if (a.status === 'ok') return `  last audit: ok at ${when}`;
  if (a.status === 'problems') {
    return `  last audit: PROBLEMS at ${when}: ${a.missing} missing, ${a.mismatched} mismatched, ${a.unreadable} unreadable manifests` + (a.keys?.length ? `: ${a.keys.join(', ')}` : '') + (a.live ? `; ${a.live}` : '');
  }
  return `  last audit: ${a.status} at ${when}${a.reason ? `: ${a.reason}` : ''}`;
}

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

/** A completed audit run, as visibility lists it. */
interface AuditRun {
  workflowId: string;
  runId: string;
  closeTime?: Date;
}

/**
 * The outcome of the latest audit that covered each app: the newest completed AuditWorkflow of
 * the app, or of its whole bucket (`audit --all`, the Schedule), found through Temporal's
 * visibility. One per `status --all` or status page read: the bucket's audits are looked up, and
 * the newest one's result (every app's findings) fetched, once for all its apps rather than once
 * per app; each app adds one query for its own audits.
 */
export class LastAudits {
  private bucketWide?: Promise<{ run: AuditRun; result: Promise<AuditResult> } | undefined>;

  constructor(
    private readonly client: Client,
    private readonly bucket: string,
  ) {}

  /** Undefined when no audit covered the app yet (or visibility cannot be asked). */
  async of(app: string): Promise<LastAudit | undefined> {
    this.bucketWide ??= this.newest(auditWorkflowIdPrefix({ all: true }, this.bucket)).then((run) => {
      if (!run) return undefined;
      const result = this.resultOf(run);
      // Each app's read reports a failure; until one asks, it must not count as unhandled.
      result.catch(() => undefined);
      return { run, result };
    });
    const [own, wide] = await Promise.all([this.newest(auditWorkflowIdPrefix({ app }, this.bucket)), this.bucketWide]);
    if (own && (!wide || newer(own, wide.run))) return this.read(app, own, this.resultOf(own));
    return wide && this.read(app, wide.run, wide.result);
  }

  private async newest(prefix: string): Promise<AuditRun | undefined> {
    const query = `WorkflowType = 'AuditWorkflow' AND ExecutionStatus = 'Completed' AND WorkflowId STARTS_WITH '${prefix}'`;
    let newest: AuditRun | undefined;
    try {
      for await (const w of this.client.workflow.list({ query })) {
        const run = { workflowId: w.workflowId, runId: w.runId, closeTime: w.closeTime };
        if (!newest || newer(run, newest)) newest = run;
      }
    } catch {
      return undefined;
    }
    return newest;
  }

  private resultOf(run: AuditRun): Promise<AuditResult> {
    return this.client.workflow.getHandle(run.workflowId, run.runId).result() as Promise<AuditResult>;
  }

  private async read(app: string, run: AuditRun, result: Promise<AuditResult>): Promise<LastAudit | undefined> {
    const base = { workflowId: run.workflowId, runId: run.runId, at: run.closeTime?.toISOString() ?? '' };
    let r: AuditResult;
    try {
      r = await result;
    } catch (err) {
      return { ...base, status: 'unknown', reason: oneLine(err) };
    }
    if (r.bucket !== this.bucket) return undefined;
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
  }
}

const newer = (a: AuditRun, b: AuditRun) => a.closeTime !== undefined && b.closeTime !== undefined && a.closeTime > b.closeTime;

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

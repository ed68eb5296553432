import type { Client } from '@temporalio/client';
import type { TemporalSettings } from '../config';
import { describeTo } from '../rollback/target';
import type { RollbackSettings, RollbackTo } from '../rollback/types';
import type { Report } from '../telemetry/log';
import type { RollbackWorkflow } from '../workflows/rollback';
import type { RollbackInput, RollbackResult } from '../workflows/types';
import { resultOrFailure, runLink, startOrJoin } from './runs';

/** Defined next to the rollback's other types, which its option parser also uses; re-exported for callers. */
export type { RollbackSettings };

export interface RollbackDeps {
  client: Client;
  bucket: string;
  temporal: TemporalSettings;
  report: Report;
}

/** The rollback ran and failed (no such build, a file a later build replaced); `message` is the reason. */
export class RollbackFailedError extends Error {
  override readonly name = 'RollbackFailedError';
}

/**
 * The workflow ID names the bucket, the app and the target, so running the command again while
 * its rollback is still going attaches to it instead of starting a second one.
 */
export function rollbackWorkflowId(bucket: string, app: string, to: RollbackTo): string {
  return `rollback/${bucket}/${app}/${'timestamp' in to ? to.timestamp : to.image}`;
}

/** Starts (or rejoins) a RollbackWorkflow, waits for it and reports the result in one line. */
export async function rollback(settings: RollbackSettings, deps: RollbackDeps): Promise<RollbackResult> {
  const workflowId = rollbackWorkflowId(deps.bucket, settings.app, settings.to);
  const input: RollbackInput = { app: settings.app, bucket: deps.bucket, to: settings.to, maxAttempts: settings.maxAttempts };
  const options = {
    workflowId,
    taskQueue: deps.temporal.taskQueue,
    args: [input] as [RollbackInput],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    memo: { app: settings.app, to: settings.to },
  } as const;
  // As for a publish: a namespace without the search attribute only loses filtering by app.
  const handle = await startOrJoin<typeof RollbackWorkflow>(deps.client, 'RollbackWorkflow', options, { PushcacheApp: [settings.app] });
  const run = { app: settings.app, workflowId, runId: handle.firstExecutionRunId };
  deps.report(`started rollback of ${settings.app} to ${describeTo(settings.to)} as ${workflowId}`, { event: 'rollback-started', ...run, to: settings.to });
  runLink(deps.temporal, deps.report, run);
  const result: RollbackResult = await resultOrFailure(handle.result(), RollbackFailedError);
  deps.report(describeRollback(result), {
    event: 'rolled-back',
    ...run,
    toTimestamp: result.target.timestamp,
    toImage: result.target.image || undefined,
    files: result.target.files,
    restored: result.restored,
    manifestKey: result.manifestKey,
  });
  return result;
}

export function describeRollback(r: RollbackResult): string {
  const t = r.target;
  return (
    `rolled back ${r.app} to build ${t.timestamp}${t.image ? ` (${t.image})` : ''}: ${r.restored} files restored (its entry files among them), ` +
    `the other ${t.files - r.restored} of its ${t.files} files checked in place, new manifest ${r.manifestKey}`
  );
}

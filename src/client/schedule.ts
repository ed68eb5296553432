import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { ScheduleSettings } from '../config';
import { pruneAllWorkflowIdPrefix } from './workflow-id';
import type { AuditInput } from '../audit/types';
import type { PruneInput } from '../prune/types';
import type { AuditWorkflow } from '../workflows/audit';
import type { PruneWorkflow } from '../workflows/prune';

export interface ScheduleDeps {
  client: Client;
  /** Task queue of the shared worker, where the prunes run. */
  taskQueue: string;
}

/** Creates the prune-all Schedule, or brings an existing one to these settings. */
export async function applySchedule(settings: ScheduleSettings, input: PruneInput, deps: ScheduleDeps): Promise<'created' | 'updated'> {
  const spec: ScheduleSpec = settings.cron ? { cronExpressions: [settings.cron] } : { intervals: [{ every: settings.every! }] };
  const action: ScheduleOptionsStartWorkflowAction<typeof PruneWorkflow> = {
    type: 'startWorkflow',
    workflowType: 'PruneWorkflow',
    // The Schedule appends the scheduled time, so each run has its own ID.
    workflowId: pruneAllWorkflowIdPrefix(input.bucket),
    taskQueue: deps.taskQueue,
    args: [input],
  };
  return upsert(settings.scheduleId, spec, action, input.bucket, deps.client);
}

/** Creates the audit-all Schedule (issue 17), or brings an existing one to these settings. */
export async function applyAuditSchedule(settings: ScheduleSettings, input: AuditInput, deps: ScheduleDeps): Promise<'created' | 'updated'> {
  const spec: ScheduleSpec = settings.cron ? { cronExpressions: [settings.cron] } : { intervals: [{ every: settings.every! }] };
  const action: ScheduleOptionsStartWorkflowAction<typeof AuditWorkflow> = {
    type: 'startWorkflow',
    workflowType: 'AuditWorkflow',
    // The Schedule appends the scheduled time; `status` finds the latest audit of the bucket by `audit-all/<bucket>/`.
    workflowId: `audit-all/${input.bucket}/scheduled`,
    taskQueue: deps.taskQueue,
    args: [input],
  };
  return upsert(settings.scheduleId, spec, action, input.bucket, deps.client);
}

async function upsert<W extends typeof PruneWorkflow | typeof AuditWorkflow>(
  scheduleId: string,
  spec: ScheduleSpec,
  action: ScheduleOptionsStartWorkflowAction<W>,
  bucket: string,
  client: Client,
): Promise<'created' | 'updated'> {
  // A run still going when the next one is due makes the next one pointless, not urgent.
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10m' as const };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies, memo: { bucket } });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies }));
  return 'updated';
}

/** Resolves false when there was no such Schedule. */
export async function deleteSchedule(scheduleId: string, deps: Pick<ScheduleDeps, 'client'>): Promise<boolean> {
  try {
    await deps.client.schedule.getHandle(scheduleId).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

/** Runs the Schedule's prune now, outside its calendar. */
export async function triggerSchedule(scheduleId: string, deps: Pick<ScheduleDeps, 'client'>): Promise<void> {
  await deps.client.schedule.getHandle(scheduleId).trigger(ScheduleOverlapPolicy.SKIP);
}

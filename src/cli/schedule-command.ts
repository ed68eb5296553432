import { Command, Option } from 'commander';
import { resolveAuditScheduleSettings, resolvePruneSettings, resolveScheduleSettings, resolveStorageSettings, resolveTemporalSettings, type RawOptions } from '../config';
import { auditInput } from '../client/audit';
import { pruneInput } from '../client/prune';
import { applyAuditSchedule, applySchedule, deleteSchedule, triggerSchedule } from '../client/schedule';
import { currentLog } from '../telemetry/log';
import { withTemporalClient } from './connect';
import { runCommand } from './run';
import { withPruneOptions, withStorageOptions, withTemporalOptions } from './options';

const withScheduleId = (cmd: Command) =>
  cmd.addOption(new Option('--schedule-id <id>', 'the Schedule to manage (default pushcache-prune/<bucket>)').env('PUSHCACHE_SCHEDULE_ID'));

export function scheduleCommand(): Command {
  const apply = new Command('apply')
    .description('create or update the Temporal Schedule that prunes every app (default hourly; overlapping runs are skipped)')
    .addOption(new Option('--every <interval>', 'run every 90s, 15m, 1h, 1d... (default 1h)').env('PUSHCACHE_PRUNE_EVERY'))
    .addOption(new Option('--cron <expression>', 'run on a cron expression instead, e.g. "17 * * * *"').env('PUSHCACHE_PRUNE_CRON'))
    .addOption(new Option('--audit-every <interval>', 'run the audit of every app every 12h, 1d... (default 1d)').env('PUSHCACHE_AUDIT_EVERY'))
    .addOption(new Option('--audit-cron <expression>', 'run the audit on a cron expression instead').env('PUSHCACHE_AUDIT_CRON'))
    .addOption(new Option('--audit-schedule-id <id>', 'the audit Schedule (default pushcache-audit/<bucket>)').env('PUSHCACHE_AUDIT_SCHEDULE_ID'))
    .addOption(new Option('--no-audit', 'no audit Schedule: delete it if there is one').env('PUSHCACHE_NO_AUDIT'));
  withTemporalOptions(withStorageOptions(withPruneOptions(withScheduleId(apply))));
  apply.action((options: RawOptions) => runCommand(() => runApply(options)));

  const remove = withTemporalOptions(withStorageOptions(withScheduleId(new Command('delete').description('delete the prune Schedule'))));
  remove.action((options: RawOptions) => runCommand(() => runDelete(options)));

  const trigger = withTemporalOptions(withStorageOptions(withScheduleId(new Command('trigger').description("run the Schedule's prune now"))));
  trigger.action((options: RawOptions) => runCommand(() => runTrigger(options)));

  return new Command('schedule').description('manage the Temporal Schedule of prunes').addCommand(apply).addCommand(remove).addCommand(trigger);
}

async function runApply(options: RawOptions): Promise<void> {
  const settings = resolvePruneSettings({ ...options, dryRun: false });
  const bucket = resolveStorageSettings(options).bucket;
  const schedule = resolveScheduleSettings(options, bucket);
  const temporal = resolveTemporalSettings(options);
  const outcome = await withTemporalClient(temporal, (client) =>
    applySchedule(schedule, pruneInput(settings, { all: true }, bucket), { client, taskQueue: temporal.taskQueue }),
  );
  currentLog().info(
    `${outcome} Schedule ${schedule.scheduleId}: prune every app in ${bucket} ${schedule.cron ? `on cron "${schedule.cron}"` : `every ${schedule.every}`}, ` +
      `keeping the newest ${settings.minAssetRecords} builds and anything younger than ${settings.timeout}s`,
    {
      event: `schedule-${outcome}`,
      scheduleId: schedule.scheduleId,
      bucket,
      every: schedule.every,
      cron: schedule.cron,
      minAssetRecords: settings.minAssetRecords,
      timeout: settings.timeout,
    },
  );
  await applyAudit(options, bucket, settings, temporal);
}

/** The audit Schedule beside the prune's: created, updated, or with --no-audit deleted. */
async function applyAudit(options: RawOptions, bucket: string, prune: ReturnType<typeof resolvePruneSettings>, temporal: ReturnType<typeof resolveTemporalSettings>): Promise<void> {
  const audit = resolveAuditScheduleSettings(options, bucket);
  if (!audit) {
    const scheduleId = resolveAuditScheduleSettings({ ...options, audit: true }, bucket)!.scheduleId;
    const existed = await withTemporalClient(temporal, (client) => deleteSchedule(scheduleId, { client }));
    currentLog().info(`--no-audit: ${existed ? 'deleted' : 'there is no'} audit Schedule ${scheduleId}`, { event: 'audit-schedule-deleted', scheduleId, existed });
    return;
  }
  const outcome = await withTemporalClient(temporal, (client) =>
    applyAuditSchedule(audit, auditInput({ all: true }, bucket, prune), { client, taskQueue: temporal.taskQueue }),
  );
  currentLog().info(`${outcome} Schedule ${audit.scheduleId}: audit every app in ${bucket} ${audit.cron ? `on cron "${audit.cron}"` : `every ${audit.every}`}`, {
    event: `audit-schedule-${outcome}`,
    scheduleId: audit.scheduleId,
    bucket,
    every: audit.every,
    cron: audit.cron,
  });
}

async function runDelete(options: RawOptions): Promise<void> {
  const { scheduleId } = resolveScheduleSettings(options, resolveStorageSettings(options).bucket);
  const existed = await withTemporalClient(resolveTemporalSettings(options), (client) => deleteSchedule(scheduleId, { client }));
  currentLog().info(`${existed ? 'deleted' : 'there was no'} Schedule ${scheduleId}`, { event: 'schedule-deleted', scheduleId, existed });
}

async function runTrigger(options: RawOptions): Promise<void> {
  const { scheduleId } = resolveScheduleSettings(options, resolveStorageSettings(options).bucket);
  await withTemporalClient(resolveTemporalSettings(options), (client) => triggerSchedule(scheduleId, { client }));
  currentLog().info(`triggered Schedule ${scheduleId}`, { event: 'schedule-triggered', scheduleId });
}

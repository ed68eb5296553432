import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ScheduleNotFoundError } from '@temporalio/client';
import type { PruneAllResult, PruneInput } from '../../src/prune/types';
import type { AuditResult } from '../../src/audit/types';
import { LastAudits } from '../../src/client/last-audit';
import { runCli } from '../helpers/cli';
import { nowSeconds, seedManifest, seedObjects } from '../helpers/seed';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness, type Harness } from '../helpers/servers';

jest.setTimeout(120_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

describe('pushcache schedule', () => {
  it('creates, updates, triggers and deletes the prune-all Schedule', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await seedManifest(storage, 'web', nowSeconds() - 100, ['old.js']);
    await seedManifest(storage, 'web', nowSeconds() + 100, ['new.js']);
    await seedObjects(storage, 'web', ['old.js', 'new.js']);
    await sleep(2100);
    const env = jobEnv(harness.taskQueue, bucket);
    const scheduleId = `test-prune/${randomUUID()}`;
    const handle = harness.client.schedule.getHandle(scheduleId);

    const created = await runCli(['schedule', 'apply', '--schedule-id', scheduleId, '-n', '1', '-t', '1', '--orphan-grace', '1'], env);
    expect(created.stderr).toBe('');
    expect(created.stdout).toMatch(new RegExp(`^pushcache: created Schedule ${scheduleId}: prune every app in ${bucket} every 1h`));
    let described = await handle.describe();
    expect(described.spec.intervals?.map((i) => i.every)).toEqual([3_600_000]);
    expect(described.policies.overlap).toBe('SKIP');
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'PruneWorkflow', taskQueue: harness.taskQueue });

    // Applying again changes the Schedule in place: no error, no second Schedule.
    const updated = await runCli(['schedule', 'apply', '--schedule-id', scheduleId, '--cron', '17 3 * * *', '-n', '1', '-t', '1', '--orphan-grace', '1'], env);
    expect(updated.stdout).toMatch(/^pushcache: updated Schedule .* on cron "17 3 \* \* \*"/);
    described = await handle.describe();
    expect(described.spec.intervals ?? []).toEqual([]);
    expect(described.spec.calendars).toHaveLength(1);
    const input = (described.action as { args: PruneInput[] }).args[0];
    expect(input).toMatchObject({ all: true, bucket, minAssetRecords: 1, timeout: 1, dryRun: false });

    const triggered = await runCli(['schedule', 'trigger', '--schedule-id', scheduleId], env);
    expect(triggered.code).toBe(0);
    let workflowId: string | undefined;
    while (!workflowId) {
      workflowId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!workflowId) await sleep(100);
    }
    expect(workflowId).toMatch(new RegExp(`^prune-all/${bucket}`));
    const result = (await harness.client.workflow.getHandle(workflowId).result()) as PruneAllResult;
    expect(result).toMatchObject({ apps: 1, pruned: 1, failed: [] });
    expect(result.totals).toMatchObject({ manifestsDeleted: 1, objectsDeleted: 1 });
    expect(await listKeys(storage, 'data/web/')).toEqual(['data/web/new.js']);

    const deleted = await runCli(['schedule', 'delete', '--schedule-id', scheduleId], env);
    expect(deleted.stdout).toMatch(/^pushcache: deleted Schedule/);
    await expect(handle.describe()).rejects.toThrow(ScheduleNotFoundError);
    const again = await runCli(['schedule', 'delete', '--schedule-id', scheduleId], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^pushcache: there was no Schedule/);
  });

  it('creates the audit Schedule beside the prune, daily by default, and --no-audit deletes it', async () => {
    const bucket = await newBucket();
    const env = jobEnv(harness.taskQueue, bucket);
    const scheduleId = `test-prune/${randomUUID()}`;
    const auditId = `test-audit/${randomUUID()}`;
    const created = await runCli(['schedule', 'apply', '--schedule-id', scheduleId, '--audit-schedule-id', auditId], env);
    expect(created.stderr).toBe('');
    expect(created.stdout).toContain(`pushcache: created Schedule ${auditId}: audit every app in ${bucket} every 1d`);
    const handle = harness.client.schedule.getHandle(auditId);
    const described = await handle.describe();
    expect(described.spec.intervals?.map((i) => i.every)).toEqual([86_400_000]);
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'AuditWorkflow', taskQueue: harness.taskQueue });
    expect((described.action as { args: unknown[] }).args[0]).toMatchObject({ all: true, bucket });

    // Its run audits every app, and status finds it: one app with a file gone behind pushcache's back.
    const storage = openTestStorage(bucket);
    await seedManifest(storage, 'web', nowSeconds(), ['fed-mods.json', 'a.js', 'b.js']);
    await seedObjects(storage, 'web', ['fed-mods.json', 'a.js']);
    await handle.trigger();
    let workflowId: string | undefined;
    while (!workflowId) {
      workflowId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!workflowId) await sleep(100);
    }
    expect(workflowId).toMatch(new RegExp(`^audit-all/${bucket}/scheduled-`));
    const result = (await harness.client.workflow.getHandle(workflowId).result()) as AuditResult;
    expect(result).toMatchObject({ apps: ['web'], ok: 0, missing: 1 });
    let last = await new LastAudits(harness.client, bucket).of('web');
    for (let i = 0; i < 100 && last?.workflowId !== workflowId; i++) {
      await sleep(300);
      last = await new LastAudits(harness.client, bucket).of('web');
    }
    expect(last).toMatchObject({ workflowId, status: 'problems', missing: 1, keys: ['b.js'] });

    const changed = await runCli(['schedule', 'apply', '--schedule-id', scheduleId, '--audit-schedule-id', auditId, '--audit-every', '12h'], env);
    expect(changed.stdout).toContain(`updated Schedule ${auditId}: audit every app in ${bucket} every 12h`);
    expect((await handle.describe()).spec.intervals?.map((i) => i.every)).toEqual([43_200_000]);

    const off = await runCli(['schedule', 'apply', '--schedule-id', scheduleId, '--audit-schedule-id', auditId, '--no-audit'], env);
    expect(off.stdout).toContain(`--no-audit: deleted audit Schedule ${auditId}`);
    await expect(handle.describe()).rejects.toThrow(ScheduleNotFoundError);
    await harness.client.schedule.getHandle(scheduleId).delete();
  });

  it('rejects --every and --cron together', async () => {
    const r = await runCli(['schedule', 'apply', '--every', '1h', '--cron', '* * * * *'], jobEnv(harness.taskQueue, 'frontend'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/give --every or --cron, not both/);
  });
});

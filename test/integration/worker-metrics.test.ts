import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { freePort } from '../../src/dev/process';
import type { PublishInput, PublishResult } from '../../src/workflows/types';
import { runCli, startCli, type CliResult } from '../helpers/cli';
import { jobEnv, listKeys, newBucket, openTestStorage, quietRuntime, testServers } from '../helpers/servers';
import { copyExample } from '../helpers/trees';
import { publishWorkflowId } from '../../src/client/workflow-id';

jest.setTimeout(180_000);

const APP = 'metrics-app';
/** A publish whose Job never polls its files queue. */
const ABANDONED_APP = 'metrics-abandoned';

let bucket: string;
let taskQueue: string;
let env: Record<string, string>;
let metricsUrl: string;
let healthUrl: string;
let worker: ReturnType<typeof startCli>;
let connection: NativeConnection;
let client: Client;

beforeAll(async () => {
  bucket = await newBucket('metrics');
  taskQueue = `metrics-${Date.now()}`;
  env = jobEnv(taskQueue, bucket);
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  healthUrl = `http://127.0.0.1:${healthPort}`;
  worker = startCli(['worker', '--metrics-address', `127.0.0.1:${metricsPort}`, '--health-address', `127.0.0.1:${healthPort}`], {
    ...env,
    // Tuning through the environment, as a Deployment sets it; the SDK's slot gauges show it.
    PUSHCACHE_MAX_ACTIVITIES: '12',
    PUSHCACHE_MAX_WORKFLOW_TASKS: '6',
  });
  quietRuntime();
  connection = await NativeConnection.connect({ address: testServers().temporalAddress });
  client = new Client({ connection, namespace: 'default' });
});

afterAll(async () => {
  if (worker?.child.exitCode === null) worker.child.kill('SIGKILL');
  await connection?.close();
});

/** Sum of the samples of `name` whose labels include `labels`; undefined when there are none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url);
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined; // not listening yet
  }
}

/** Polls until `check` holds; the workflow meter reports a run's end just after its result is out. */
async function eventually<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let attempt = 0; !check(value); attempt++) {
    if (worker.child.exitCode !== null) throw new Error(`the worker exited while waiting for ${what}`);
    if (attempt >= 300) throw new Error(`gave up waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

function treeSize(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const relpath of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const stat = statSync(path.join(dir, relpath));
    if (!stat.isFile()) continue;
    files++;
    bytes += stat.size;
  }
  return { files, bytes };
}

function expectSuccess(r: CliResult): void {
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
}

describe('pushcache worker: health and metrics', () => {
  it('is live at once and ready once it polls', async () => {
    const ready = await eventually('readiness', () => get(`${healthUrl}/readyz`), (r) => r?.status === 200);
    expect(ready?.body.trim()).toBe('ready');
    expect((await get(`${healthUrl}/livez`))?.status).toBe(200);
    expect((await get(`${healthUrl}/nope`))?.status).toBe(404);
  });

  it("counts publishes, files, bytes, skips, failures and prunes next to the SDK's metrics", async () => {
    // Build 1 has one file more than build 2, so pruning build 1 deletes a manifest and that file.
    const first = copyExample();
    writeFileSync(path.join(first, 'js', 'only-in-build-1.js'), 'console.log("old");\n');
    const second = copyExample();
    // Renamed in build 2: copied server-side from build 1's key rather than uploaded.
    writeFileSync(path.join(second, 'js', 'renamed-in-build-2.js'), 'console.log("old");\n');
    const sizes = [treeSize(first), treeSize(second)];
    const publish = (dir: string, image: string) => runCli(['populate', '-s', dir, '-r', APP, '-i', image, '--no-prune'], env);
    expectSuccess(await publish(first, 'img:1'));
    expectSuccess(await publish(second, 'img:2'));
    const [, secondResult] = (await Promise.all(
      ['img:1', 'img:2'].map((image) => client.workflow.getHandle(publishWorkflowId(bucket, APP, image, '')).result()),
    )) as PublishResult[];
    expect(secondResult.skipped).toBeGreaterThan(0); // build 2's files were already there
    expect(secondResult.copied).toBe(1);

    const pruned = await runCli(['prune', '-r', APP, '-t', '0', '-n', '1', '--orphan-grace', '0'], env);
    expectSuccess(pruned);
    expect(await listKeys(openTestStorage(bucket), `manifests/${APP}/`)).toHaveLength(1);
    expect(await openTestStorage(bucket).get(`data/${APP}/js/only-in-build-1.js`)).toBeUndefined();

    // A publish whose Job never turns up fails on the shared worker's side alone.
    const abandoned = client.workflow.start('PublishWorkflow', {
      taskQueue,
      workflowId: publishWorkflowId(bucket, ABANDONED_APP, 'never', ''),
      args: [abandonedPublish()],
    });
    await expect((await abandoned).result()).rejects.toBeInstanceOf(WorkflowFailedError);

    const text = await eventually('the failed publish in /metrics', async () => (await get(metricsUrl))?.body ?? '', (t) =>
      sample(t, 'pushcache_publishes_total', { app: ABANDONED_APP }) === 1,
    );
    const app = { app: APP };
    expect({
      completed: sample(text, 'pushcache_publishes_total', { ...app, outcome: 'completed' }),
      failed: sample(text, 'pushcache_publishes_total', { app: ABANDONED_APP, outcome: 'failed' }),
      files: sample(text, 'pushcache_published_files_total', app),
      bytes: sample(text, 'pushcache_published_bytes_total', app),
      skipped: sample(text, 'pushcache_skipped_files_total', app),
      copied: sample(text, 'pushcache_copied_files_total', app),
      publishDurations: sample(text, 'pushcache_publish_duration_seconds_count', { outcome: 'completed' }),
      failedDurations: sample(text, 'pushcache_publish_duration_seconds_count', { outcome: 'failed' }),
      prunes: sample(text, 'pushcache_prunes_total', { ...app, status: 'pruned' }),
      manifestsDeleted: sample(text, 'pushcache_pruned_manifests_total', app),
      objectsDeleted: sample(text, 'pushcache_pruned_objects_total', { ...app, reason: 'aged-out' }),
      orphansDeleted: sample(text, 'pushcache_pruned_objects_total', { ...app, reason: 'orphan' }),
      pruneDurations: sample(text, 'pushcache_prune_duration_seconds_count', { status: 'pruned' }),
    }).toEqual({
      completed: 2,
      failed: 1,
      files: sizes[0].files + sizes[1].files,
      bytes: sizes[0].bytes + sizes[1].bytes,
      skipped: secondResult.skipped,
      copied: 1,
      publishDurations: 2,
      failedDurations: 1,
      prunes: 1,
      manifestsDeleted: 1,
      objectsDeleted: 1,
      orphansDeleted: 0,
      pruneDurations: 1,
    });
    // The SDK's own metrics are on the same endpoint, and agree.
    const sdk = { namespace: 'default', task_queue: taskQueue };
    expect(sample(text, 'temporal_workflow_completed_total', { ...sdk, workflow_type: 'PublishWorkflow' })).toBe(2);
    expect(sample(text, 'temporal_workflow_failed_total', { ...sdk, workflow_type: 'PublishWorkflow' })).toBe(1);
    // Publishes write through their Job; the shared worker ran the scheduled-style prune's plan.
    expect(sample(text, 'temporal_activity_execution_latency_milliseconds_count', { ...sdk, activity_type: 'planAppPrune' })).toBe(1);
    expect(sample(text, 'temporal_worker_task_slots_available', { ...sdk, worker_type: 'ActivityWorker' })).toBe(12);
    expect(sample(text, 'temporal_worker_task_slots_available', { ...sdk, worker_type: 'WorkflowWorker' })).toBe(6);
    expect(text).not.toContain(testServers().credentials.secretAccessKey);
    for (const dir of [first, second]) rmSync(dir, { recursive: true, force: true });
  });

  it('counts audits and what they found (issue 17); the audit command exits 1 naming the key', async () => {
    await openTestStorage(bucket).delete([`data/${APP}/js/412.b71c03de.js`]);
    const audited = await runCli(['audit', '-r', APP, '--json'], env);
    expect(audited.code).toBe(1);
    expect(audited.stdout).toContain(`${APP}: missing data/${APP}/js/412.b71c03de.js (named by manifests/${APP}/`);
    expect(JSON.parse(audited.stdout.trim().split('\n').at(-1)!)).toMatchObject({ apps: [APP], missing: 1, ok: 0 });
    const text = await eventually('the audit in /metrics', async () => (await get(metricsUrl))?.body ?? '', (t) => sample(t, 'pushcache_audits_total', { app: APP }) === 1);
    expect(sample(text, 'pushcache_audits_total', { app: APP, status: 'problems' })).toBe(1);
    expect(sample(text, 'pushcache_audit_missing_objects_total', { app: APP })).toBe(1);
    expect(sample(text, 'pushcache_audit_mismatched_objects_total', { app: APP })).toBeUndefined();
  });

  it('stops on SIGTERM with exit code 0', async () => {
    worker.child.kill('SIGTERM');
    const r = await worker.result;
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('pushcache: worker stopped');
    expect(r.stdout + r.stderr).not.toContain(testServers().credentials.secretAccessKey);
    // Both servers are gone with the process.
    expect(await get(`${healthUrl}/livez`)).toBeUndefined();
    expect(await get(metricsUrl)).toBeUndefined();
  });
});

function abandonedPublish(): PublishInput {
  return {
    app: ABANDONED_APP,
    bucket,
    image: 'never',
    sourceDir: '/nowhere',
    filesTaskQueue: `pushcache-files/${ABANDONED_APP}/nobody-polls-this`,
    cacheMaxAge: 86400,
    batchLimits: { maxFiles: 500, maxBytes: 1 << 20 },
    batchParallelism: 1,
    uploadConcurrency: 1,
    maxAttempts: 1,
    heartbeatTimeout: '15s',
    jobAbsenceTimeout: '1s',
  };
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type Worker } from '@temporalio/worker';
import { globalHandlers } from '@temporalio/worker/lib/workflow/vm-shared';
import { createSharedWorker } from '../../src/worker/shared-worker';
import { quietRuntime, testServers } from '../helpers/servers';

/**
 * The shared worker runs workflows in its main thread (WORKFLOWS_IN_MAIN_THREAD). There a
 * workflow that never yields would block every other workflow and activity of the worker, so
 * the SDK's limit on one activation must still hold: the stuck task fails and the worker goes on.
 * And the SDK's promise hook, which there would run for every promise of every activity, is off.
 */
describe('workflows in the shared worker main thread', () => {
  let dir: string;
  let connection: NativeConnection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `test-thread-${randomUUID()}`;

  beforeAll(async () => {
    quietRuntime();
    dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-thread-'));
    const noop = () => undefined;
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/stuck-workflows'),
      logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop },
    });
    const bundle = path.join(dir, 'bundle.js');
    writeFileSync(bundle, code);
    connection = await NativeConnection.connect({ address: testServers().temporalAddress });
    client = new Client({ connection, namespace: 'default' });
    worker = await createSharedWorker({
      connection,
      namespace: 'default',
      taskQueue,
      openStorage: () => {
        throw new Error('these workflows use no storage');
      },
      workflowBundlePath: bundle,
    });
    running = worker.run();
  });

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await connection?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails the task of a workflow that never yields, and runs the next workflow', async () => {
    const stuck = await client.workflow.start('neverYields', { taskQueue, workflowId: `stuck-${randomUUID()}` });
    try {
      let failure: string | undefined;
      for (let i = 0; i < 120 && failure === undefined; i++) {
        const history = await stuck.fetchHistory();
        const failed = history.events?.find((e) => e.workflowTaskFailedEventAttributes);
        failure = failed?.workflowTaskFailedEventAttributes?.failure?.message ?? undefined;
        if (failure === undefined) await new Promise((r) => setTimeout(r, 500));
      }
      expect(failure).toMatch(/timed out after 5000ms/);
      expect(worker.getState()).toBe('RUNNING');
    } finally {
      await stuck.terminate('test done');
    }
    const answer = await client.workflow.execute('answers', { taskQueue, workflowId: `answers-${randomUUID()}` });
    expect(answer).toBe('answered');
  });

  it('runs without the promise hook of workflow stack traces, whose queries say so', async () => {
    expect(globalHandlers.promiseHookInstalled).toBe(false);
    const waiting = await client.workflow.start('waits', { taskQueue, workflowId: `waits-${randomUUID()}` });
    try {
      await expect(waiting.query('__stack_trace')).rejects.toThrow(/stack traces are not enabled/);
    } finally {
      await waiting.terminate('test done');
    }
  });
});

import { existsSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { globalHandlers } from '@temporalio/worker/lib/workflow/vm-shared';
import { createAuditActivities } from '../activities/audit';
import { createLockActivities } from '../activities/lock';
import { createPruneActivities } from '../activities/prune';
import { createStorageActivities } from '../activities/storage';
import type { Storage } from '../storage/storage';

/** Built by `npm run build`; production workers load it instead of bundling at start. */
export const PREBUILT_BUNDLE = path.resolve(__dirname, '..', 'workflow-bundle.js');

/**
 * Workflow interceptors, bundled with the workflow code: they record the publish and prune
 * metrics where every run ends. A prebuilt bundle must be built with them (bundle-workflows.ts).
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../telemetry/workflow-metrics')];

/**
 * Workflows run in the worker's main thread, in one reused V8 context. The SDK's default is a
 * worker thread: a second V8 isolate and Node environment, which cost this worker about 35 MiB
 * (idle 161 against 126 MiB; 176 against 148 MiB after five publishes) for no gain, since its
 * workflow tasks take milliseconds. The SDK names this mode after the debugger it serves (its
 * replayer uses it too) and lifts the 5 s limit on one activation with it. The limit is set back,
 * so a workflow stuck in a loop fails its task instead of freezing the worker; the SDK reads it
 * from the options but does not type it, and workflow-thread.test.ts proves it holds. The promise
 * hook that comes with the mode is turned off (see stopWorkflowStackTraces).
 */
export const WORKFLOWS_IN_MAIN_THREAD: Pick<WorkerOptions, 'debugMode'> & { isolateExecutionTimeout: string } = {
  debugMode: true,
  isolateExecutionTimeout: '5s',
};

export interface SharedWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  openStorage: (bucket: string) => Storage;
  /** Path of a prebuilt workflow bundle; default the one `npm run build` writes, else bundle now. */
  workflowBundlePath?: string;
  /** Keys per part of a recorded prune plan; default PLAN_PART_KEYS (tests make it small). */
  planPartKeys?: number;
  /** Extra Worker settings, e.g. concurrency limits. */
  tuning?: Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows'>;
}

/** The worker every publish and prune shares: workflows plus the activities that need only the bucket or Temporal. */
export async function createSharedWorker(options: SharedWorkerOptions): Promise<Worker> {
  const bundle = options.workflowBundlePath ?? (existsSync(PREBUILT_BUNDLE) ? PREBUILT_BUNDLE : undefined);
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(bundle
      ? { workflowBundle: { codePath: bundle } }
      : { workflowsPath: require.resolve('../workflows'), interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } }),
    activities: {
      ...createStorageActivities({ openStorage: options.openStorage }),
      ...createPruneActivities({ openStorage: options.openStorage, planPartKeys: options.planPartKeys }),
      ...createAuditActivities({ openStorage: options.openStorage }),
      ...createLockActivities({ client: new Client({ connection: options.connection, namespace: options.namespace }) }),
    },
    ...WORKFLOWS_IN_MAIN_THREAD,
    ...options.tuning,
  });
  stopWorkflowStackTraces();
  return worker;
}

/**
 * Turns off the promise hook the SDK installs, with the workflows' V8 context, to give workflows
 * stack traces. It is process-wide: in a worker thread it sees only workflow promises, but in the
 * main thread it runs at the creation and the settling of every promise of every activity, and
 * each run compiles a function. Measured on a prune of 100,000 objects, alternating: the worker
 * used 4.8-5.0 CPU-s with it (3 runs; the hook was 1.4 s of its profile) and 3.3-3.4 without
 * (2 runs), as much as with workflows in a worker thread, on a machine where MinIO needs that CPU
 * to delete. The hook only serves the stack trace queries (the Web UI's "Stack Trace" tab);
 * without it they answer that stack traces are not enabled on this worker, as the SDK does where
 * it cannot install the hook. A run's history and its progress query still tell where it waits.
 * This reaches into the SDK, since the hook has no option; workflow-thread.test.ts fails if a new
 * SDK moves it.
 */
function stopWorkflowStackTraces(): void {
  if (!globalHandlers.promiseHookInstalled) return;
  (globalHandlers as unknown as { stopPromiseHook(): void }).stopPromiseHook();
  // Read when each workflow's context is made: workflows created from now on know they have no stack traces.
  globalHandlers.promiseHookInstalled = false;
}

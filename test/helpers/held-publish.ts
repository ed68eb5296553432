import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { PUBLISH_DEFAULTS } from '../../src/config';
import { appLockWorkflowId, lockStateQuery } from '../../src/workflows/app-lock-api';
import type { PublishInput } from '../../src/workflows/types';
import type { Harness } from './servers';
import { publishWorkflowId } from '../../src/client/workflow-id';

/**
 * Starts a publish of `app` (as `image`, by default one of its own) whose Job never comes (nobody
 * serves its files task queue), and returns once it holds the app lock shared while it waits for
 * its files. The caller terminates it; until then it holds the lock.
 */
export async function startHeldPublish(harness: Harness, bucket: string, app: string, image = `held-${randomUUID()}`): Promise<WorkflowHandle> {
  const workflowId = publishWorkflowId(bucket, app, image, '');
  const input: PublishInput = {
    app,
    bucket,
    image,
    sourceDir: '/nowhere',
    filesTaskQueue: `nobody-${randomUUID()}`,
    cacheMaxAge: 86400,
    batchLimits: { maxFiles: 10, maxBytes: 1 << 20 },
    batchParallelism: 1,
    uploadConcurrency: 1,
    maxAttempts: 1,
    heartbeatTimeout: PUBLISH_DEFAULTS.heartbeatTimeout,
    jobAbsenceTimeout: '10m',
  };
  const handle = await harness.client.workflow.start('PublishWorkflow', { workflowId, taskQueue: harness.taskQueue, args: [input] });
  try {
    const lock = harness.client.workflow.getHandle(appLockWorkflowId(bucket, app));
    while (!(await lock.query(lockStateQuery).catch(() => undefined))?.holders.some((h) => h.owner.workflowId === workflowId)) await sleep(50);
  } catch (error) {
    await handle.terminate('test over');
    throw error;
  }
  return handle;
}

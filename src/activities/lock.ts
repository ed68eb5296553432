import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { withFailureTranslation } from './failures';
import { validateAppName } from '../contract/names';
import {
  APP_LOCK_WORKFLOW_TYPE,
  appLockWorkflowId,
  lockRequestSignal,
  type AppLockWorkflowFunction,
  type LockOwner,
  type LockRequest,
} from '../workflows/app-lock-api';

export interface LockActivityDeps {
  client: Client;
}

export interface RequestAppLockInput {
  bucket: string;
  app: string;
  /** The lock workflow runs on the requester's task queue, where the shared worker polls. */
  taskQueue: string;
  request: LockRequest;
}

/**
 * The two things a per-app lock needs from outside workflow code: starting the lock workflow
 * on first use (workflows cannot signal-with-start), and telling whether a holder still runs.
 */
export function createLockActivities(deps: LockActivityDeps) {
  return withFailureTranslation({
    async requestAppLock(input: RequestAppLockInput): Promise<void> {
      // The name becomes a workflow ID; a bad one must fail here, before any lock exists for it.
      validateAppName(input.app);
      await deps.client.workflow.signalWithStart<AppLockWorkflowFunction, [LockRequest]>(APP_LOCK_WORKFLOW_TYPE, {
        workflowId: appLockWorkflowId(input.bucket, input.app),
        taskQueue: input.taskQueue,
        args: [{ bucket: input.bucket, app: input.app }],
        signal: lockRequestSignal,
        signalArgs: [input.request],
        memo: { bucket: input.bucket, app: input.app },
      });
    },

    /** The owners whose workflow run is no longer open (finished, failed, terminated or gone). */
    async closedOwners(owners: LockOwner[]): Promise<LockOwner[]> {
      const closed: LockOwner[] = [];
      for (const owner of owners) {
        try {
          const { status } = await deps.client.workflow.getHandle(owner.workflowId, owner.runId).describe();
          if (status.name !== 'RUNNING') closed.push(owner);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          closed.push(owner);
        }
      }
      return closed;
    },
  });
}

export type LockActivities = ReturnType<typeof createLockActivities>;

import { NativeConnection, Worker } from '@temporalio/worker';
import { createFileActivities, type FileActivityDeps } from '../activities/files';
import { createPruneActivities } from '../activities/prune';

export interface FilesWorkerOptions extends FileActivityDeps {
  connection: NativeConnection;
  namespace: string;
  /** The queue only this Job polls; see `filesTaskQueue`. */
  taskQueue: string;
  /** Batch activities the workflow may run at once on this Job. */
  batchParallelism: number;
}

/** Task queue of a publish's file activities: one per workflow, so a restarted Job polls the same one. */
export function filesTaskQueue(workflowId: string): string {
  return `pushcache-files/${workflowId}`;
}

/**
 * The Job's own worker: it runs no workflows, only the activities of its publish: those that
 * read the build's files, and every write of the publish (go-live, manifest, the prune after it),
 * so all of them use the one store the Job was given.
 */
export async function createFilesWorker(options: FilesWorkerOptions): Promise<Worker> {
  const { connection, namespace, taskQueue, batchParallelism, ...deps } = options;
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    activities: { ...createFileActivities(deps), ...createPruneActivities({ openStorage: () => deps.storage }) },
    // The workflow's lanes plus the entry point and staging steps.
    maxConcurrentActivityTaskExecutions: batchParallelism + 2,
  });
}

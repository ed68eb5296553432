import { Command, Option } from 'commander';
import { resolveStorageSettings, resolveTemporalSettings, type RawOptions } from '../config';
import { createSharedWorker } from '../worker/shared-worker';
import { connectTemporal, openStorage } from './connect';
import { runCommand } from './run';
import { withStorageOptions, withTemporalOptions } from './options';

export function workerCommand(): Command {
  const cmd = new Command('worker').description('run the shared worker: workflows and bucket-only activities (stops gracefully on SIGTERM)');
  withTemporalOptions(withStorageOptions(cmd));
  cmd.addOption(new Option('--max-activities <n>', 'activity tasks at once (default 32)').env('PUSHCACHE_MAX_ACTIVITIES'));
  return cmd.action((options: RawOptions) => runCommand(() => runWorker(options)));
}

async function runWorker(options: RawOptions): Promise<void> {
  const storage = resolveStorageSettings(options);
  const temporal = resolveTemporalSettings(options);
  const { connection } = await connectTemporal(temporal);
  const worker = await createSharedWorker({
    connection,
    namespace: temporal.namespace,
    taskQueue: temporal.taskQueue,
    openStorage: (bucket) => openStorage(storage, bucket),
    tuning: { maxConcurrentActivityTaskExecutions: Number(options.maxActivities ?? 32) },
  });
  console.log(`pushcache: worker polling ${temporal.taskQueue} on ${temporal.address}/${temporal.namespace}, storage ${storage.endpoint}`);
  // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: running activities finish first.
  await worker.run();
  await connection.close();
  console.log('pushcache: worker stopped');
}

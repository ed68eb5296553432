import { Command, Option } from 'commander';
import type { Worker } from '@temporalio/worker';
import { formatAddress, resolveStorageSettings, resolveTemporalSettings, resolveWorkerSettings, WORKER_DEFAULTS, type RawOptions } from '../config';
import { currentLog } from '../telemetry/log';
import { installRuntime, withOwnRuntime } from '../telemetry/runtime';
import { startHealthServer, type HealthServer } from '../worker/health-server';
import { createSharedWorker } from '../worker/shared-worker';
import { connectTemporal, openStorage } from './connect';
import { runCommand } from './run';
import { withStorageOptions, withTemporalOptions } from './options';

export function workerCommand(): Command {
  const d = WORKER_DEFAULTS;
  const cmd = new Command('worker').description('run the shared worker: workflows and bucket-only activities (stops gracefully on SIGTERM)');
  withTemporalOptions(withStorageOptions(cmd));
  cmd
    .addOption(new Option('--max-activities <n>', `activity tasks at once (default ${d.maxActivities})`).env('PUSHCACHE_MAX_ACTIVITIES'))
    .addOption(new Option('--max-workflow-tasks <n>', `workflow tasks at once (default ${d.maxWorkflowTasks})`).env('PUSHCACHE_MAX_WORKFLOW_TASKS'))
    .addOption(
      new Option('--max-cached-workflows <n>', `workflows kept in memory between their tasks, 0 = none (default ${d.maxCachedWorkflows})`).env(
        'PUSHCACHE_MAX_CACHED_WORKFLOWS',
      ),
    )
    .addOption(
      new Option('--metrics-address <ip:port|off>', `Prometheus endpoint, /metrics (default ${d.metricsAddress})`).env('PUSHCACHE_METRICS_ADDRESS'),
    )
    .addOption(
      new Option('--health-address <ip:port|off>', `liveness /livez and readiness /readyz (default ${d.healthAddress})`).env('PUSHCACHE_HEALTH_ADDRESS'),
    );
  return withOwnRuntime(cmd).action((options: RawOptions) => runCommand(() => runWorker(options)));
}

async function runWorker(options: RawOptions): Promise<void> {
  const storage = resolveStorageSettings(options);
  const temporal = resolveTemporalSettings(options);
  const settings = resolveWorkerSettings(options);
  installRuntime({ metricsAddress: settings.metricsAddress && formatAddress(settings.metricsAddress) });

  let worker: Worker | undefined;
  // Up before the worker, so liveness answers while the workflow bundle loads; ready once it polls.
  const health: HealthServer | undefined = settings.healthAddress
    ? await startHealthServer(settings.healthAddress, {
        ready: () => worker?.getState() === 'RUNNING',
        describe: () => (worker ? `worker ${worker.getState().toLowerCase()}` : 'worker starting'),
      })
    : undefined;
  try {
    const { connection } = await connectTemporal(temporal);
    try {
      worker = await createSharedWorker({
        connection,
        namespace: temporal.namespace,
        taskQueue: temporal.taskQueue,
        openStorage: (bucket) => openStorage(storage, bucket),
        tuning: {
          maxConcurrentActivityTaskExecutions: settings.maxActivities,
          maxConcurrentWorkflowTaskExecutions: settings.maxWorkflowTasks,
          maxCachedWorkflows: settings.maxCachedWorkflows,
        },
      });
      const endpoints = [
        settings.metricsAddress && `metrics http://${formatAddress(settings.metricsAddress)}/metrics`,
        health && `health http://${formatAddress(health.address)}/readyz`,
      ].filter(Boolean);
      currentLog().info(
        `worker polling ${temporal.taskQueue} on ${temporal.address}/${temporal.namespace}, storage ${storage.endpoint}` +
          (endpoints.length > 0 ? `; ${endpoints.join(', ')}` : ''),
        {
          event: 'worker-started',
          taskQueue: temporal.taskQueue,
          temporalAddress: temporal.address,
          namespace: temporal.namespace,
          storageEndpoint: storage.endpoint,
          metricsAddress: settings.metricsAddress && formatAddress(settings.metricsAddress),
          healthAddress: health && formatAddress(health.address),
        },
      );
      // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: the worker leaves the
      // RUNNING state at once (readiness fails from then on) and running activities finish first.
      await worker.run();
    } finally {
      await connection.close();
    }
  } finally {
    await health?.close();
  }
  currentLog().info('worker stopped', { event: 'worker-stopped' });
}

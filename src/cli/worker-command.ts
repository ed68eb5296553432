import { Command, Option } from 'commander';
import type { Worker } from '@temporalio/worker';
import { formatAddress, PRUNE_DEFAULTS, resolvePruneSettings, resolveStorageSettings, resolveTemporalSettings, resolveWorkerSettings, WORKER_DEFAULTS, type RawOptions } from '../config';
import { currentLog } from '../telemetry/log';
import { installRuntime, withOwnRuntime } from '../telemetry/runtime';
import { startHealthServer, type HealthServer } from '../worker/health-server';
import { createSharedWorker } from '../worker/shared-worker';
import { resolveStatusPageSettings, STATUS_PAGE_DEFAULTS } from '../ui/settings';
import { bucketSource, startStatusServer, type StatusServer } from '../ui/server';
import { retentionRule } from '../workflows/retention-rule';
import { connectTemporal, openStorage } from './connect';
import { runCommand } from './run';
import { withRetentionOptions, withStorageOptions, withTemporalOptions } from './options';

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
  withStatusPageOptions(cmd);
  return withOwnRuntime(cmd).action((options: RawOptions) => runCommand(() => runWorker(options)));
}

/** The read-only status page (src/ui); its next-prune column follows the retention flags, as `status` does. */
function withStatusPageOptions(cmd: Command): Command {
  const d = STATUS_PAGE_DEFAULTS;
  withRetentionOptions(cmd, PRUNE_DEFAULTS.lockWait);
  return cmd
    .addOption(new Option('--ui-port <port>', 'serve the read-only status page on this port (default: off; 0 = any free port)').env('PUSHCACHE_UI_PORT'))
    .addOption(new Option('--ui-host <address>', `address the status page binds (default ${d.host})`).env('PUSHCACHE_UI_HOST'))
    .addOption(new Option('--ui-token-file <path>', 'file holding the bearer token the status page requires (or PUSHCACHE_UI_TOKEN)'))
    .addOption(
      new Option('--ui-allowed-hosts <names>', 'host names (comma-separated) a page open on loopback answers to besides 127.0.0.1 and localhost: a proxy in front that keeps the Host header').env(
        'PUSHCACHE_UI_ALLOWED_HOSTS',
      ),
    )
    .addOption(new Option('--ui-cache-seconds <n>', `how long the status page reuses a listing of the bucket (default ${d.cacheSeconds})`).env('PUSHCACHE_UI_CACHE_SECONDS'));
}

async function runWorker(options: RawOptions): Promise<void> {
  const storage = resolveStorageSettings(options);
  const temporal = resolveTemporalSettings(options);
  const settings = resolveWorkerSettings(options);
  const statusPage = resolveStatusPageSettings(options);
  // The page predicts the prune these flags would run, as `status` does; unused without the page.
  const rule = statusPage && retentionRule(resolvePruneSettings(options));
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
    const { connection, client } = await connectTemporal(temporal);
    let ui: StatusServer | undefined;
    try {
      if (statusPage && rule) {
        ui = await startStatusServer({
          listen: statusPage.listen,
          token: statusPage.token,
          allowedHosts: statusPage.allowedHosts,
          cacheMs: statusPage.cacheMs,
          render: { temporalUiUrl: temporal.uiUrl, namespace: temporal.namespace },
          source: bucketSource({ storage: openStorage(storage), client, bucket: storage.bucket, rule }),
          onError: (message, path) => currentLog().warn(`status page ${path}: ${message}`, { event: 'status-page-error', path }),
        });
      }
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
        ui && `status page ${ui.url}${statusPage?.token ? ' (bearer token required)' : ''}`,
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
          statusPageUrl: ui?.url,
        },
      );
      // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: the worker leaves the
      // RUNNING state at once (readiness fails from then on) and running activities finish first.
      await worker.run();
    } finally {
      await ui?.close();
      await connection.close();
    }
  } finally {
    await health?.close();
  }
  currentLog().info('worker stopped', { event: 'worker-stopped' });
}

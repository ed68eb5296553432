import { Command, Option } from 'commander';
import type { NativeConnection } from '@temporalio/worker';
import {
  PUBLISH_DEFAULTS,
  resolvePublishSettings,
  resolveStorageSettings,
  resolveTemporalMode,
  resolveTemporalSettings,
  standaloneTemporalSettings,
  type RawOptions,
  type StorageSettings,
  type TemporalMode,
  type TemporalSettings,
} from '../config';
import { startStandaloneTemporal, type StandaloneTemporal } from '../dev/standalone';
import { populate, type PopulateDeps } from '../client/populate';
import { startScan } from '../source/scan';
import { EarlyAppView } from '../bucket/app-view';
import { currentLog, reportTo } from '../telemetry/log';
import { createSharedWorker } from '../worker/shared-worker';
import { connectTemporal, openStorage, TemporalUnreachableError } from './connect';
import { EXIT, runCommand } from './run';
import { withPublishOptions, withRetentionOptions, withStorageOptions, withTemporalOptions } from './options';

export function populateCommand(): Command {
  const cmd = new Command('populate').description('publish a build to the bucket through a durable PublishWorkflow (the Job)');
  withTemporalOptions(withStorageOptions(withRetentionOptions(withPublishOptions(cmd), PUBLISH_DEFAULTS.lockWait)));
  // PUSHCACHE_STANDALONE is read by resolveTemporalMode: commander would take "false" for true.
  cmd.addOption(new Option('--standalone', 'run a Temporal dev server and worker inside this Job even when a Temporal is configured (the default when none is; or PUSHCACHE_STANDALONE=true)'));
  return cmd.action((options: RawOptions) => runCommand(() => runPopulate(options)));
}

async function runPopulate(options: RawOptions): Promise<void> {
  const publish = resolvePublishSettings(options);
  const storageSettings = resolveStorageSettings(options);
  const mode = resolveTemporalMode(options);
  // Read before anything starts, so a broken Temporal configuration is a bad-input exit.
  const configured = mode.mode === 'cluster' ? resolveTemporalSettings(options) : undefined;
  const log = currentLog();
  if (storageSettings.credentialSource === 'command line') {
    log.warn('credentials given on the command line are visible in process listings; use PUSHCACHE_AWS_* from a Secret', { event: 'credentials-on-command-line' });
  }
  if (mode.mode === 'standalone') log.warn(standaloneWarning(mode), { event: 'standalone', forced: mode.forced, ignored: mode.ignored });
  // The connection is set up on the Temporal core's own threads, begun first so that it goes on
  // while this thread walks the tree; the tree is then hashed on worker threads, where the early
  // view that populate starts spares the ETags of files the bucket holds.
  const connecting = configured && connectTemporal(configured);
  if (connecting) connecting.catch(() => undefined);
  const earlyView = new EarlyAppView();
  const scan = startScan(publish.source, { evidence: earlyView.evidence() });
  // A bad source directory is the more useful of two errors; otherwise the Temporal one.
  const sourceFirst = async (err: unknown): Promise<never> => {
    await scan.scanned;
    throw err;
  };

  let standalone: StandaloneTemporal | undefined;
  // Until the publish exists, there is nothing durable to come back to.
  let publishStarted = false;
  const report = reportTo(log);
  const reportAndNote: PopulateDeps['report'] = (line, event) => {
    if (event?.event === 'publish-started' || event?.event === 'publish-rejoined') publishStarted = true;
    report(line, event);
  };
  // A killed or stopped Job loses nothing on a cluster: the workflow waits for a Job to poll its queue again.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // The dev server's watchdog stops it (and removes its files) once asked, or once this process is gone.
      standalone?.stopSoon();
      const msg = !publishStarted
        ? `stopped by ${signal} before the publish started; nothing was written`
        : standalone
          ? `stopped by ${signal}; run the Job again to publish (standalone: this run's progress ends with its own Temporal; files already uploaded are checked again)`
          : `stopped by ${signal}; the publish is durable, run the Job again to finish it`;
      log.write({ level: 'warn', msg, fields: { event: 'interrupted', signal, exitCode: EXIT.interrupted }, pretty: `pushcache: ${msg}` });
      process.exit(EXIT.interrupted);
    });
  }

  if (mode.mode === 'standalone') {
    standalone = await startStandaloneTemporal().catch(sourceFirst);
  }
  const temporal = standalone ? standaloneTemporalSettings(options, standalone.address) : configured!;
  try {
    const { connection, client } = await (connecting || connectTemporal(temporal)).catch((err: unknown) =>
      sourceFirst(mode.mode === 'cluster' && err instanceof TemporalUnreachableError ? explainConfigured(err, mode.configuredBy) : err),
    );
    try {
      const deps: PopulateDeps = { client, connection, scan, earlyView, storage: openStorage(storageSettings), bucket: storageSettings.bucket, temporal, report: reportAndNote };
      if (standalone) await populateWithOwnWorker(publish, deps, connection, temporal, storageSettings);
      else await populate(publish, deps);
    } finally {
      // Never let a failed close hide the error that ended the Job.
      await connection.close().catch(() => undefined);
    }
  } finally {
    await standalone?.stop().catch(() => undefined);
  }
}

/** Standalone: the shared worker's part (workflows, bucket activities) runs here too, on the Job's own storage settings. */
async function populateWithOwnWorker(
  publish: ReturnType<typeof resolvePublishSettings>,
  deps: PopulateDeps,
  connection: NativeConnection,
  temporal: TemporalSettings,
  storageSettings: StorageSettings,
): Promise<void> {
  const worker = await createSharedWorker({
    connection,
    namespace: temporal.namespace,
    taskQueue: temporal.taskQueue,
    openStorage: (bucket) => openStorage(storageSettings, bucket),
  });
  await worker.runUntil(() => populate(publish, deps));
}

function explainConfigured(err: TemporalUnreachableError, configuredBy: string): TemporalUnreachableError {
  return new TemporalUnreachableError(
    `${err.message} (Temporal is configured by ${configuredBy}, so pushcache does not run standalone; fix or remove that configuration)`,
  );
}

/** One line: that the Job runs standalone, what that loses, and how to give it a cluster. */
export function standaloneWarning(mode: Extract<TemporalMode, { mode: 'standalone' }>): string {
  const why = mode.forced
    ? `--standalone given${mode.ignored ? ` (ignoring ${mode.ignored})` : ''}`
    : 'no Temporal is configured (no --temporal-address, TEMPORAL_* variable or Temporal config file)';
  return (
    `running standalone: ${why}, so this Job runs its own Temporal dev server and worker; ` +
    'its workflow history ends with the pod and there is no shared Web UI; ' +
    'to use a Temporal cluster, set TEMPORAL_ADDRESS (e.g. `ENV TEMPORAL_ADDRESS=temporal-frontend:7233` in an image derived from this one) ' +
    'or bake a Temporal config file into the image (~/.config/temporalio/temporal.toml, or TEMPORAL_CONFIG_FILE)'
  );
}


import { Command } from 'commander';
import { PUBLISH_DEFAULTS, resolvePublishSettings, resolveStorageSettings, resolveTemporalSettings, type RawOptions } from '../config';
import { populate } from '../job/populate';
import { scanSource } from '../source/scan';
import { currentLog, reportTo } from '../telemetry/log';
import { connectTemporal, openStorage } from './connect';
import { EXIT, runCommand } from './run';
import { withPublishOptions, withRetentionOptions, withStorageOptions, withTemporalOptions } from './options';

export function populateCommand(): Command {
  const cmd = new Command('populate').description('publish a build to the bucket through a durable PublishWorkflow (the Job)');
  withTemporalOptions(withStorageOptions(withRetentionOptions(withPublishOptions(cmd), PUBLISH_DEFAULTS.lockWait)));
  return cmd.action((options: RawOptions) => runCommand(() => runPopulate(options)));
}

async function runPopulate(options: RawOptions): Promise<void> {
  const publish = resolvePublishSettings(options);
  const storageSettings = resolveStorageSettings(options);
  const temporal = resolveTemporalSettings(options);
  const log = currentLog();
  if (storageSettings.credentialSource === 'command line') {
    log.warn('credentials given on the command line are visible in process listings; use PUSHCACHE_AWS_* from a Secret', { event: 'credentials-on-command-line' });
  }
  // The tree is hashed on worker threads while the connection to Temporal is set up.
  const scanned = scanSource(publish.source);
  scanned.catch(() => undefined);
  const { connection, client } = await connectTemporal(temporal).catch(async (err: unknown) => {
    // A bad source directory is the more useful of two errors; otherwise the connection's.
    await scanned;
    throw err;
  });
  // A killed or stopped Job loses nothing: the workflow waits for a Job to poll its queue again.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      const msg = `stopped by ${signal}; the publish is durable, run the Job again to finish it`;
      log.write({ level: 'warn', msg, fields: { event: 'interrupted', signal, exitCode: EXIT.interrupted }, pretty: `pushcache: ${msg}` });
      process.exit(EXIT.interrupted);
    });
  }
  try {
    await populate(publish, {
      client,
      connection,
      scanned,
      storage: openStorage(storageSettings),
      bucket: storageSettings.bucket,
      temporal,
      report: reportTo(log),
    });
  } finally {
    // Never let a failed close hide the error that ended the Job.
    await connection.close().catch(() => undefined);
  }
}

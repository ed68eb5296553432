import path from 'node:path';
import { Command, Option } from 'commander';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { resolveAuditScheduleSettings, resolvePruneSettings, resolvePublishSettings, resolveScheduleSettings, type RawOptions } from '../config';
import { dataPrefix, manifestPrefix } from '../contract/keys';
import { DEV_CREDENTIALS, defaultStackOptions, startLocalStack, type LocalStack } from '../dev/stack';
import { populate } from '../client/populate';
import { pruneInput } from '../client/prune';
import { auditInput } from '../client/audit';
import { applyAuditSchedule, applySchedule } from '../client/schedule';
import { runUrl } from '../client/workflow-id';
import { S3Storage } from '../storage/s3';
import { currentLog, reportTo, type LogFields } from '../telemetry/log';
import { createSharedWorker } from '../worker/shared-worker';
import { appPath } from '../ui/render';
import { bucketSource, startStatusServer, type StatusServer } from '../ui/server';
import { retentionRule } from '../workflows/retention-rule';
import { runCommand } from './run';

const TASK_QUEUE = 'pushcache';
const NAMESPACE = 'default';
/** The status page's port in dev: next to the Temporal Web UI's 8233. */
const STATUS_PORT = 8234;

/** The local stack speaks to a person: pretty mode prints `text` as it is, json mode the event. */
function say(text: string, msg: string, fields: LogFields): void {
  currentLog().write({ level: 'info', msg, fields, pretty: text });
}

function withStackOptions(cmd: Command): Command {
  const d = defaultStackOptions();
  return cmd
    .addOption(new Option('--temporal-port <port>', 'Temporal gRPC port').default(String(d.temporalPort)))
    .addOption(new Option('--ui-port <port>', 'Temporal Web UI port').default(String(d.uiPort)))
    .addOption(new Option('--minio-port <port>', 'MinIO S3 port').default(String(d.minioPort)))
    .addOption(new Option('--minio-console-port <port>', 'MinIO console port').default(String(d.minioConsolePort)))
    .addOption(new Option('--status-port <port>', "pushcache's status page port (0 = any free port)").default(String(STATUS_PORT)))
    .addOption(new Option('--state-dir <dir>', 'where runs and objects persist').default(d.stateDir))
    .addOption(new Option('-b, --bucket <name>', 'bucket to create').default(d.bucket));
}

function stackOptions(o: RawOptions) {
  return {
    ...defaultStackOptions(),
    stateDir: path.resolve(String(o.stateDir)),
    temporalPort: Number(o.temporalPort),
    uiPort: Number(o.uiPort),
    minioPort: Number(o.minioPort),
    minioConsolePort: Number(o.minioConsolePort),
    bucket: String(o.bucket),
  };
}

export function devCommand(): Command {
  const cmd = withStackOptions(new Command('dev').description('run the local stack: Temporal dev server with UI, MinIO with a bucket, and a worker'));
  return cmd.action((o: RawOptions) => runCommand(() => runDev(o, undefined)));
}

export function demoCommand(): Command {
  const cmd = withStackOptions(new Command('demo').description('start the local stack and publish the example app through it'));
  cmd.addOption(new Option('--source <dir>', 'build to publish').default(path.resolve(__dirname, '..', '..', 'example')));
  cmd.addOption(new Option('--prefix <app>', 'app name').default('example-app'));
  cmd.addOption(new Option('--exit', 'stop the stack after publishing instead of waiting for Ctrl-C'));
  return cmd.action((o: RawOptions) => runCommand(() => runDev(o, { source: String(o.source), app: String(o.prefix), exit: o.exit === true })));
}

async function runDev(o: RawOptions, demo: { source: string; app: string; exit: boolean } | undefined): Promise<void> {
  const stack = await startLocalStack(stackOptions(o));
  try {
    const connection = await NativeConnection.connect({ address: stack.temporalAddress });
    const storageFor = (bucket: string) => S3Storage.open({ endpoint: stack.minioEndpoint, bucket, credentials: DEV_CREDENTIALS });
    const worker = await createSharedWorker({ connection, namespace: NAMESPACE, taskQueue: TASK_QUEUE, openStorage: storageFor });
    const running = worker.run();
    const client = new Client({ connection, namespace: NAMESPACE });
    // What the worker's --ui-port serves, with the prune Schedule's retention rule below.
    const ui = await startStatusServer({
      listen: { host: '127.0.0.1', port: Number(o.statusPort) },
      listenFlags: '--status-port',
      cacheMs: 2000,
      render: { temporalUiUrl: stack.temporalUiUrl, namespace: NAMESPACE },
      source: bucketSource({ storage: storageFor(stack.bucket), client, bucket: stack.bucket, rule: retentionRule(resolvePruneSettings({})) }),
    });
    printStack(stack, ui);
    const schedule = resolveScheduleSettings({}, stack.bucket);
    await applySchedule(schedule, pruneInput(resolvePruneSettings({}), { all: true }, stack.bucket), {
      client: new Client({ connection, namespace: NAMESPACE }),
      taskQueue: TASK_QUEUE,
    });
    const schedules = `${stack.temporalUiUrl}/namespaces/${NAMESPACE}/schedules`;
    say(`  prune Schedule  ${schedule.scheduleId}, every ${schedule.every}: ${schedules}`, 'prune Schedule applied', {
      event: 'schedule-applied',
      scheduleId: schedule.scheduleId,
      every: schedule.every,
      url: schedules,
    });
    // As `schedule apply` does: the daily audit beside the prune.
    const audit = resolveAuditScheduleSettings({}, stack.bucket)!;
    await applyAuditSchedule(audit, auditInput({ all: true }, stack.bucket, resolvePruneSettings({})), { client, taskQueue: TASK_QUEUE });
    say(`  audit Schedule  ${audit.scheduleId}, every ${audit.every}: ${schedules}`, 'audit Schedule applied', { event: 'audit-schedule-applied', scheduleId: audit.scheduleId, every: audit.every, url: schedules });
    if (demo) {
      await publishExample(stack, connection, storageFor(stack.bucket), demo, ui);
      if (demo.exit) worker.shutdown();
    }
    if (!demo?.exit) say('\nPress Ctrl-C to stop.', 'running until Ctrl-C', { event: 'stack-waiting' });
    await running;
    await ui.close();
    await connection.close();
  } finally {
    say('stopping the local stack', 'stopping the local stack', { event: 'stack-stopping' });
    await stack.stop();
  }
}

function printStack(stack: LocalStack, ui: StatusServer): void {
  say(
    [
      'Local stack is up:',
      `  Temporal        ${stack.temporalAddress}   (export TEMPORAL_ADDRESS=${stack.temporalAddress})`,
      `  Temporal Web UI ${stack.temporalUiUrl}`,
      `  status page     ${ui.url}   (pushcache's read-only view of the bucket)`,
      `  MinIO (S3)      ${stack.minioEndpoint}   bucket ${stack.bucket}`,
      `  MinIO console   ${stack.minioConsoleUrl}`,
      `  credentials     export PUSHCACHE_AWS_ACCESS_KEY_ID=${DEV_CREDENTIALS.accessKeyId} PUSHCACHE_AWS_SECRET_ACCESS_KEY=${DEV_CREDENTIALS.secretAccessKey}   (development only)`,
      `  worker          polling task queue "${TASK_QUEUE}" in namespace "${NAMESPACE}"`,
      stack.started.length
        ? `  started here    ${stack.started.join(', ')}, state and logs in ${stack.stateDir}`
        : '  reused          servers that were already running',
    ].join('\n'),
    'local stack is up',
    // The development credentials stay out of the event; the text shows them for copying.
    {
      event: 'stack-up',
      temporalAddress: stack.temporalAddress,
      temporalUiUrl: stack.temporalUiUrl,
      statusPageUrl: ui.url,
      minioEndpoint: stack.minioEndpoint,
      minioConsoleUrl: stack.minioConsoleUrl,
      bucket: stack.bucket,
      taskQueue: TASK_QUEUE,
      namespace: NAMESPACE,
      started: stack.started,
      stateDir: stack.stateDir,
    },
  );
}

async function publishExample(stack: LocalStack, connection: NativeConnection, storage: S3Storage, demo: { source: string; app: string }, ui: StatusServer): Promise<void> {
  const settings = resolvePublishSettings({ source: demo.source, prefix: demo.app, image: `example.local/${demo.app}:demo` });
  const temporal = { address: stack.temporalAddress, namespace: NAMESPACE, taskQueue: TASK_QUEUE, uiUrl: stack.temporalUiUrl };
  say(`\nPublishing ${demo.source} as ${demo.app}:`, `publishing ${demo.source} as ${demo.app}`, { event: 'demo-publishing', source: demo.source, app: demo.app });
  const outcome = await populate(settings, {
    client: new Client({ connection, namespace: NAMESPACE }),
    connection,
    storage,
    bucket: stack.bucket,
    temporal,
    report: reportTo(currentLog(), '  '),
  });
  const keys: string[] = [];
  for await (const o of storage.list(dataPrefix(demo.app))) keys.push(o.key);
  const manifests: string[] = [];
  for await (const o of storage.list(manifestPrefix(demo.app))) manifests.push(o.key);
  const url = runUrl(stack.temporalUiUrl, NAMESPACE, outcome.workflowId, outcome.runId);
  const statusPage = new URL(appPath(demo.app), ui.url).href;
  say(
    [
      '',
      'Where to look:',
      `  the run         ${url}`,
      `  status page     ${statusPage}`,
      `  bucket          s3://${stack.bucket} at ${stack.minioEndpoint} (console ${stack.minioConsoleUrl})`,
      `  manifests       ${manifests.join(', ')}`,
      `  data objects    ${keys.length} under ${dataPrefix(demo.app)}:`,
      ...keys.map((k) => `    ${k}`),
    ].join('\n'),
    'where to look',
    { event: 'demo-published', app: demo.app, url, statusPageUrl: statusPage, bucket: stack.bucket, manifests, keys },
  );
}

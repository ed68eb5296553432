import type { Command } from 'commander';
import { formatWithOptions } from 'node:util';
import { DefaultLogger, Runtime, type Logger, type TelemetryOptions } from '@temporalio/worker';
import { resolveLogSettings, type ResolvedLogSettings } from '../config';
import { oneLine } from '../errors';
import { createLog, currentLog, installLog, redactFields, type Log, type LogLevel } from './log';
import { DURATION_BUCKETS } from './metric-names';

/** Thrown when the metrics endpoint cannot listen where it was told to. */
export class MetricsEndpointError extends Error {
  override readonly name = 'MetricsEndpointError';
}

export interface InstallRuntimeOptions {
  /** `host:port` the Prometheus endpoint listens on; undefined serves no metrics. */
  metricsAddress?: string;
}

/**
 * Installs the Temporal SDK's process-wide runtime: the logger every command shares and, for
 * the worker, the Prometheus exporter that serves the SDK's metrics and pushcache's own on one
 * endpoint. Must run before the first connection; the SDK allows one runtime per process.
 */
export function installRuntime(options: InstallRuntimeOptions = {}): Runtime {
  const telemetryOptions: TelemetryOptions | undefined = options.metricsAddress
    ? {
        metrics: {
          prometheus: {
            bindAddress: options.metricsAddress,
            // Prometheus' naming conventions: counters end in _total, histograms name their unit.
            countersTotalSuffix: true,
            unitSuffix: true,
            histogramBucketOverrides: DURATION_BUCKETS,
          },
        },
      }
    : undefined;
  try {
    return Runtime.install({ logger: createLogger(), ...(telemetryOptions ? { telemetryOptions } : {}) });
  } catch (err) {
    if (!options.metricsAddress) throw err;
    throw new MetricsEndpointError(
      `cannot serve metrics on ${options.metricsAddress} (${oneLine(err)}); choose a free address with --metrics-address / PUSHCACHE_METRICS_ADDRESS, or 'off'`,
    );
  }
}

let sdkLevel: ResolvedLogSettings['sdkLevel'] = 'WARN';

/**
 * Installs the process-wide log with the command's `--log-format` and `--log-level`, and
 * remembers the level of the SDK's own lines; runs before the runtime is installed.
 */
export function installLogging(settings: ResolvedLogSettings): Log {
  sdkLevel = settings.sdkLevel;
  return installLog(createLog(settings));
}

/**
 * The SDK's own log lines, through pushcache's log: in json mode they are JSON lines like the
 * rest, in pretty mode the text they always were, on stderr. At INFO they drown the Job's
 * progress lines; warnings and errors still show, except the one every activity-only worker
 * (the Job's) logs by design.
 */
export function createLogger(log: Log = currentLog(), level: ResolvedLogSettings['sdkLevel'] = sdkLevel): Logger {
  return new DefaultLogger(level, (entry) => {
    if (entry.message.startsWith('No workflows registered')) return;
    const time = new Date(Number(entry.timestampNanos / 1_000_000n));
    if (entry.message === 'Activity failed') {
      const failed = describeActivityFailure(entry.meta ?? {});
      log.write({ level: entry.level.toLowerCase() as LogLevel, msg: failed.msg, fields: failed.fields, time, pretty: `${time.toISOString()} [${entry.level}] ${failed.msg}`, prettyStream: 'stderr' });
      return;
    }
    const meta = entry.meta ?? {};
    log.write({
      level: entry.level.toLowerCase() as LogLevel,
      msg: entry.message,
      fields: { logger: 'temporal', ...meta },
      time,
      pretty: `${time.toISOString()} [${entry.level}] ${prettySdkLine(entry.message, meta)}`,
      prettyStream: 'stderr',
    });
  });
}

/**
 * The text of an SDK line in pretty mode: one line, its fields redacted as the JSON lines' are.
 * A line an activity logs carries the activity's whole context (its task token among it, a
 * credential for completing the task): in pretty mode it is the message and which activity of
 * which run said it.
 */
function prettySdkLine(message: string, meta: Record<string, unknown>): string {
  if (meta.sdkComponent === 'activity') return `${message} (${String(meta.activityType)} of ${String(meta.workflowId)})`;
  return Object.keys(meta).length > 0 ? formatWithOptions({ breakLength: Infinity }, message, redactFields(meta)) : message;
}

/**
 * A failed activity attempt as one line: which activity, which attempt, why. The SDK's own entry
 * carries the task token (a credential for completing the task) and a multi-line stack.
 */
export function describeActivityFailure(meta: Record<string, unknown>): { msg: string; fields: Record<string, unknown> } {
  const error = meta.error instanceof Error ? oneLine(meta.error) : String(meta.error ?? 'unknown error');
  const fields = {
    logger: 'temporal',
    event: 'activity-attempt-failed',
    activityType: meta.activityType,
    attempt: meta.attempt,
    workflowId: meta.workflowId,
    error,
  };
  return { msg: `activity ${String(meta.activityType)} attempt ${String(meta.attempt)} failed: ${error}`, fields };
}

const installsOwnRuntime = new WeakSet<Command>();

/** Marks a command whose action installs the runtime itself, with settings parsed from its flags. */
export function withOwnRuntime(cmd: Command): Command {
  installsOwnRuntime.add(cmd);
  return cmd;
}

/**
 * Installs the log (from the command's own flags) and the logging-only runtime before any
 * command runs that does not install its own. Nothing is installed when a module is merely
 * imported, so tests can load the commands.
 */
export function installRuntimeBeforeActions(program: Command): Command {
  return program.hook('preAction', (_program, command) => {
    installLogging(resolveLogSettings(command.optsWithGlobals()));
    if (!installsOwnRuntime.has(command)) installRuntime();
  });
}

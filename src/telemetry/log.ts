/**
 * pushcache's log lines. `pretty` is the human text pushcache always printed (operators and
 * tests read it); `json` is one object per line, `{"time","level","msg",...fields}`, for log
 * collectors. Both send debug and info to stdout and warnings and errors to stderr: the split
 * operators already know from the pretty lines, and the one most collectors turn into a
 * severity when a line carries none they understand.
 */

import type { LogLevel, LogSettings } from '../log-levels';

export { LOG_LEVELS, type LogFormat, type LogLevel, type LogSettings } from '../log-levels';
export type LogFields = Record<string, unknown>;

export interface LogLine {
  level: LogLevel;
  msg: string;
  fields?: LogFields;
  /** When it happened, if not now (the SDK stamps its own lines). */
  time?: Date;
  /** The pretty text, when it is not `pushcache: [warning: |error: ]msg`. */
  pretty?: string;
  /** The pretty stream, when it is not the level's. */
  prettyStream?: 'stdout' | 'stderr';
}

export interface Sink {
  write(text: string): unknown;
}

export interface Log {
  readonly settings: LogSettings;
  enabled(level: LogLevel): boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  write(line: LogLine): void;
}

/**
 * What the job modules report: one line for people, and for machines the event it stands for.
 * A plain `(line) => ...` is a valid Report, so the modules are tested without a logger.
 */
export type Report = (msg: string, event?: ReportEvent) => void;
export type ReportEvent = LogFields & { event: string; level?: 'debug' | 'warn' };

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

export function createLog(settings: LogSettings, sinks: { stdout: Sink; stderr: Sink } = process, now: () => Date = () => new Date()): Log {
  const enabled = (level: LogLevel) => RANK[level] >= RANK[settings.level];
  const write = (line: LogLine) => {
    if (!enabled(line.level)) return;
    const toStderr = RANK[line.level] >= RANK.warn;
    if (settings.format === 'json') {
      (toStderr ? sinks.stderr : sinks.stdout).write(`${jsonLine(line, line.time ?? now())}\n`);
    } else {
      const stream = line.prettyStream ?? (toStderr ? 'stderr' : 'stdout');
      sinks[stream].write(`${line.pretty ?? `pushcache: ${prettyMessage(line.level, line.msg)}`}\n`);
    }
  };
  const at = (level: LogLevel) => (msg: string, fields?: LogFields) => write({ level, msg, fields });
  return { settings, enabled, write, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The message as pretty mode words it: warnings and errors say so, as they always did. */
export function prettyMessage(level: LogLevel, msg: string): string {
  return level === 'warn' ? `warning: ${msg}` : level === 'error' ? `error: ${msg}` : msg;
}

/**
 * A job's report as log lines. In pretty mode every report line stays on stdout, where the Job
 * always printed its story (warnings included), and `prefix` stands before each, as in `demo`.
 */
export function reportTo(log: Log, prefix = 'pushcache: '): Report {
  return (msg, event) => {
    const { level = 'info', ...fields } = event ?? {};
    log.write({ level, msg, fields, pretty: `${prefix}${prettyMessage(level, msg)}`, prettyStream: 'stdout' });
  };
}

function jsonLine(line: LogLine, time: Date): string {
  const out: LogFields = { time: time.toISOString(), level: line.level, msg: line.msg };
  // The three keys above are what every consumer relies on; a field never replaces them.
  for (const [key, value] of Object.entries(line.fields ?? {})) {
    if (value !== undefined && !(key in out)) out[key] = safeValue(key, value, 0, new WeakSet());
  }
  return JSON.stringify(out);
}

// Names of fields whose values are never written, however a value got there (a connection
// options object, an SDK error's metadata...). Matched against every key, nested ones included.
const SECRET_NAME = /secret|passw|token|api[-_]?key|access[-_]?key|credential|authori[sz]ation|private[-_]?key|cookie|session|signature|^(tls|metadata|headers)$/i;
export const REDACTED = '[redacted]';
const MAX_DEPTH = 6;

/** A value JSON can hold, with secret-looking fields redacted; bigints, errors and cycles are made printable. */
function safeValue(key: string, value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (SECRET_NAME.test(key)) return REDACTED;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return REDACTED;
  if (seen.has(value) || depth >= MAX_DEPTH) return '[...]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => safeValue('', v, depth + 1, seen));
  const out: LogFields = {};
  for (const [k, v] of Object.entries(value)) out[k] = safeValue(k, v, depth + 1, seen);
  return out;
}

/** `fields` as a log line writes them: secret-looking values redacted; for text that is not written through `Log`. */
export function redactFields(fields: Record<string, unknown>): LogFields {
  return safeValue('', fields, 0, new WeakSet()) as LogFields;
}

let current: Log = createLog({ format: 'pretty', level: 'info' });

/**
 * The process-wide log, installed once before a command runs (as the SDK's runtime is); until
 * then pretty at info, today's output.
 */
export function installLog(log: Log): Log {
  current = log;
  return log;
}

export function currentLog(): Log {
  return current;
}

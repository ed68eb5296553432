import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findBinary } from './binaries';
import { isListening, startProcess, waitUntil, type ServerProcess } from './process';

export interface TemporalDevOptions {
  host?: string;
  port: number;
  /** Web UI port; undefined runs headless. */
  uiPort?: number;
  /** SQLite file that keeps runs across restarts; undefined keeps them in memory. */
  dbFile?: string;
  namespace?: string;
  /** Register the search attributes runs are filtered by in the UI. Default true. */
  registerSearchAttributes?: boolean;
  logDir: string;
  /** The `temporal` binary; default findBinary's. */
  binary?: string;
  /**
   * Ready only once the server's log names its port (the CLI's `Server:  localhost:PORT` line), or
   * it has listened for 10 s while alive: on a shared machine, something else may have taken a port
   * that was free a moment before, and its listening must not pass for this server's.
   */
  confirmInLog?: boolean;
  /** Stop the server when this process exits, even by SIGKILL (see watchdog.ts). */
  dieWithParent?: { removeDir?: string };
}

export interface TemporalDevServer {
  address: string;
  uiUrl?: string;
  process: ServerProcess;
}

export async function startTemporalDev(options: TemporalDevOptions): Promise<TemporalDevServer> {
  const host = options.host ?? '127.0.0.1';
  const args = ['server', 'start-dev', '--ip', host, '--port', String(options.port), '--log-level', 'warn', '--namespace', options.namespace ?? 'default'];
  if (options.uiPort !== undefined) args.push('--ui-port', String(options.uiPort), '--ui-ip', host);
  else args.push('--headless');
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  if (options.registerSearchAttributes !== false) {
    args.push('--search-attribute', 'PushcacheApp=Keyword', '--search-attribute', 'PushcacheImage=Keyword');
  }
  const logFile = path.join(options.logDir, `temporal-${options.port}.log`);
  const proc = startProcess('temporal', options.binary ?? findBinary('temporal'), args, { logFile, dieWithParent: options.dieWithParent });
  try {
    let listeningSince: number | undefined;
    const ready = async () => {
      if (!(await isListening(host, options.port))) return false;
      if (!options.confirmInLog) return true;
      listeningSince ??= Date.now();
      return logNames(logFile, options.port) || Date.now() - listeningSince > 10_000;
    };
    await waitUntil(`Temporal dev server on ${host}:${options.port}`, ready, {
      timeoutMs: 60_000,
      process: proc,
      logFile,
    });
    if (options.uiPort !== undefined) {
      await waitUntil('Temporal Web UI', () => isListening(host, options.uiPort!), { timeoutMs: 30_000, process: proc, logFile });
    }
  } catch (err) {
    // A server that never got ready is not left running.
    await proc.stop();
    throw err;
  }
  return {
    address: `${host}:${options.port}`,
    uiUrl: options.uiPort !== undefined ? `http://${host}:${options.uiPort}` : undefined,
    process: proc,
  };
}

function logNames(logFile: string, port: number): boolean {
  try {
    return readFileSync(logFile, 'utf8').includes(`:${port}\n`);
  } catch {
    return false;
  }
}

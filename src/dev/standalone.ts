import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary, toolCacheDir } from './binaries';
import { freePort } from './process';
import { startTemporalDev } from './temporal-server';

/** Thrown when standalone mode has no Temporal CLI to run its dev server with. */
export class TemporalBinaryMissingError extends Error {
  override readonly name = 'TemporalBinaryMissingError';
}

/** Thrown when the Job's own dev server does not come up. */
export class StandaloneStartError extends Error {
  override readonly name = 'StandaloneStartError';
}

export interface StandaloneTemporal {
  address: string;
  namespace: string;
  /** Scratch directory: the SQLite file and the server's log. Removed once the server stopped cleanly. */
  dir: string;
  pid: number;
  /** Stops the server and waits for it (and the removal of `dir`). */
  stop(): Promise<void>;
  /** Asks the server to stop without waiting: for a process about to exit. */
  stopSoon(): void;
}

/**
 * The Job's own Temporal dev server, for `populate` when no Temporal is configured: on free
 * loopback ports (the CLI picks free ones for its HTTP API and metrics itself), headless, a database in a fresh temp directory, pushcache's search attributes
 * registered, its output in a log file there (so `--log-format json` keeps every line JSON), and
 * under a watchdog so that it dies with the Job even when the Job is SIGKILLed.
 */
export async function startStandaloneTemporal(options: { namespace?: string; env?: NodeJS.ProcessEnv } = {}): Promise<StandaloneTemporal> {
  const env = options.env ?? process.env;
  const binary = temporalBinary(env);
  const namespace = options.namespace ?? 'default';
  // A port picked free can be taken before the server binds it; another pick fixes that.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-standalone-'));
    const port = await freePort();
    try {
      const server = await startTemporalDev({
        host: '127.0.0.1',
        port,
        dbFile: path.join(dir, 'temporal.db'),
        logDir: dir,
        namespace,
        binary,
        dieWithParent: { removeDir: dir },
        confirmInLog: true,
      });
      return {
        address: server.address,
        namespace,
        dir,
        pid: server.process.pid,
        stop: () => server.process.stop(),
        stopSoon: () => void server.process.stop(),
      };
    } catch (err) {
      lastError = new StandaloneStartError(`the standalone Temporal dev server did not start: ${lastLogLine(dir) ?? (err as Error).message}`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

function temporalBinary(env: NodeJS.ProcessEnv): string {
  try {
    return findBinary('temporal', env);
  } catch (err) {
    if (env.PUSHCACHE_TEMPORAL_BIN) throw new TemporalBinaryMissingError(`${(err as Error).message}; standalone mode runs Temporal's dev server with it`);
    throw new TemporalBinaryMissingError(
      `no Temporal is configured, so populate runs standalone, which needs the \`temporal\` CLI (Temporal's dev server): none was found ` +
        `on PATH, in PUSHCACHE_TEMPORAL_BIN or in ${toolCacheDir(env)}; install it (https://docs.temporal.io/cli, or use the pushcache image, ` +
        `which ships it), or point pushcache at a Temporal cluster with TEMPORAL_ADDRESS`,
    );
  }
}

/** The server's last words, for an error line that outlives the pod's scratch directory. */
function lastLogLine(dir: string): string | undefined {
  try {
    const text = readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => readFileSync(path.join(dir, f), 'utf8'))
      .join('\n');
    return text.trim().split('\n').filter(Boolean).at(-1)?.slice(0, 500);
  } catch {
    return undefined;
  }
}

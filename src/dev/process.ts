import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL if the server has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the process exits, for whatever reason. */
  readonly exited: Promise<number | null>;
}

/** The watchdog a server runs under when it must die with this process (see watchdog.ts). */
export const WATCHDOG = [path.resolve(__dirname, 'watchdog.js'), path.resolve(__dirname, '..', '..', 'dist', 'dev', 'watchdog.js')].find((f) => existsSync(f)) ?? path.resolve(__dirname, 'watchdog.js');

export interface StartProcessOptions {
  env?: NodeJS.ProcessEnv;
  logFile: string;
  /**
   * Run the server under a watchdog that stops it when this process exits, even by SIGKILL, and
   * then removes `removeDir` if the server stopped cleanly.
   */
  dieWithParent?: { removeDir?: string };
}

/** Starts a server whose output goes to `logFile`, so a failed start can be diagnosed. */
export function startProcess(name: string, command: string, args: string[], options: StartProcessOptions): ServerProcess {
  // The file itself, not a pipe through this process: the server's last lines are kept even
  // when this process is gone first.
  const log = openSync(options.logFile, 'a');
  const env = { ...process.env, ...options.env };
  let child: ChildProcess;
  try {
    child = options.dieWithParent
      ? spawn(
          process.execPath,
          [WATCHDOG, ...(options.dieWithParent.removeDir ? ['--remove', options.dieWithParent.removeDir] : []), '--', command, ...args],
          { env, stdio: ['pipe', log, log] },
        )
      : spawn(command, args, { env, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  // Held open, never written: its end is the watchdog's signal. It must not keep this process alive.
  (child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  return {
    name,
    pid: child.pid ?? -1,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // A watchdog is told by closing its stdin, which it sees even if it is still starting up
      // (a signal then would kill it before it could pass it on); it gets its own grace period.
      if (options.dieWithParent) child.stdin?.destroy();
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), options.dieWithParent ? graceMs + 5000 : graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `check` until it resolves true; fails with the server's log file named. */
export async function waitUntil(what: string, check: () => Promise<boolean>, options: { timeoutMs: number; process?: ServerProcess; logFile?: string }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exited = false;
  void options.process?.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    if (exited) break;
    await sleep(200);
  }
  const why = exited ? 'exited during start-up' : `not ready after ${options.timeoutMs / 1000}s`;
  throw new Error(`${what} ${why}${options.logFile ? `; see ${options.logFile}` : ''}`);
}

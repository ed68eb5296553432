import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startMinio } from '../src/dev/minio-server';
import { freePort, startProcess, waitUntil, type ServerProcess } from '../src/dev/process';
import { startTemporalDev } from '../src/dev/temporal-server';
import { WORKER_NODE_FLAGS } from '../src/worker/node-flags';

/**
 * The servers of one bench run, on free loopback ports: one MinIO, and for pushcache one
 * Temporal dev server (in memory, headless) and one shared pushcache worker. Everything
 * started here is stopped by `stopServers()`.
 */

export const BENCH_CREDENTIALS = { accessKeyId: 'pushcache-bench', secretAccessKey: 'pushcache-bench-secret' } as const;
export const TASK_QUEUE = 'pushcache-bench';
const HOST = '127.0.0.1';

/** Every server started and not yet stopped. */
const processes: ServerProcess[] = [];

/** Stops the worker, then the servers (SIGTERM, then SIGKILL after 10 s). Safe to call more than once. */
export async function stopServers(): Promise<void> {
  const order = [...processes].reverse();
  processes.length = 0;
  for (const p of order) await p.stop(10_000).catch(() => undefined);
}

/** Last resort on process exit, when nothing can be awaited: SIGKILL whatever is still running. */
export function killServersNow(): void {
  for (const p of processes) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface BenchMinio {
  host: string;
  port: number;
  endpoint: string;
  pid: number;
}

export async function startBenchMinio(options: { workDir: string; logDir: string }): Promise<BenchMinio> {
  // startMinio passes the parent's environment through; this makes the metrics readable without a token.
  process.env.MINIO_PROMETHEUS_AUTH_TYPE = 'public';
  const port = await freePort(HOST);
  const minio = await startMinio({
    host: HOST,
    port,
    consolePort: await freePort(HOST),
    dataDir: path.join(options.workDir, 'minio'),
    logDir: options.logDir,
    ...BENCH_CREDENTIALS,
  });
  processes.push(minio.process);
  return { host: HOST, port, endpoint: minio.endpoint, pid: minio.process.pid };
}

export interface BenchPushcache {
  temporalAddress: string;
  temporalPid: number;
  /** PID of the shared pushcache worker, to read its peak RSS. */
  workerPid: number;
  /** Environment of the pushcache CLI (populate, prune), minus the bucket. */
  env: NodeJS.ProcessEnv;
}

/** A Temporal dev server and one shared worker (`pushcache worker`), polling until stopped. */
export async function startBenchPushcache(options: { minio: BenchMinio; logDir: string; cliPath: string }): Promise<BenchPushcache> {
  const temporal = await startTemporalDev({ host: HOST, port: await freePort(HOST), logDir: options.logDir });
  processes.push(temporal.process);
  const env: NodeJS.ProcessEnv = {
    TEMPORAL_ADDRESS: temporal.address,
    PUSHCACHE_TASK_QUEUE: TASK_QUEUE,
    PUSHCACHE_AWS_ENDPOINT: options.minio.endpoint,
    PUSHCACHE_AWS_ACCESS_KEY_ID: BENCH_CREDENTIALS.accessKeyId,
    PUSHCACHE_AWS_SECRET_ACCESS_KEY: BENCH_CREDENTIALS.secretAccessKey,
  };
  const logFile = path.join(options.logDir, 'worker.log');
  // With the node flags and the environment of deploy/worker-deployment.yaml, as the worker runs there.
  const workerEnv = { ...env, MALLOC_ARENA_MAX: '2' };
  const worker = startProcess('worker', process.execPath, [...WORKER_NODE_FLAGS, options.cliPath, 'worker', '--metrics-address', 'off', '--health-address', 'off'], { logFile, env: workerEnv });
  processes.push(worker);
  await waitUntil('pushcache worker', async () => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('worker polling'), {
    timeoutMs: 60_000,
    process: worker,
    logFile,
  });
  return { temporalAddress: temporal.address, temporalPid: temporal.process.pid, workerPid: worker.pid, env };
}

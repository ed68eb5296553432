import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/** Runs one tool command and measures its wall time and peak RSS; nothing else. */

export interface Command {
  bin: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export interface Measurement {
  ok: boolean;
  wallMs: number;
  /** Peak resident set size of the tool's process in KiB (`/usr/bin/time -f %M`), when measurable. */
  peakRssKb?: number;
  /** CPU-seconds, user plus system, of the tool's process and every child it waited for (`%U` + `%S`). */
  cpuS?: number;
  exitCode: number | null;
  /** Why it failed: the last line the tool printed, or a timeout. */
  failure?: string;
}

const running = new Map<ChildProcess, Promise<unknown>>();

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/**
 * Stops a command's process group: SIGINT first, which GNU time ignores while the tool exits
 * on it, so time reaps the tool (no zombie is left); SIGKILL after `graceMs`.
 */
async function stopGroup(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  signalGroup(child, 'SIGINT');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Set once the bench is stopping: no new command starts after that. */
let stopped = false;

/** Stops every tool command still running (on Ctrl-C or a failure of the bench). */
export async function stopRunningCommands(): Promise<void> {
  stopped = true;
  await Promise.all([...running].map(([child, exited]) => stopGroup(child, exited, 3000)));
}

/** Last resort on process exit: SIGKILL every running command's process group. */
export function killRunningCommands(): void {
  for (const child of running.keys()) signalGroup(child, 'SIGKILL');
}

/**
 * Runs `cmd` in its own process group, its output appended to `logFile`. With `timeBin`
 * (GNU time) the command runs under `time -f %M` and its peak RSS is read from the result file.
 */
export async function measure(cmd: Command, options: { logFile: string; timeBin?: string; timeoutMs: number }): Promise<Measurement> {
  if (stopped) throw new Error('the bench is stopping');
  const rssFile = `${options.logFile}.rss`;
  rmSync(rssFile, { force: true });
  const [bin, args] = options.timeBin ? [options.timeBin, ['-f', '%M %U %S', '-o', rssFile, cmd.bin, ...cmd.args]] : [cmd.bin, cmd.args];
  const log = openSync(options.logFile, 'a');
  writeSync(log, `\n$ ${[cmd.bin, ...cmd.args].join(' ')}\n`);
  const started = process.hrtime.bigint();
  const child = spawn(bin, args, { env: { ...process.env, ...cmd.env }, stdio: ['ignore', log, log], detached: true });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      writeSync(log, `${err.message}\n`);
      resolve(-1);
    });
  });
  running.set(child, exited);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void stopGroup(child, exited, 3000);
  }, options.timeoutMs);
  const exitCode = await exited;
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  clearTimeout(timer);
  running.delete(child);
  closeSync(log);
  const { peakRssKb, cpuS } = readTimes(rssFile);
  const ok = exitCode === 0 && !timedOut;
  const failure = ok ? undefined : timedOut ? `timed out after ${Math.round(options.timeoutMs / 1000)} s` : `exit ${exitCode}: ${lastLine(options.logFile)}`;
  return { ok, wallMs, peakRssKb, cpuS, exitCode, failure };
}

function readTimes(file: string): { peakRssKb?: number; cpuS?: number } {
  if (!existsSync(file)) return {};
  // On a non-zero exit GNU time writes "Command exited with non-zero status N" before the values.
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const [rss, user, sys] = lines[lines.length - 1].trim().split(/\s+/).map(Number);
  const cpu = user + sys;
  return { peakRssKb: Number.isFinite(rss) && rss > 0 ? rss : undefined, cpuS: Number.isFinite(cpu) ? cpu : undefined };
}

function lastLine(file: string): string {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('$ '));
  return (lines[lines.length - 1] ?? 'no output').slice(0, 200);
}

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
  exitCode: number | null;
  /** Why it failed: the last line the tool printed, or a timeout. */
  failure?: string;
}

const running = new Set<ChildProcess>();

/** Kills every tool command still running, with its whole process group (used on Ctrl-C and on failure). */
export function killRunningCommands(): void {
  for (const child of running) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Runs `cmd` in its own process group, its output appended to `logFile`. With `timeBin`
 * (GNU time) the command runs under `time -f %M` and its peak RSS is read from the result file.
 */
export async function measure(cmd: Command, options: { logFile: string; timeBin?: string; timeoutMs: number }): Promise<Measurement> {
  const rssFile = `${options.logFile}.rss`;
  rmSync(rssFile, { force: true });
  const [bin, args] = options.timeBin ? [options.timeBin, ['-f', '%M', '-o', rssFile, cmd.bin, ...cmd.args]] : [cmd.bin, cmd.args];
  const log = openSync(options.logFile, 'a');
  writeSync(log, `\n$ ${[cmd.bin, ...cmd.args].join(' ')}\n`);
  const started = process.hrtime.bigint();
  const child = spawn(bin, args, { env: { ...process.env, ...cmd.env }, stdio: ['ignore', log, log], detached: true });
  running.add(child);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, options.timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      writeSync(log, `${err.message}\n`);
      resolve(-1);
    });
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  clearTimeout(timer);
  running.delete(child);
  closeSync(log);
  const peakRssKb = readRss(rssFile);
  const ok = exitCode === 0 && !timedOut;
  const failure = ok ? undefined : timedOut ? `timed out after ${Math.round(options.timeoutMs / 1000)} s` : `exit ${exitCode}: ${lastLine(options.logFile)}`;
  return { ok, wallMs, peakRssKb, exitCode, failure };
}

function readRss(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  // On a non-zero exit GNU time writes "Command exited with non-zero status N" before the value.
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const value = Number(lines[lines.length - 1]);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

function lastLine(file: string): string {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('$ '));
  return (lines[lines.length - 1] ?? 'no output').slice(0, 200);
}

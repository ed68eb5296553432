import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cleanEnv } from './cli';

export interface SlowWorker {
  child: ChildProcess;
  /** Every complete line the worker printed so far. */
  lines: string[];
  /** Waits until a printed line matches; fails fast, naming `what` it waited for, if the worker exits first. */
  seen(match: (line: string) => boolean, what?: string): Promise<void>;
}

const spawned = new Set<ChildProcess>();

/** SIGKILLs every slow worker still running, so that a failed test leaves none behind: `afterEach(killSlowWorkers)`. */
export function killSlowWorkers(): void {
  for (const child of spawned) if (child.exitCode === null) child.kill('SIGKILL');
  spawned.clear();
}

/**
 * Starts slow-worker.js in its own process (so a test can SIGKILL it) with only the given
 * environment, collecting what it prints line by line.
 */
export function spawnSlowWorker(env: Record<string, string>): SlowWorker {
  const child = spawn(process.execPath, [path.join(__dirname, 'slow-worker.js')], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  spawned.add(child);
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  const seen = async (match: (line: string) => boolean, what?: string) => {
    while (!lines.some(match)) {
      if (child.exitCode !== null) throw new Error(`the worker exited (${child.exitCode})${what === undefined ? '' : ` before ${what}`}; it printed ${JSON.stringify(lines)}`);
      await sleep(20);
    }
  };
  return { child, lines, seen };
}

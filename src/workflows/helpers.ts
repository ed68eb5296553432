import { describeFailure } from './failures';

/**
 * Runs `fn(0)` … `fn(count - 1)` in at most `n` lanes at once, each lane taking the next index
 * when its last call ends. Indexes are handed out in order, so a replay issues the same commands.
 */
export async function lanes(n: number, count: number, fn: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, count) }, lane));
}

/** Runs one activity as a phase of a run: `progress` shows the phase, the failure names the step. */
export function step<P, T>(progress: { phase: P }, phase: P, label: string, fn: () => Promise<T>): Promise<T> {
  progress.phase = phase;
  return describeFailure(label, fn);
}

/**
 * The attempts part of a retry policy from `--max-attempts`: 0 means unlimited, which the SDK
 * spells as no `maximumAttempts` (it refuses 0, and a refused policy fails every workflow task).
 */
export function attemptsOf(maxAttempts: number): { maximumAttempts?: number } {
  return maxAttempts > 0 ? { maximumAttempts: maxAttempts } : {};
}

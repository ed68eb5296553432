import { Context } from '@temporalio/activity';

export interface ProgressHeartbeat {
  /** Something moved (bytes sent, a file done): the next beat goes out. */
  advanced(): void;
  /** Sends the details now, e.g. before an attempt fails, so its retry resumes there. */
  flush(): void;
  stop(): void;
}

/**
 * Heartbeats that report progress, not mere liveness: a beat goes out only when something
 * moved since the last one. An activity stuck on a store that stopped answering then stops
 * beating, times out after its heartbeat timeout, and is retried (on this Job or a new one)
 * from the last details it reported. A timer beating regardless kept such a batch "alive"
 * long after the store came back.
 */
export function progressHeartbeat(details: () => unknown, intervalMs: number, ctx: Context | undefined = currentContext()): ProgressHeartbeat {
  if (!ctx) return { advanced: () => undefined, flush: () => undefined, stop: () => undefined };
  let moved = false;
  const timer = setInterval(() => {
    if (!moved) return;
    moved = false;
    ctx.heartbeat(details());
  }, intervalMs);
  return {
    advanced: () => {
      moved = true;
    },
    flush: () => ctx.heartbeat(details()),
    stop: () => clearInterval(timer),
  };
}

/**
 * Beats on a timer while `work` runs: for local work (hashing the tree again after a Job
 * restart) that reports no progress of its own and cannot hang on the store.
 */
export async function beatingWhile<T>(work: () => Promise<T>, intervalMs: number): Promise<T> {
  const ctx = currentContext();
  if (!ctx) return work();
  const timer = setInterval(() => ctx.heartbeat(), intervalMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** The running activity's context; undefined when called outside one (a unit test calling an activity directly). */
function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

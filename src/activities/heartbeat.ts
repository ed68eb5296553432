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
export function progressHeartbeat(details: () => unknown, intervalMs: number, ctx: Context = Context.current()): ProgressHeartbeat {
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

import { ConfigError, InvalidNameError, SourceError, oneLine } from '../errors';

/** Exit codes a Kubernetes operator can tell apart. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, interrupted: 130 } as const;

/**
 * Runs a command and turns any error into one line on stderr and an exit code: the last log
 * line and the exit code are all an operator sees of a failed Job.
 */
export async function runCommand(action: () => Promise<void>): Promise<never> {
  try {
    await action();
    process.exit(EXIT.ok);
  } catch (err) {
    console.error(`pushcache: error: ${oneLine(err)}`);
    if (process.env.PUSHCACHE_DEBUG && err instanceof Error) console.error(err.stack);
    process.exit(isBadInput(err) ? EXIT.badInput : EXIT.failed);
  }
}

function isBadInput(err: unknown): boolean {
  return err instanceof ConfigError || err instanceof InvalidNameError || err instanceof SourceError;
}

import { ConfigError, InvalidNameError, SourceError, oneLine } from '../errors';
import { currentLog } from '../telemetry/log';

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
    exitWithError(err);
  }
}

/** The error line, last of all (in json mode with the exit code), then the exit. */
export function exitWithError(err: unknown): never {
  const log = currentLog();
  const exitCode = isBadInput(err) ? EXIT.badInput : EXIT.failed;
  const stack = process.env.PUSHCACHE_DEBUG && err instanceof Error ? err.stack : undefined;
  if (log.settings.format === 'json') {
    log.error(oneLine(err), { event: 'failed', exitCode, errorType: err instanceof Error ? err.name : undefined, stack });
  } else {
    log.error(oneLine(err));
    if (stack) process.stderr.write(`${stack}\n`);
  }
  process.exit(exitCode);
}

function isBadInput(err: unknown): boolean {
  return err instanceof ConfigError || err instanceof InvalidNameError || err instanceof SourceError;
}

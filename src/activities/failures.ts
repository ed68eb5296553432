import { ApplicationFailure } from '@temporalio/common';
import { isPushcacheError, oneLine } from '../errors';

/**
 * Turns pushcache's typed errors into Temporal failures: permanent ones become non-retryable
 * so the workflow fails fast with the message a person needs; the rest keep their type and retry.
 */
export function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (isPushcacheError(err)) {
    return ApplicationFailure.create({ type: err.type, message: oneLine(err), nonRetryable: err.permanent });
  }
  return err;
}

/** Wraps every function of an activity object so errors cross the boundary as typed failures. */
export function withFailureTranslation<T extends Record<string, (...args: never[]) => Promise<unknown>>>(acts: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(acts)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toFailure(err);
      }
    };
  }
  return wrapped as T;
}

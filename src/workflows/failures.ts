import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure } from '@temporalio/workflow';

// Mirrors PERMANENT_FAILURE_TYPES in src/errors.ts (a unit test keeps them equal); workflow
// code may import only @temporalio/workflow and types.
export const PERMANENT = ['ConfigError', 'InvalidName', 'SourceError', 'SourceChanged', 'AccessDenied', 'BucketNotFound', 'CorruptRecord', 'MissingReferences'];

/** Re-throws an activity's failure with the step and the root cause in one line. */
export async function describeFailure<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ActivityFailure) {
      const cause = err.cause;
      const message = cause instanceof Error ? cause.message : String(cause);
      const type = cause instanceof ApplicationFailure ? cause.type : cause?.name;
      throw ApplicationFailure.create({ type: type ?? 'StepFailed', message: `${step} failed: ${message}`, nonRetryable: true });
    }
    throw err;
  }
}

/** The innermost message of a child workflow's or activity's failure. */
export function rootMessage(err: unknown): string {
  let current: unknown = err;
  while ((current instanceof ChildWorkflowFailure || current instanceof ActivityFailure) && current.cause) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

import { PushcacheError } from '../errors';

/**
 * Thrown when a rollback cannot bring back the build it was asked for: no such build, no
 * copies of its entry files, or files a later build replaced. Retrying cannot change that.
 */
export class NotRestorableError extends PushcacheError {
  override readonly name = 'NotRestorableError';
  readonly type = 'NotRestorable';
  readonly permanent = true;
}

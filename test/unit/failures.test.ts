import { ApplicationFailure } from '@temporalio/common';
import { toFailure } from '../../src/activities/failures';
import { PERMANENT_FAILURE_TYPES, SourceError, StorageError } from '../../src/errors';
import { PERMANENT } from '../../src/workflows/failures';

describe('failure types', () => {
  it('the workflow treats exactly the permanent error types as non-retryable', () => {
    expect([...PERMANENT].sort()).toEqual([...PERMANENT_FAILURE_TYPES].sort());
  });

  it('turns permanent errors into non-retryable failures and keeps transient ones retryable', () => {
    const permanent = toFailure(new SourceError('source directory /x does not exist', '/x')) as ApplicationFailure;
    expect(permanent).toBeInstanceOf(ApplicationFailure);
    expect(permanent).toMatchObject({ type: 'SourceError', nonRetryable: true, message: 'source directory /x does not exist' });
    const transient = toFailure(new StorageError('StorageUnavailable', 'write failed')) as ApplicationFailure;
    expect(transient).toMatchObject({ type: 'StorageUnavailable', nonRetryable: false });
    const denied = toFailure(new StorageError('AccessDenied', 'refused')) as ApplicationFailure;
    expect(denied.nonRetryable).toBe(true);
    expect(PERMANENT_FAILURE_TYPES).toContain(denied.type);
  });

  it('passes unknown errors through so the SDK retries them', () => {
    const err = new Error('socket hang up');
    expect(toFailure(err)).toBe(err);
  });
});

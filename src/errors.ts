/**
 * Typed errors. Every error a person can act on carries the fix in its message and a stable
 * `type`, which is also the Temporal failure type when it crosses an activity boundary.
 */

/** Failure types that no retry can fix; activities fail with these as non-retryable. */
export const PERMANENT_FAILURE_TYPES = [
  'ConfigError',
  'InvalidName',
  'SourceError',
  'SourceChanged',
  'AccessDenied',
  'BucketNotFound',
  'CorruptRecord',
  'MissingReferences',
] as const;

export abstract class PushcacheError extends Error {
  abstract readonly type: string;
  /** True when retrying the same operation cannot succeed. */
  abstract readonly permanent: boolean;
}

/** Thrown when flags, environment or a workflow input fail validation. */
export class ConfigError extends PushcacheError {
  override readonly name = 'ConfigError';
  readonly type = 'ConfigError';
  readonly permanent = true;
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** Thrown when an app name or a file path would escape its place in the bucket. */
export class InvalidNameError extends PushcacheError {
  override readonly name = 'InvalidNameError';
  readonly type = 'InvalidName';
  readonly permanent = true;
}

/** Thrown when the source directory is missing or holds something that cannot be published. */
export class SourceError extends PushcacheError {
  override readonly name = 'SourceError';
  readonly type = 'SourceError';
  readonly permanent = true;
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** Thrown when the files on disk no longer match what a running publish staged. */
export class SourceChangedError extends PushcacheError {
  override readonly name = 'SourceChangedError';
  readonly type = 'SourceChanged';
  readonly permanent = true;
}

/**
 * Thrown by a storage backend when the bytes it was given to write are not the ones the caller
 * staged (other content, fewer or more bytes): the source file changed during the publish.
 * Nothing is left at the key by that write; retrying would only send the changed bytes again.
 */
export class ContentMismatchError extends PushcacheError {
  override readonly name = 'ContentMismatchError';
  readonly type = 'SourceChanged';
  readonly permanent = true;
  constructor(
    readonly key: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`the bytes sent for ${key} are not the ones staged (${detail}): the source changed during the publish`, options);
  }
}

export type StorageFailureKind = 'AccessDenied' | 'BucketNotFound' | 'TlsFailure' | 'StorageUnavailable' | 'StorageError';

/** Thrown by storage backends; `kind` says whether waiting can help. */
export class StorageError extends PushcacheError {
  override readonly name = 'StorageError';
  readonly permanent: boolean;
  constructor(
    readonly kind: StorageFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.permanent = kind === 'AccessDenied' || kind === 'BucketNotFound' || kind === 'TlsFailure';
  }
  get type(): string {
    return this.kind;
  }
}

/** Thrown when an object pushcache wrote itself (a staging record, a manifest) cannot be parsed. */
export class CorruptRecordError extends PushcacheError {
  override readonly name = 'CorruptRecordError';
  readonly type = 'CorruptRecord';
  readonly permanent = true;
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`object ${key} is corrupt: ${detail}`);
  }
}

/** How many missing paths a MissingReferences message names before "and K more". */
const MISSING_SHOWN = 10;

/**
 * Thrown by the reference gate: the build's fed-mods.json or index.html loads files of the app
 * that are neither in the build nor in the bucket. The asset proxy would answer them with
 * index.html, status 200, and every browser loading the build would break.
 */
export class MissingReferencesError extends PushcacheError {
  override readonly name = 'MissingReferencesError';
  readonly type = 'MissingReferences';
  readonly permanent = true;
  constructor(
    readonly app: string,
    readonly missing: readonly string[],
  ) {
    const shown = missing.slice(0, MISSING_SHOWN).join(', ');
    const more = missing.length > MISSING_SHOWN ? ` and ${missing.length - MISSING_SHOWN} more` : '';
    super(
      `the build of ${app} references ${missing.length} file${missing.length === 1 ? '' : 's'} that ${missing.length === 1 ? 'is' : 'are'} neither in the build nor under data/${app}/: ` +
        `${shown}${more}; nothing of the build went live: fix the build (or publish with --no-verify-references to let it through)`,
    );
  }
}

export function isPushcacheError(err: unknown): err is PushcacheError {
  return err instanceof PushcacheError;
}

/** The message of the deepest cause: what a failed workflow's activity actually said. */
export function innermostMessage(err: Error): string {
  let current: unknown = err;
  let message = err.message;
  while (current instanceof Error) {
    message = current.message;
    current = current.cause;
  }
  return message;
}

/**
 * An error as one line. pushcache's own messages are complete; a library's (the Temporal
 * client's "Failed to start Workflow") gets the messages of its causes appended.
 */
export function oneLine(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  while (current !== undefined && parts.length < 5) {
    const message = current instanceof Error ? current.message : String(current);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    if (isPushcacheError(current) || !(current instanceof Error)) break;
    current = current.cause;
  }
  return decodeXmlEntities(parts.join(': ')).replace(/\s+/g, ' ').trim();
}

const XML_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** S3 error messages come from XML bodies, where MinIO escapes quotes (`&#39;`); a person should read the quote. */
export function decodeXmlEntities(text: string): string {
  return text.replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
    }
    return XML_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

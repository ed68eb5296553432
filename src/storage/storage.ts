import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  /** Without quotes; see EtagHasher for what it says about the content. */
  etag?: string;
}

/** Where the bytes of an object come from; `open` may be called again when a write is retried. */
export type ObjectBody = Buffer | { size: number; open: () => Readable };

export interface WriteOptions {
  contentType: string;
  cacheControl: string;
  /** Stored as `x-amz-meta-*`; values must be ASCII. */
  metadata?: Record<string, string>;
  /**
   * Hex sha256 the caller staged for these bytes. The write fails with ContentMismatchError and
   * leaves no object behind (no completed multipart, no partial file) when the body's bytes
   * differ: changed, shrunk or grown source.
   */
  sha256?: string;
  /**
   * The ETag the object gets when the store receives exactly these bytes (see EtagHasher). A
   * backend that sends a body unsigned checks it against the store's answer, so bytes damaged on
   * the way fail the write (retryable) rather than going unnoticed.
   */
  etag?: string;
  /** Write only when no object has this key; put then resolves false without writing. */
  ifAbsent?: boolean;
  /**
   * Called as bytes of the body are consumed for sending, with the running total for this
   * attempt; lets a caller heartbeat on real progress.
   */
  onProgress?: (bytesSent: number) => void;
}

/**
 * The narrow surface pushcache needs from an object store. Keys are full keys inside the
 * bucket the backend was opened on.
 */
export interface Storage {
  /** A human description such as `s3://frontend at http://127.0.0.1:9000`; never includes secrets. */
  readonly description: string;
  /** Fails with a permanent StorageError when the bucket is missing or the credentials are refused. */
  checkAccess(): Promise<void>;
  /** Resolves true when written, false only when options.ifAbsent was set and the key already existed. */
  put(key: string, body: ObjectBody, options: WriteOptions): Promise<boolean>;
  /** Server-side copy keeping the source's content-type, cache-control and metadata; resolves false when the source does not exist. */
  copy(fromKey: string, toKey: string): Promise<boolean>;
  /** Writes only if no object has the key; resolves false when one already exists. Same as put with ifAbsent. */
  putIfAbsent(key: string, body: Buffer, options: WriteOptions): Promise<boolean>;
  /** Reads a small object whole; undefined when it does not exist. */
  get(key: string): Promise<Buffer | undefined>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** The next key segments under `prefix` (S3's common prefixes with delimiter `/`), without the trailing `/`. */
  listChildren(prefix: string): Promise<string[]>;
  delete(keys: readonly string[]): Promise<void>;
  /**
   * Server-side copy of an object this store holds onto a new key, with the destination's own
   * headers; the bytes never pass through this process. Optional: a store without it uploads.
   */
  copyFrom?(sourceKey: string, destKey: string, options: CopyFromOptions): Promise<CopyOutcome>;
}

export interface CopyFromOptions {
  /** The ETag (no quotes) the source must have, checked by the store in the copy request itself. */
  ifMatch: string;
  /** The source's size in bytes; a store that cannot check the ETag alone checks it too. */
  size: number;
  /** The destination's Content-Type, Cache-Control and metadata (the source's are not kept). */
  headers: Pick<WriteOptions, 'contentType' | 'cacheControl' | 'metadata'>;
  /** The hex sha256 of the bytes, which a store that reads them checks. */
  sha256?: string;
  /** Create only: never replace an object at destKey (stores that honour the condition). */
  ifAbsent?: boolean;
  /** Called as a long copy moves (each part copied), so a caller can heartbeat on real progress. */
  onProgress?: () => void;
}

/**
 * - `copied`: the destination holds the source's bytes with the given headers;
 * - `precondition-failed`: the source is gone, holds other bytes, or (create-only) the destination
 *   exists; nothing was written, and the caller uploads the bytes instead;
 * - `unsupported`: this store refuses server-side copies (NotImplemented, AccessDenied); it is
 *   not asked again by this process.
 */
export type CopyOutcome = 'copied' | 'precondition-failed' | 'unsupported';

/** An object opened for reading, with what the store keeps about it. */
export interface ObjectStream {
  body: Readable;
  size: number;
  contentType?: string;
  cacheControl?: string;
  /** User metadata (`x-amz-meta-*`), keys in lower case as S3 returns them. */
  metadata: Record<string, string>;
  etag?: string;
}

/**
 * A backend that can also stream an object out: both real backends. Kept apart from Storage
 * so that wrappers used by the pipeline need not forward it; `pop` needs it to copy large
 * files without holding them in memory.
 */
export interface ReadableStorage extends Storage {
  /** Opens an object; undefined when it does not exist. The caller must consume or destroy `body`. */
  read(key: string): Promise<ObjectStream | undefined>;
}

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ContentMismatchError, InvalidNameError, StorageError } from '../errors';
import { EtagHasher, PART_SIZE } from './etag';
import type { CopyFromOptions, CopyOutcome, ObjectBody, ObjectInfo, ObjectStream, ReadableStorage, WriteOptions } from './storage';

/** What the store keeps of one object: the bytes and what S3 keeps beside them. */
interface MemoryObject {
  bytes: Buffer;
  contentType: string;
  cacheControl: string;
  metadata: Record<string, string>;
  etag: string;
  lastModified: Date;
}

/**
 * The buckets of one in-memory "server": every MemoryStorage opened on the same map sees the
 * same objects, as activities opening the same S3 bucket do. A bucket exists once it is a key.
 */
export type MemoryBuckets = Map<string, Map<string, MemoryObject>>;

/** A fresh set of in-memory buckets, holding the named (empty) ones. */
export function memoryBuckets(...names: string[]): MemoryBuckets {
  return new Map(names.map((name) => [name, new Map<string, MemoryObject>()]));
}

export interface MemoryStorageOptions {
  /** Default `memory`. */
  bucket?: string;
  /** Shared with other MemoryStorage instances; without it the storage gets a bucket of its own. */
  buckets?: MemoryBuckets;
  /** Part size the ETags are computed for; the S3 backend's by default, so that republish skips agree. */
  partSize?: number;
  /** The time written objects get as lastModified; a test of age rules passes a fixed one. Default the clock's. */
  now?: () => Date;
}

/**
 * A complete Storage held in this process's memory, behaving as the S3 and filesystem backends
 * do in the shared behavioural suite (test/integration/storage-contract.test.ts): byte-ordered
 * listings read page by page, conditional writes decided atomically, staged sha256 and size
 * verified before anything is visible, S3's ETags, lower-cased metadata names, and a missing
 * bucket refused as permanent. Keys are S3's: `a` and `a/b` can both exist.
 *
 * For fast tests of activities and bucket records without a server, and for a dry run that
 * plays a publish or prune against a copy of a listing without touching the bucket. Nothing is
 * persisted: the objects live as long as the `buckets` map.
 */
export class MemoryStorage implements ReadableStorage {
  readonly description: string;
  private readonly buckets: MemoryBuckets;
  private readonly bucket: string;
  private readonly partSize: number;
  private readonly now: () => Date;

  constructor(options: MemoryStorageOptions = {}) {
    this.bucket = options.bucket ?? 'memory';
    this.buckets = options.buckets ?? memoryBuckets(this.bucket);
    this.partSize = options.partSize ?? PART_SIZE;
    this.now = options.now ?? (() => new Date());
    this.description = `memory://${this.bucket}`;
  }

  async checkAccess(): Promise<void> {
    this.objects();
  }

  async put(key: string, body: ObjectBody, options: WriteOptions): Promise<boolean> {
    return this.write(key, body, options, options.ifAbsent === true);
  }

  async putIfAbsent(key: string, body: Buffer, options: WriteOptions): Promise<boolean> {
    return this.write(key, body, options, true);
  }

  async copy(fromKey: string, toKey: string): Promise<boolean> {
    const objects = this.objects();
    checkKey(toKey, this.description);
    const source = objects.get(fromKey);
    if (!source) return false;
    if (!objects.has(toKey)) sorted.delete(objects);
    objects.set(toKey, { ...source, metadata: { ...source.metadata }, lastModified: this.now() });
    return true;
  }

  /** As S3's CopyObject with CopySourceIfMatch and If-None-Match: checked and written in one synchronous step. */
  async copyFrom(sourceKey: string, destKey: string, options: CopyFromOptions): Promise<CopyOutcome> {
    const objects = this.objects();
    checkKey(destKey, this.description);
    const source = objects.get(sourceKey);
    if (!source || source.etag !== options.ifMatch || source.bytes.length !== options.size) return 'precondition-failed';
    if (options.ifAbsent && objects.has(destKey)) return 'precondition-failed';
    objects.set(destKey, {
      bytes: source.bytes,
      contentType: options.headers.contentType,
      cacheControl: options.headers.cacheControl,
      metadata: Object.fromEntries(Object.entries(options.headers.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      etag: source.etag,
      lastModified: this.now(),
    });
    return 'copied';
  }

  async get(key: string): Promise<Buffer | undefined> {
    const object = this.objects().get(key);
    return object && Buffer.from(object.bytes);
  }

  async read(key: string): Promise<ObjectStream | undefined> {
    const object = this.objects().get(key);
    if (!object) return undefined;
    return {
      body: Readable.from([Buffer.from(object.bytes)]),
      size: object.bytes.length,
      contentType: object.contentType,
      cacheControl: object.cacheControl,
      metadata: { ...object.metadata },
      etag: object.etag,
    };
  }

  /**
   * Pages of LIST_PAGE keys, each read when the previous one is used up and starting after its
   * last key, as S3 pages: an object written or deleted during a listing shows or not as it would there.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let after: string | undefined;
    for (;;) {
      const objects = this.objects();
      const keys = sortedKeys(objects);
      const page: string[] = [];
      let i = firstAfter(keys, prefix, false);
      if (after !== undefined) i = Math.max(i, firstAfter(keys, after, true));
      // Keys with one prefix are contiguous in byte order.
      for (; i < keys.length && page.length < LIST_PAGE && keys[i].startsWith(prefix); i++) page.push(keys[i]);
      const infos = page.map((key) => {
        const object = objects.get(key)!;
        return { key, size: object.bytes.length, lastModified: object.lastModified, etag: object.etag };
      });
      yield* infos;
      if (page.length < LIST_PAGE) return;
      after = page[page.length - 1];
    }
  }

  async listChildren(prefix: string): Promise<string[]> {
    const children = new Set<string>();
    for (const key of this.objects().keys()) {
      if (!key.startsWith(prefix)) continue;
      const slash = key.indexOf('/', prefix.length);
      if (slash >= 0) children.add(key.slice(prefix.length, slash));
    }
    // S3 orders common prefixes by their bytes, trailing '/' included.
    return [...children].sort((a, b) => compareKeys(`${a}/`, `${b}/`));
  }

  async delete(keys: readonly string[]): Promise<void> {
    const objects = this.objects();
    for (const key of keys) objects.delete(key);
    sorted.delete(objects);
  }

  /**
   * Reads the whole body, checks it against the staged size and sha256, and only then stores it
   * in one synchronous step: the conditional check and the write cannot interleave with another.
   */
  private async write(key: string, body: ObjectBody, options: WriteOptions, exclusive: boolean): Promise<boolean> {
    this.objects();
    checkKey(key, this.description);
    const size = Buffer.isBuffer(body) ? body.length : body.size;
    const hasher = new EtagHasher(this.partSize, size);
    const sha = options.sha256 === undefined ? undefined : createHash('sha256');
    const chunks: Buffer[] = [];
    let written = 0;
    const take = (chunk: Buffer) => {
      written += chunk.length;
      if (written > size) throw new ContentMismatchError(key, `more than the ${size} bytes staged`);
      hasher.update(chunk);
      sha?.update(chunk);
      chunks.push(chunk);
    };
    if (Buffer.isBuffer(body)) {
      take(body);
      options.onProgress?.(written);
    } else {
      const stream = body.open();
      try {
        // The caller's stream failing (a source file vanished) is its own error, passed on as it is.
        for await (const chunk of stream) {
          take(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
          options.onProgress?.(written);
        }
      } finally {
        stream.destroy();
      }
    }
    if (written !== size) throw new ContentMismatchError(key, `${written} bytes instead of the ${size} staged`);
    const actual = sha?.digest('hex');
    if (actual !== undefined && actual !== options.sha256) throw new ContentMismatchError(key, `sha256 ${actual} instead of ${options.sha256}`);

    const objects = this.objects();
    if (exclusive && objects.has(key)) return false;
    if (!objects.has(key)) sorted.delete(objects);
    objects.set(key, {
      bytes: Buffer.concat(chunks),
      contentType: options.contentType,
      cacheControl: options.cacheControl,
      // S3 lower-cases metadata names.
      metadata: Object.fromEntries(Object.entries(options.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      etag: hasher.digest(),
      lastModified: this.now(),
    });
    return true;
  }

  /** The bucket's objects; every call fails as S3's NoSuchBucket when the bucket does not exist. */
  private objects(): Map<string, MemoryObject> {
    const objects = this.buckets.get(this.bucket);
    if (!objects) throw new StorageError('BucketNotFound', `bucket ${this.bucket} does not exist in ${this.description}; create it first or pass the right -b/--bucket`);
    return objects;
  }
}

/** S3's ListObjectsV2 page size. */
const LIST_PAGE = 1000;

// Without surrogates (characters beyond U+FFFF), UTF-16 order is code point order, which is UTF-8 byte order.
const SURROGATE = /[\uD800-\uDFFF]/;

function compareKeys(a: string, b: string): number {
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Each bucket's keys in byte order, kept until a key is added or removed, so that a listing
 * of 100,000 objects sorts them once rather than once per page.
 */
const sorted = new WeakMap<Map<string, MemoryObject>, string[]>();

function sortedKeys(objects: Map<string, MemoryObject>): string[] {
  let keys = sorted.get(objects);
  if (!keys || keys.length !== objects.size) {
    keys = byteOrder([...objects.keys()]);
    sorted.set(objects, keys);
  }
  return keys;
}

/** Index of the first key at or after `bound` (after it only, when `strictly`), by binary search. */
function firstAfter(keys: readonly string[], bound: string, strictly: boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(keys[mid], bound);
    if (c < 0 || (strictly && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** S3 lists keys in the order of their UTF-8 bytes, not of JavaScript's UTF-16 strings. */
function byteOrder(keys: string[]): string[] {
  return keys.sort(compareKeys);
}

/** S3 refuses an empty key and one longer than 1,024 bytes of UTF-8. */
function checkKey(key: string, description: string): void {
  if (key === '') throw new InvalidNameError(`an empty key cannot be stored in ${description}`);
  if (Buffer.byteLength(key, 'utf8') > 1024) throw new InvalidNameError(`key ${JSON.stringify(key.slice(0, 40))}... cannot be stored in ${description}: it is longer than 1,024 bytes`);
}

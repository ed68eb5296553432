import { createHash, randomUUID } from 'node:crypto';
import { constants, createWriteStream, type Stats } from 'node:fs';
import { access, link, lstat, mkdir, open, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pMap from 'p-map';
import { z } from 'zod';
import { ContentMismatchError, InvalidNameError, isPushcacheError, StorageError } from '../errors';
import { EtagHasher, PART_SIZE } from './etag';
import type { CopyFromOptions, CopyOutcome, ObjectBody, ObjectInfo, ObjectStream, ReadableStorage, WriteOptions } from './storage';

export interface FilesystemStorageOptions {
  /** Directory holding one directory per bucket, as MinIO's data directory does. */
  root: string;
  /** The directory under `root` that holds the objects; it must exist (as an S3 bucket must). */
  bucket: string;
  /** Part size the ETags are computed for; the S3 backend's, so that republish skips agree. Default 8 MiB. */
  partSize?: number;
}

/**
 * Objects are plain files: key `data/app/x.js` of bucket `frontend` is `<root>/frontend/data/app/x.js`,
 * so a bucket directory can be served as it is. What S3 keeps beside the bytes (headers,
 * metadata, ETag) lives in a sidecar tree of the same shape under `<root>/.pushcache/meta/`,
 * and writes go through `<root>/.pushcache/tmp/` (same filesystem, so a rename is atomic).
 * Bucket names cannot start with '.', so `.pushcache` is never a bucket.
 *
 * One difference from S3 cannot be hidden: a filesystem cannot hold both `a/b` and `a/b/c`.
 * Writing one while the other exists fails with an InvalidNameError naming both.
 */
export class FilesystemStorage implements ReadableStorage {
  readonly description: string;
  private readonly root: string;
  private readonly bucketDir: string;
  private readonly metaDir: string;
  private readonly tmpDir: string;
  private readonly partSize: number;
  private bucketFound: Promise<void> | undefined;
  private tmpMade: Promise<unknown> | undefined;

  constructor(options: FilesystemStorageOptions) {
    this.root = path.resolve(options.root);
    this.bucketDir = path.join(this.root, options.bucket);
    this.metaDir = path.join(this.root, OWN_DIR, 'meta', options.bucket);
    this.tmpDir = path.join(this.root, OWN_DIR, 'tmp');
    this.partSize = options.partSize ?? PART_SIZE;
    this.description = `file://${this.bucketDir}`;
  }

  async checkAccess(): Promise<void> {
    await this.ensureBucket();
    for (const dir of [this.root, this.bucketDir]) {
      try {
        await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
      } catch (err) {
        throw new StorageError('AccessDenied', `${dir} is not readable and writable by this process (uid ${process.getuid?.()}); fix its permissions or pass another --root`, {
          cause: err,
        });
      }
    }
  }

  async put(key: string, body: ObjectBody, options: WriteOptions): Promise<boolean> {
    return this.write(key, body, options, options.ifAbsent === true);
  }

  async putIfAbsent(key: string, body: Buffer, options: WriteOptions): Promise<boolean> {
    return this.write(key, body, options, true);
  }

  /**
   * Copies the data file through a temporary file (so the ETag is computed from the bytes
   * copied) and the headers and metadata the source's sidecar holds; both appear by rename, as
   * a put's do. A source whose sidecar is missing or stale is copied with no metadata, as
   * `application/octet-stream`.
   */
  async copy(fromKey: string, toKey: string): Promise<boolean> {
    return this.copyAttempt(fromKey, toKey, 1);
  }

  private async copyAttempt(fromKey: string, toKey: string, attempt: number): Promise<boolean> {
    const source = await this.read(fromKey);
    if (!source) return false;
    const options: WriteOptions = {
      contentType: source.contentType ?? 'application/octet-stream',
      cacheControl: source.cacheControl ?? '',
      metadata: source.metadata,
    };
    let opened = false;
    try {
      await this.write(
        toKey,
        {
          size: source.size,
          open: () => {
            opened = true;
            return source.body;
          },
        },
        options,
        false,
      );
    } catch (err) {
      // The source was rewritten while it was copied: copy what is there now, as S3 would.
      if (err instanceof ContentMismatchError && attempt < COPY_ATTEMPTS) return this.copyAttempt(fromKey, toKey, attempt + 1);
      if (err instanceof ContentMismatchError) {
        throw new StorageError('StorageUnavailable', `copy ${fromKey} to ${toKey} in ${this.description} failed: the source kept changing while it was copied`, { cause: err });
      }
      throw err;
    } finally {
      if (!opened) source.body.destroy();
    }
    return true;
  }

  /**
   * Copies through the same checked write as a put: the source's sidecar must record the ETag
   * asked for, and the bytes read must be the staged size and sha256, or nothing is written and
   * the caller uploads instead. The bytes pass through this process (there is no server), but
   * not from the Job's own disk.
   */
  async copyFrom(sourceKey: string, destKey: string, options: CopyFromOptions): Promise<CopyOutcome> {
    const source = await this.read(sourceKey);
    if (!source) return 'precondition-failed';
    if (source.etag !== options.ifMatch || source.size !== options.size) {
      source.body.destroy();
      return 'precondition-failed';
    }
    let opened = false;
    try {
      const written = await this.write(
        destKey,
        {
          size: source.size,
          open: () => {
            opened = true;
            return source.body;
          },
        },
        { ...options.headers, sha256: options.sha256, onProgress: options.onProgress && (() => options.onProgress!()) },
        options.ifAbsent === true,
      );
      return written ? 'copied' : 'precondition-failed';
    } catch (err) {
      // Rewritten or removed while it was read: other bytes than the ones asked for.
      if (err instanceof ContentMismatchError || isMissing(err)) return 'precondition-failed';
      throw err;
    } finally {
      if (!opened) source.body.destroy();
    }
  }

  /** Resolves false when `exclusive` and the key already exists; nothing is written then. */
  private async write(key: string, body: ObjectBody, options: WriteOptions, exclusive: boolean): Promise<boolean> {
    const target = this.objectPath(key);
    await this.ensureBucket();
    const temp = await this.writeTemp(key, body, options);
    let sidecar: string | undefined;
    try {
      sidecar = await this.writeSidecarTemp(key, temp, options);
      if (exclusive) {
        // link() refuses an existing name: the exclusive create, with the whole body visible at once.
        if (!(await this.placeExclusive(key, temp.path, target))) return false;
      } else {
        await this.place(key, temp.path, target);
      }
      await this.place(key, sidecar, this.metaPath(key));
      return true;
    } finally {
      await removeQuietly(temp.path);
      if (sidecar) await removeQuietly(sidecar);
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    const file = this.objectPath(key);
    await this.ensureBucket();
    try {
      return await readFile(file);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw this.translate(err, 'read', key);
    }
  }

  async read(key: string): Promise<ObjectStream | undefined> {
    const file = this.objectPath(key);
    await this.ensureBucket();
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw this.translate(err, 'read', key);
    }
    try {
      const st = await handle.stat();
      // Opening a directory succeeds on Linux; for S3 a bare prefix is no object.
      if (!st.isFile()) {
        await handle.close();
        return undefined;
      }
      const meta = await this.readSidecar(key, st);
      return {
        body: handle.createReadStream(),
        size: st.size,
        contentType: meta?.contentType,
        cacheControl: meta?.cacheControl,
        metadata: meta?.metadata ?? {},
        etag: meta?.etag,
      };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw this.translate(err, 'read', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    await this.ensureBucket();
    const { dirKey, namePrefix } = splitPrefix(prefix);
    // A prefix whose directory part no key can have matches nothing.
    if (dirKey !== '' && keyProblem(dirKey.slice(0, -1)) !== undefined) return;
    yield* this.walk(dirKey, namePrefix);
  }

  async listChildren(prefix: string): Promise<string[]> {
    await this.ensureBucket();
    const { dirKey, namePrefix } = splitPrefix(prefix);
    if (dirKey !== '' && keyProblem(dirKey.slice(0, -1)) !== undefined) return [];
    const children: string[] = [];
    for (const entry of await this.entries(dirKey, namePrefix)) {
      // S3 has no empty prefixes; a directory left empty by a concurrent delete is none either.
      if (entry.dir && (await this.holdsAnObject(`${dirKey}${entry.name}/`))) children.push(entry.name.slice(namePrefix.length));
    }
    return children;
  }

  async delete(keys: readonly string[]): Promise<void> {
    await this.ensureBucket();
    await pMap(
      keys,
      async (key) => {
        // No object can have such a key here, so there is nothing to delete.
        if (keyProblem(key) !== undefined) return;
        await this.removeWithEmptyParents(key, this.bucketDir);
        await this.removeWithEmptyParents(key, this.metaDir);
      },
      { concurrency: DELETE_CONCURRENCY },
    );
  }

  /** The file of `key`; throws for a key that is no plain relative path, so nothing outside the bucket is touched. */
  private objectPath(key: string): string {
    const problem = keyProblem(key);
    if (problem) throw new InvalidNameError(`key ${JSON.stringify(key)} cannot be stored in ${this.description}: it ${problem}`);
    return path.join(this.bucketDir, key);
  }

  private metaPath(key: string): string {
    return path.join(this.metaDir, key);
  }

  /** Like S3's NoSuchBucket: the bucket directory must exist before anything is read or written. */
  private ensureBucket(): Promise<void> {
    this.bucketFound ??= this.findBucket().catch((err: unknown) => {
      this.bucketFound = undefined;
      throw err;
    });
    return this.bucketFound;
  }

  private async findBucket(): Promise<void> {
    for (const [dir, fix] of [
      [this.root, `create it or pass the right --root (PUSHCACHE_FS_ROOT)`],
      [this.bucketDir, `create it (mkdir -p ${this.bucketDir}) or pass the right -b/--bucket`],
    ] as const) {
      let st: Stats;
      try {
        st = await stat(dir);
      } catch (err) {
        const code = codeOf(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') throw new StorageError('BucketNotFound', `${dir} does not exist; ${fix}`, { cause: err });
        throw this.translate(err, 'open', undefined);
      }
      if (!st.isDirectory()) throw new StorageError('BucketNotFound', `${dir} is not a directory; ${fix}`);
    }
  }

  /**
   * Streams the body into a fresh temporary file, computing the ETag S3 would give the same
   * bytes, and checks it against the staged size and sha256 before anything is renamed into place.
   */
  private async writeTemp(key: string, body: ObjectBody, options: WriteOptions): Promise<{ path: string; etag: string; stats: Stats }> {
    this.tmpMade ??= mkdir(this.tmpDir, { recursive: true });
    try {
      await this.tmpMade;
    } catch (err) {
      this.tmpMade = undefined;
      throw this.translate(err, 'write', key);
    }
    const file = path.join(this.tmpDir, randomUUID());
    const size = Buffer.isBuffer(body) ? body.length : body.size;
    const hasher = new EtagHasher(this.partSize, size);
    const sha = options.sha256 === undefined ? undefined : createHash('sha256');
    let written = 0;
    try {
      if (Buffer.isBuffer(body)) {
        hasher.update(body);
        sha?.update(body);
        written = body.length;
        await writeFile(file, body, { flag: 'wx' });
        options.onProgress?.(written);
      } else {
        await pipeline(
          body.open(),
          async function* (source: AsyncIterable<Buffer>) {
            try {
              for await (const chunk of source) {
                written += chunk.length;
                if (written > size) throw new ContentMismatchError(key, `more than the ${size} bytes staged`);
                hasher.update(chunk);
                sha?.update(chunk);
                yield chunk;
                options.onProgress?.(written);
              }
            } catch (err) {
              throw new BodyReadError(err);
            }
          },
          createWriteStream(file, { flags: 'wx' }),
        );
      }
      if (written !== size) throw new ContentMismatchError(key, `${written} bytes instead of the ${size} staged`);
      const actual = sha?.digest('hex');
      if (actual !== undefined && actual !== options.sha256) throw new ContentMismatchError(key, `sha256 ${actual} instead of ${options.sha256}`);
      return { path: file, etag: hasher.digest(), stats: await stat(file) };
    } catch (err) {
      await removeQuietly(file);
      // The caller's stream failed (a source file vanished), or its bytes are not the staged ones: that error says what happened.
      if (err instanceof BodyReadError) throw err.cause;
      throw this.translate(err, 'write', key);
    }
  }

  private async writeSidecarTemp(key: string, temp: { etag: string; stats: Stats }, options: WriteOptions): Promise<string> {
    const sidecar: Sidecar = {
      contentType: options.contentType,
      cacheControl: options.cacheControl,
      // S3 lower-cases metadata names.
      metadata: Object.fromEntries(Object.entries(options.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      etag: temp.etag,
      ino: temp.stats.ino,
      size: temp.stats.size,
      mtimeMs: temp.stats.mtimeMs,
    };
    const file = path.join(this.tmpDir, `${randomUUID()}.json`);
    try {
      await writeFile(file, JSON.stringify(sidecar), { flag: 'wx' });
    } catch (err) {
      throw this.translate(err, 'write', key);
    }
    return file;
  }

  /**
   * What the sidecar says about the file `st` describes, or undefined when it describes another
   * file: the object was rewritten by something else, or a write stopped between its two renames.
   * Then the ETag is unknown and a republish uploads the file again, which is always safe.
   */
  private async readSidecar(key: string, st: Stats): Promise<Sidecar | undefined> {
    let text: string;
    try {
      text = await readFile(this.metaPath(key), 'utf8');
    } catch {
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    const parsed = SidecarSchema.safeParse(json);
    if (!parsed.success) return undefined;
    const s = parsed.data;
    return s.ino === st.ino && s.size === st.size && s.mtimeMs === st.mtimeMs ? s : undefined;
  }

  /** Renames `from` onto `to`, making its directories; again when a concurrent delete removed an emptied one. */
  private async place(key: string, from: string, to: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(path.dirname(to), { recursive: true });
        await rename(from, to);
        return;
      } catch (err) {
        if (codeOf(err) === 'ENOENT' && attempt < PLACE_ATTEMPTS) continue;
        throw this.translate(err, 'write', key);
      }
    }
  }

  /** Links `from` at `to` unless `to` exists; false when it does. */
  private async placeExclusive(key: string, from: string, to: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(path.dirname(to), { recursive: true });
        await link(from, to);
        return true;
      } catch (err) {
        const code = codeOf(err);
        if (code === 'EEXIST') {
          const existing = await lstat(to).catch(() => undefined);
          if (existing?.isDirectory()) throw this.translate(err, 'write', key);
          return false;
        }
        if (code === 'ENOENT' && attempt < PLACE_ATTEMPTS) continue;
        throw this.translate(err, 'write', key);
      }
    }
  }

  private async removeWithEmptyParents(key: string, base: string): Promise<void> {
    try {
      await unlink(path.join(base, key));
    } catch (err) {
      if (isMissing(err)) return;
      throw this.translate(err, 'delete', key);
    }
    // Empty directories would show as prefixes that hold nothing, and block a later object of that name.
    for (let dir = path.dirname(path.join(base, key)); dir !== base; dir = path.dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
    }
  }

  /** The entries of a directory whose names start with `namePrefix`, in the order S3 lists their keys. */
  private async entries(dirKey: string, namePrefix: string): Promise<Entry[]> {
    let dirents;
    try {
      dirents = await readdir(path.join(this.bucketDir, dirKey), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw this.translate(err, 'list', dirKey);
    }
    const entries: Entry[] = [];
    for (const d of dirents) {
      // Symbolic links and other special files are no objects pushcache wrote.
      if (!d.name.startsWith(namePrefix) || !(d.isFile() || d.isDirectory())) continue;
      const dir = d.isDirectory();
      // Sorting a directory's names as `name/` puts its keys where S3's byte order puts them.
      entries.push({ name: d.name, dir, sortKey: Buffer.from(dir ? `${d.name}/` : d.name, 'utf8') });
    }
    return entries.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  }

  private async *walk(dirKey: string, namePrefix: string): AsyncGenerator<ObjectInfo> {
    const entries = await this.entries(dirKey, namePrefix);
    let files: string[] = [];
    const flush = async () => {
      const infos = await pMap(files, (key) => this.info(key), { concurrency: STAT_CONCURRENCY });
      files = [];
      return infos.filter((i): i is ObjectInfo => i !== undefined);
    };
    for (const entry of entries) {
      if (entry.dir) {
        yield* await flush();
        yield* this.walk(`${dirKey}${entry.name}/`, '');
      } else {
        files.push(`${dirKey}${entry.name}`);
      }
    }
    yield* await flush();
  }

  private async info(key: string): Promise<ObjectInfo | undefined> {
    let st: Stats;
    try {
      st = await lstat(path.join(this.bucketDir, key));
    } catch (err) {
      // Deleted since the directory was read.
      if (isMissing(err)) return undefined;
      throw this.translate(err, 'list', key);
    }
    if (!st.isFile()) return undefined;
    const meta = await this.readSidecar(key, st);
    return { key, size: st.size, lastModified: st.mtime, etag: meta?.etag };
  }

  private async holdsAnObject(dirKey: string): Promise<boolean> {
    for (const entry of await this.entries(dirKey, '')) {
      if (!entry.dir || (await this.holdsAnObject(`${dirKey}${entry.name}/`))) return true;
    }
    return false;
  }

  private translate(err: unknown, action: string, key: string | undefined): Error {
    if (isPushcacheError(err)) return err;
    const where = key === undefined ? this.description : `${key} in ${this.description}`;
    const code = codeOf(err);
    const detail = err instanceof Error ? err.message : String(err);
    switch (code) {
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
        return new StorageError('AccessDenied', `${action} ${where} failed: permission denied; make ${this.root} readable and writable by this process (${detail})`, {
          cause: err,
        });
      case 'ENOTDIR':
      case 'EISDIR':
      case 'EEXIST':
      case 'ENOTEMPTY':
        return new InvalidNameError(
          `${action} ${where} failed: a filesystem cannot hold an object at a key that is also the prefix of other objects ` +
            `(such as ${JSON.stringify(key)} and ${JSON.stringify(`${key}/...`)}, or one of its parent paths); use the S3 backend for such a bucket (${code})`,
        );
      case 'ENAMETOOLONG':
        return new InvalidNameError(`${action} ${where} failed: the key is too long for this filesystem (${code})`);
      case 'ENOSPC':
      case 'EDQUOT':
        return new StorageError('StorageUnavailable', `${action} ${where} failed: no space left under ${this.root}; it will be retried (${code})`, { cause: err });
      default:
        return new StorageError('StorageError', `${action} ${where} failed: ${detail}`, { cause: err });
    }
  }
}

// Bucket names cannot start with '.', so this is never a bucket directory.
const OWN_DIR = '.pushcache';
const DELETE_CONCURRENCY = 32;
const STAT_CONCURRENCY = 32;
// A concurrent delete may remove a directory between its mkdir and the rename into it.
const PLACE_ATTEMPTS = 5;
// Copies of an object that something rewrites meanwhile.
const COPY_ATTEMPTS = 3;

const SidecarSchema = z.object({
  contentType: z.string(),
  cacheControl: z.string(),
  metadata: z.record(z.string(), z.string()),
  etag: z.string(),
  // Which file the sidecar describes: a rename keeps these, a rewrite by anything else changes them.
  ino: z.number(),
  size: z.number(),
  mtimeMs: z.number(),
});
type Sidecar = z.infer<typeof SidecarSchema>;

/** Marks an error of the body's stream, so that it is not taken for a problem of the store. */
class BodyReadError extends Error {
  constructor(override readonly cause: unknown) {
    super('reading the body failed', { cause });
  }
}

interface Entry {
  name: string;
  dir: boolean;
  sortKey: Buffer;
}

/** Why `key` cannot name a file under the bucket directory, or undefined when it can. */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'is empty';
  if (key.startsWith('/')) return "starts with '/'";
  if (key.includes('\0')) return 'contains a NUL character';
  for (const segment of key.split('/')) {
    if (segment === '') return "has an empty segment ('//' or a trailing '/')";
    if (segment === '.' || segment === '..') return `has a '${segment}' segment`;
  }
  return undefined;
}

/** `data/app/x` → directory key `data/app/` and name prefix `x`. */
function splitPrefix(prefix: string): { dirKey: string; namePrefix: string } {
  const slash = prefix.lastIndexOf('/');
  return { dirKey: prefix.slice(0, slash + 1), namePrefix: prefix.slice(slash + 1) };
}

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** The key names no object: nothing there, a file where a directory was expected, or a bare prefix. */
function isMissing(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

async function removeQuietly(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}

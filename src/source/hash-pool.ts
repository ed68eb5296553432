import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { PART_SIZE } from '../storage/etag';
import type { ExpectedDigests } from './etag-evidence';
import { hashFilesSync, READ_BUFFER_BYTES, type FileDigests, type FileToHash, type HashFailure, type ReadDigests } from './hash';

/** The digests file `index` (of the list given to `hashFiles`) has when the bucket already holds it; undefined when unknown. */
export type ExpectedLookup = (index: number) => ExpectedDigests | undefined;

export interface HashOptions {
  /** Worker threads. Default: one per CPU, at most 4, and none for a small tree. 0 hashes on the calling thread. */
  threads?: number;
  /** Multipart part size the ETags are computed for; see EtagHasher. */
  partSize?: number;
  /** The compiled hash-worker.js. Default: the one beside this module, when it exists (not under ts-jest). */
  workerScript?: string;
  /**
   * What the bucket proves files hash to, arriving while they are hashed (source/etag-evidence.ts):
   * a file whose sha256 is the expected one takes its ETag from there. Small files hashed before
   * it arrives have their ETag computed; large ones have their sha256 hashed, and their ETag
   * waits for it a little (see evidenceWaitMs).
   * Undefined, or a rejection: no evidence.
   */
  expected?: Promise<ExpectedLookup | undefined>;
}

/** A file could not be read; `index` is its position in the list given to `hashFiles`. */
export class HashReadError extends Error {
  override readonly name = 'HashReadError';
  constructor(
    readonly index: number,
    readonly code: string,
  ) {
    super(`read of file ${index} failed (${code})`);
  }
}

interface Chunk {
  /** Each file's position in the list given to `hashFiles`. */
  indices: number[];
  files: FileToHash[];
  /** Its files take more than one read or one part: their ETags cost the most to hash, and they go last. */
  large: boolean;
}

// Chunks small enough to spread a tree evenly over the threads, big enough that messaging is noise.
const CHUNK_FILES = 256;
const CHUNK_BYTES = 16 * 1024 * 1024;
// Below these, starting threads costs more than they save.
const POOL_MIN_FILES = 1000;
const POOL_MIN_BYTES = 32 * 1024 * 1024;

const DEFAULT_WORKER_SCRIPT = path.join(__dirname, 'hash-worker.js');

/**
 * How long the large files' ETags wait for evidence that has not arrived once their sha256s are
 * known: about as long as hashing those ETags would take (at a conservative 200 MiB/s of MD5), at
 * least a quarter second and at most five, so the wait costs no more time than it may save.
 * Their ETags are most of what hashing costs an unchanged republish (multipart MD5s over most of
 * the bytes), and the evidence (the app's listing and manifests, bucket/app-view.ts) is what
 * staging needs next anyway; without it, they are hashed once the wait is over.
 */
function evidenceWaitMs(largeBytes: number): number {
  return Math.min(5000, Math.max(250, largeBytes / ((200 * 1024 * 1024) / 1000)));
}

/**
 * sha256 and ETag of every file, in the order given. Large files (hashed last) whose turn comes
 * before the evidence has their sha256 hashed at once and their ETag only if the evidence, once
 * in, does not name it: a second read, of the few that changed. A change to such a file between
 * the two reads cannot make a skip wrong: the ETag then names other bytes than the bucket's, and
 * the upload checks what it sends against the first read's sha256.
 */
export async function hashFiles(files: readonly FileToHash[], options: HashOptions = {}): Promise<FileDigests[]> {
  const chunks = chunked(files, options.partSize ?? PART_SIZE);
  const script = options.workerScript ?? (existsSync(DEFAULT_WORKER_SCRIPT) ? DEFAULT_WORKER_SCRIPT : undefined);
  const threads = script ? Math.min(options.threads ?? defaultThreads(files), chunks.length) : 0;
  const results = new Array<ReadDigests>(files.length);
  const collect = (chunk: Chunk, result: ReadDigests[] | HashFailure) => {
    if (!Array.isArray(result)) throw new HashReadError(chunk.indices[result.index], result.code);
    result.forEach((digests, i) => (results[chunk.indices[i]] = digests));
  };
  const evidence = new Evidence(options.expected);
  // Evidence already in hand (settling within this turn) serves from the first file on.
  if (options.expected) await nextTurn();
  const pool = startPool(threads, script, options.partSize);
  try {
    await pool.run(chunks.map((chunk) => ({ chunk, files: evidence.annotate(chunk) })), collect);
    const withoutEtag = results.flatMap((d, i) => (d.etag === undefined ? [i] : []));
    if (withoutEtag.length > 0) {
      const lookup = await evidence.within(evidenceWaitMs(withoutEtag.reduce((n, i) => n + files[i].size, 0)));
      // One file per chunk: the few large files that changed, spread over the threads.
      const etagsToHash: Array<{ chunk: Chunk; files: () => FileToHash[] }> = [];
      for (const i of withoutEtag) {
        const { sha256 } = results[i];
        const expected = lookup?.(i);
        if (expected?.sha256 === sha256) {
          results[i] = { sha256, etag: expected.etag };
          continue;
        }
        const file: FileToHash = { abs: files[i].abs, size: files[i].size, only: { digest: 'etag', sha256 } };
        etagsToHash.push({ chunk: { indices: [i], files: [file], large: true }, files: () => [file] });
      }
      await pool.run(etagsToHash, collect);
    }
  } finally {
    await pool.close();
  }
  return results as FileDigests[];
}

/** Runs chunks of files on `threads` hashing threads (or, with 0, on this thread in slices). */
function startPool(threads: number, script: string | undefined, partSize: number | undefined) {
  const workers = Array.from({ length: threads }, () => new Worker(script!, { workerData: { partSize } }));
  const buffer = threads === 0 ? Buffer.allocUnsafe(READ_BUFFER_BYTES) : undefined;
  return {
    async run(work: Array<{ chunk: Chunk; files: () => FileToHash[] }>, collect: (chunk: Chunk, result: ReadDigests[] | HashFailure) => void): Promise<void> {
      if (threads === 0) {
        for (const { chunk, files } of work) {
          collect(chunk, hashFilesSync(files(), partSize, buffer));
          // Blocking reads in slices, so heartbeats and polls on this thread still run in between.
          await nextTurn();
        }
        return;
      }
      let next = 0;
      await Promise.all(
        workers.map(async (worker) => {
          while (next < work.length) {
            const { chunk, files } = work[next++];
            collect(chunk, await hashOn(worker, files()));
          }
        }),
      );
    },
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

/** What the evidence expects of files, as far as known when they are hashed. */
class Evidence {
  private lookup: ExpectedLookup | undefined;
  private settled: boolean;
  private readonly arrived: Promise<void>;

  constructor(expected: Promise<ExpectedLookup | undefined> | undefined) {
    this.settled = expected === undefined;
    this.arrived = (expected ?? Promise.resolve(undefined)).then(
      (found) => {
        this.lookup = found;
        this.settled = true;
      },
      () => {
        this.settled = true;
      },
    );
  }

  /**
   * The chunk's files, read when their turn comes: each with the digests evidence expects of it
   * when known; a large file, while the evidence is still on its way, for its sha256 only.
   */
  annotate(chunk: Chunk): () => FileToHash[] {
    return () => {
      if (!this.settled && chunk.large) return chunk.files.map((file) => ({ ...file, only: { digest: 'sha256' } }));
      const lookup = this.lookup;
      if (!lookup) return chunk.files;
      return chunk.files.map((file, i) => {
        const digests = lookup(chunk.indices[i]);
        return digests ? { ...file, expected: digests } : file;
      });
    };
  }

  /** The lookup, once the evidence is in or `waitMs` have passed; undefined without evidence. */
  async within(waitMs: number): Promise<ExpectedLookup | undefined> {
    if (!this.settled) {
      const timer = new AbortController();
      await Promise.race([this.arrived, sleep(waitMs, undefined, { signal: timer.signal }).catch(() => undefined)]);
      timer.abort();
    }
    return this.lookup;
  }
}

function defaultThreads(files: readonly FileToHash[]): number {
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  if (files.length < POOL_MIN_FILES && bytes < POOL_MIN_BYTES) return 0;
  return Math.min(4, os.availableParallelism());
}

/**
 * The files in chunks, those hashed from one read first and the large ones (more than one read or
 * one part) last: they gain most from evidence arriving meanwhile.
 */
function chunked(files: readonly FileToHash[], partSize: number): Chunk[] {
  const chunks: Chunk[] = [];
  for (const large of [false, true]) {
    let current: Chunk = { indices: [], files: [], large };
    let bytes = 0;
    files.forEach((file, i) => {
      if ((file.size >= READ_BUFFER_BYTES || file.size > partSize) !== large) return;
      if (current.files.length > 0 && (current.files.length >= CHUNK_FILES || bytes + file.size > CHUNK_BYTES)) {
        chunks.push(current);
        current = { indices: [], files: [], large };
        bytes = 0;
      }
      current.indices.push(i);
      current.files.push(file);
      bytes += file.size;
    });
    if (current.files.length > 0) chunks.push(current);
  }
  return chunks;
}

function hashOn(worker: Worker, files: FileToHash[]): Promise<ReadDigests[] | HashFailure> {
  return new Promise((resolve, reject) => {
    const done = () => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    const onMessage = (message: { result: ReadDigests[] | HashFailure }) => {
      done();
      resolve(message.result);
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`a hashing thread stopped with exit code ${code}`));
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    worker.postMessage({ files });
  });
}

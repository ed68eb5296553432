import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { PART_SIZE } from '../storage/etag';
import type { ExpectedDigests } from './etag-evidence';
import { hashFilesSync, READ_BUFFER_BYTES, type FileDigests, type FileToHash, type HashFailure } from './hash';

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
   * a file whose sha256 is the expected one takes its ETag from there. Files hashed before it
   * arrives have their ETag computed; large files wait for it a little (see evidenceWaitMs).
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
 * How long the large files, hashed last, wait for evidence that has not arrived when their turn
 * comes: about as long as hashing their ETags would take (at a conservative 200 MiB/s of MD5),
 * at least a quarter second and at most five, so the wait costs no more time than it may save.
 * Their ETags are most of what hashing costs an unchanged republish (multipart MD5s over most of
 * the bytes), and the evidence (the app's listing and manifests, bucket/app-view.ts) is what
 * staging needs next anyway; without it, they are hashed as before once the wait is over.
 */
function evidenceWaitMs(largeBytes: number): number {
  return Math.min(5000, Math.max(250, largeBytes / ((200 * 1024 * 1024) / 1000)));
}

/** sha256 and ETag of every file, in the order given. */
export async function hashFiles(files: readonly FileToHash[], options: HashOptions = {}): Promise<FileDigests[]> {
  const chunks = chunked(files, options.partSize ?? PART_SIZE);
  const script = options.workerScript ?? (existsSync(DEFAULT_WORKER_SCRIPT) ? DEFAULT_WORKER_SCRIPT : undefined);
  const threads = script ? Math.min(options.threads ?? defaultThreads(files), chunks.length) : 0;
  const results = new Array<FileDigests>(files.length);
  const collect = (chunk: Chunk, result: FileDigests[] | HashFailure) => {
    if (!Array.isArray(result)) throw new HashReadError(chunk.indices[result.index], result.code);
    result.forEach((digests, i) => (results[chunk.indices[i]] = digests));
  };
  const largeBytes = chunks.reduce((sum, c) => (c.large ? sum + c.files.reduce((n, f) => n + f.size, 0) : sum), 0);
  const withEvidence = evidenceFor(options.expected, evidenceWaitMs(largeBytes));
  // Evidence already in hand (settling within this turn) serves from the first file on.
  if (options.expected) await nextTurn();
  if (threads === 0) {
    const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    for (const chunk of chunks) {
      collect(chunk, hashFilesSync(await withEvidence(chunk), options.partSize, buffer));
      // Blocking reads in slices, so heartbeats and polls on this thread still run in between.
      await nextTurn();
    }
    return results;
  }
  const workers = Array.from({ length: threads }, () => new Worker(script!, { workerData: { partSize: options.partSize } }));
  try {
    let next = 0;
    await Promise.all(
      workers.map(async (worker) => {
        while (next < chunks.length) {
          const chunk = chunks[next++];
          collect(chunk, await hashOn(worker, await withEvidence(chunk)));
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}

/** The files of a chunk, each with the digests evidence expects of it, as far as known when the chunk's turn comes. */
function evidenceFor(expected: Promise<ExpectedLookup | undefined> | undefined, waitMs: number): (chunk: Chunk) => Promise<FileToHash[]> {
  let lookup: ExpectedLookup | undefined;
  let settled = expected === undefined;
  const arrived = (expected ?? Promise.resolve(undefined)).then(
    (found) => {
      lookup = found;
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  let waitUntil: number | undefined;
  return async (chunk) => {
    if (chunk.large && !settled) {
      waitUntil ??= Date.now() + waitMs;
      const left = waitUntil - Date.now();
      if (left > 0) {
        const timer = new AbortController();
        await Promise.race([arrived, sleep(left, undefined, { signal: timer.signal }).catch(() => undefined)]);
        timer.abort();
      }
    }
    if (!lookup) return chunk.files;
    return chunk.files.map((file, i) => {
      const digests = lookup!(chunk.indices[i]);
      return digests ? { ...file, expected: digests } : file;
    });
  };
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

function hashOn(worker: Worker, files: FileToHash[]): Promise<FileDigests[] | HashFailure> {
  return new Promise((resolve, reject) => {
    const done = () => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    const onMessage = (message: { result: FileDigests[] | HashFailure }) => {
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

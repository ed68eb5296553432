import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { hashFilesSync, type FileDigests, type FileToHash, type HashFailure } from './hash';

export interface HashOptions {
  /** Worker threads. Default: one per CPU, at most 4, and none for a small tree. 0 hashes on the calling thread. */
  threads?: number;
  /** Multipart part size the ETags are computed for; see EtagHasher. */
  partSize?: number;
  /** The compiled hash-worker.js. Default: the one beside this module, when it exists (not under ts-jest). */
  workerScript?: string;
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
  start: number;
  files: FileToHash[];
}

// Chunks small enough to spread a tree evenly over the threads, big enough that messaging is noise.
const CHUNK_FILES = 256;
const CHUNK_BYTES = 16 * 1024 * 1024;
// Below these, starting threads costs more than they save.
const POOL_MIN_FILES = 1000;
const POOL_MIN_BYTES = 32 * 1024 * 1024;

const DEFAULT_WORKER_SCRIPT = path.join(__dirname, 'hash-worker.js');

/** sha256 and ETag of every file, in the order given. */
export async function hashFiles(files: readonly FileToHash[], options: HashOptions = {}): Promise<FileDigests[]> {
  const chunks = chunked(files);
  const script = options.workerScript ?? (existsSync(DEFAULT_WORKER_SCRIPT) ? DEFAULT_WORKER_SCRIPT : undefined);
  const threads = script ? Math.min(options.threads ?? defaultThreads(files), chunks.length) : 0;
  const results = new Array<FileDigests>(files.length);
  const collect = (chunk: Chunk, result: FileDigests[] | HashFailure) => {
    if (!Array.isArray(result)) throw new HashReadError(chunk.start + result.index, result.code);
    result.forEach((digests, i) => (results[chunk.start + i] = digests));
  };
  if (threads === 0) {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    for (const chunk of chunks) {
      collect(chunk, hashFilesSync(chunk.files, options.partSize, buffer));
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
          collect(chunk, await hashOn(worker, chunk));
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}

function defaultThreads(files: readonly FileToHash[]): number {
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  if (files.length < POOL_MIN_FILES && bytes < POOL_MIN_BYTES) return 0;
  return Math.min(4, os.availableParallelism());
}

function chunked(files: readonly FileToHash[]): Chunk[] {
  const chunks: Chunk[] = [];
  let current: Chunk = { start: 0, files: [] };
  let bytes = 0;
  files.forEach((file, i) => {
    if (current.files.length > 0 && (current.files.length >= CHUNK_FILES || bytes + file.size > CHUNK_BYTES)) {
      chunks.push(current);
      current = { start: i, files: [] };
      bytes = 0;
    }
    current.files.push(file);
    bytes += file.size;
  });
  if (current.files.length > 0) chunks.push(current);
  return chunks;
}

function hashOn(worker: Worker, chunk: Chunk): Promise<FileDigests[] | HashFailure> {
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
    worker.postMessage({ files: chunk.files });
  });
}

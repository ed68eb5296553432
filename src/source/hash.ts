import { createHash, hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { EtagHasher, PART_SIZE } from '../storage/etag';

export interface FileToHash {
  abs: string;
  size: number;
}

export interface FileDigests {
  /** What the manifest records. */
  sha256: string;
  /** What a bucket listing shows for the object pushcache would write; see EtagHasher. */
  etag: string;
}

/** A read that failed; `index` is the file's position in the list given to `hashFilesSync`. */
export interface HashFailure {
  index: number;
  code: string;
}

/**
 * Hashes files with blocking reads into one reused buffer. A build is mostly small files, and
 * for those a thread-pool round trip per open, read and close costs more than the hashing:
 * measured on a 10,000-file tree, this is four times faster than the promise-based reads.
 * It blocks its thread, so it runs on a worker thread (see hash-pool) or in short slices.
 */
export function hashFilesSync(files: readonly FileToHash[], partSize?: number, buffer = Buffer.allocUnsafe(1024 * 1024)): FileDigests[] | HashFailure {
  const out: FileDigests[] = [];
  for (let i = 0; i < files.length; i++) {
    try {
      out.push(hashFileSync(files[i], partSize, buffer));
    } catch (err) {
      return { index: i, code: (err as NodeJS.ErrnoException).code ?? String(err) };
    }
  }
  return out;
}

function hashFileSync(file: FileToHash, partSize = PART_SIZE, buffer: Buffer): FileDigests {
  const fd = openSync(file.abs, 'r');
  try {
    const first = readSync(fd, buffer);
    // Most files of a build fit one read and one part: two one-shot digests, no hash objects.
    const rest = first < buffer.length ? readSync(fd, buffer, first, buffer.length - first, null) : -1;
    if (rest === 0 && first <= partSize) {
      const bytes = buffer.subarray(0, first);
      return { sha256: hash('sha256', bytes), etag: hash('md5', bytes) };
    }
    const sha256 = createHash('sha256');
    const etag = new EtagHasher(partSize, file.size);
    let n = first + Math.max(rest, 0);
    while (n > 0) {
      const chunk = buffer.subarray(0, n);
      sha256.update(chunk);
      etag.update(chunk);
      n = readSync(fd, buffer);
    }
    return { sha256: sha256.digest('hex'), etag: etag.digest() };
  } finally {
    closeSync(fd);
  }
}

import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FilesystemStorage } from '../../src/storage/filesystem';
import { MemoryStorage, memoryBuckets } from '../../src/storage/memory';
import type { ReadableStorage } from '../../src/storage/storage';
import { newBucket, openTestStorage } from './servers';

/** One storage backend as the behavioural tests see it. */
export interface Backend {
  name: string;
  /** A fresh, empty bucket, and a way to open it again (as each activity does). */
  fresh(): Promise<{ bucket: string; storage: ReadableStorage; open: (bucket: string) => ReadableStorage }>;
  /** A backend whose bucket does not exist. */
  missingBucket(): ReadableStorage;
}

/** A temporary filesystem root holding one empty bucket directory. */
export function filesystemBucket(bucket = 'frontend'): { root: string; bucket: string; open: (bucket: string) => FilesystemStorage } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pushcache-fs-'));
  mkdirSync(path.join(root, bucket));
  return { root, bucket, open: (b) => new FilesystemStorage({ root, bucket: b }) };
}

export const BACKENDS: Backend[] = [
  {
    name: 'S3 (MinIO)',
    async fresh() {
      const bucket = await newBucket('contract');
      return { bucket, storage: openTestStorage(bucket), open: (b) => openTestStorage(b) };
    },
    missingBucket: () => openTestStorage(`missing-${randomUUID().slice(0, 8)}`),
  },
  {
    name: 'filesystem',
    async fresh() {
      const { bucket, open } = filesystemBucket();
      return { bucket, storage: open(bucket), open };
    },
    missingBucket: () => filesystemBucket().open('missing'),
  },
  {
    name: 'memory',
    async fresh() {
      const buckets = memoryBuckets('frontend');
      return { bucket: 'frontend', storage: new MemoryStorage({ buckets, bucket: 'frontend' }), open: (b) => new MemoryStorage({ buckets, bucket: b }) };
    },
    missingBucket: () => new MemoryStorage({ buckets: memoryBuckets(), bucket: 'missing' }),
  },
];

/** Inputs and results of publish activities. They travel through workflow history: keep them small. */

import type { BatchLimits } from '../source/batches';
import type { LockGeneration } from '../contract/lock-generation';
import type { RetentionRule } from '../prune/retention';

export interface StageInput {
  app: string;
  sourceDir: string;
  image: string;
  valpopImage?: string;
  timestamp: number;
  publishId: string;
  batchLimits: BatchLimits;
  /** Objects written with another max-age are uploaded again, for their headers. */
  cacheMaxAge: number;
  /**
   * Set by publishes that make their build live in one guarded step: files that would replace
   * an object are held back for it, and a build identical to the newest one writes nothing.
   */
  goLive?: boolean;
}

export interface StageSummary {
  fileCount: number;
  totalBytes: number;
  listDigest: string;
  batchCount: number;
  /** Size of fed-mods.json, or null when the build has none. */
  entryPointBytes: number | null;
  stagingKey: string;
  /** Files (and bytes) this publish uploads, fed-mods.json included. */
  uploadFiles: number;
  uploadBytes: number;
  /** Files the bucket already holds with the right bytes and headers. */
  skippedFiles: number;
  skippedBytes: number;
  /** Of the files to upload, those staging found under another key and the batches copy server-side; absent when copying is off. */
  copyFiles?: number;
  copyBytes?: number;
  /** The newest build already is this one, complete: nothing was staged and nothing is written. */
  upToDate?: { manifestKey: string; timestamp: number };
}

export interface UploadBatchInput {
  app: string;
  sourceDir: string;
  listDigest: string;
  /** Where the decisions of stageBuild are; absent in runs started before files were skipped. */
  stagingKey?: string;
  batchIndex: number;
  batchLimits: BatchLimits;
  cacheMaxAge: number;
  uploadConcurrency: number;
}

export interface UploadEntryPointInput {
  app: string;
  sourceDir: string;
  listDigest: string;
  cacheMaxAge: number;
}

export interface UploadResult {
  files: number;
  bytes: number;
  /** Of those, the files (and bytes) copied server-side rather than sent; absent when nothing was to be copied. */
  copied?: number;
  copiedBytes?: number;
}

export interface CommitManifestInput {
  bucket: string;
  app: string;
  stagingKey: string;
  publishId: string;
  timestamp: number;
}

export interface CommitManifestResult {
  manifestKey: string;
  timestamp: number;
}

export interface DiscardStagingInput {
  bucket: string;
  stagingKey: string;
}

/** The go-live step of one publish; everything it needs is in the bucket and on the Job's disk. */
export interface GoLiveInput {
  app: string;
  sourceDir: string;
  listDigest: string;
  stagingKey: string;
  publishId: string;
  timestamp: number;
  cacheMaxAge: number;
  uploadConcurrency: number;
  /** The app lock's generation when it granted this go-live turn: whether the staging listing still holds. */
  turnGeneration?: LockGeneration;
  /** The post-publish prune's rule: `goLive` then says how many builds it would delete now (see `GoLiveResult.agedOut`). */
  agedOutRule?: Pick<RetentionRule, 'minAssetRecords' | 'timeoutSeconds'>;
}

/** What the go-live step wrote, and where the manifest went. */
export interface GoLiveResult extends CommitManifestResult {
  files: number;
  bytes: number;
  /**
   * With `agedOutRule`: how many of the app's builds, this one included, the rule deletes now,
   * counted from the manifests' keys right after this build's manifest was written. 0 means the
   * prune after the publish has nothing to do.
   */
  agedOut?: number;
}

export interface GoLiveSummary {
  /** Files the go-live step writes, fed-mods.json included. */
  writes: number;
  /** Of those, the ones that replace an object, which was kept aside first. */
  replaced: number;
  /** Of those, the ones kept under a retained build's copies, for rollbacks (absent: none). */
  kept?: number;
}

export interface RestoreLiveInput {
  app: string;
  publishId: string;
  timestamp: number;
}

export interface RestoreLiveResult {
  /** Objects put back from what the go-live step kept aside. */
  restored: number;
  /** Objects the go-live step added, removed again. */
  removed: number;
  /** Paths that could not be put back (their kept copy is gone); at most 20. */
  lost: string[];
  /** The build's manifest was written: it is complete and live, and nothing was restored. */
  alreadyLive: boolean;
}

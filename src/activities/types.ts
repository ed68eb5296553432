/** Inputs and results of publish activities. They travel through workflow history: keep them small. */

import type { BatchLimits } from '../source/batches';

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

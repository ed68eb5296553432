import { readContentIndex } from '../bucket/content-index';
import { cacheControl, contentType } from '../contract/headers';
import { dataKey } from '../contract/keys';
import type { FileRecord } from '../contract/manifest';
import type { StagingRecord } from '../contract/staging';
import { planCopies, type CopyDecision } from '../source/content-index';
import type { UploadPlan } from '../source/upload-plan';
import type { Storage } from '../storage/storage';

/**
 * Server-side copies instead of uploads, for files of the upload batches whose bytes another
 * object of the bucket already holds (issue 18). Staging decides (planBatchCopies), the batches
 * try (copyInstead) and upload whatever a copy could not place.
 */

/**
 * The copies for the files the batches would upload; none when the store cannot copy. Reads the
 * content index only when there is something to upload.
 */
export async function planBatchCopies(storage: Storage, app: string, files: readonly FileRecord[], onProgress: () => void): Promise<Map<string, CopyDecision>> {
  if (!storage.copyFrom || files.length === 0) return new Map();
  const { index } = await readContentIndex(storage, app, onProgress, new Set(files.map((f) => f.sha256)));
  return planCopies(app, files, index);
}

/** Why each path is written or not, for the staging record. */
export function decisionReasons(files: readonly FileRecord[], plan: UploadPlan, copies: ReadonlyMap<string, CopyDecision>): NonNullable<StagingRecord['reasons']> {
  const reasons: NonNullable<StagingRecord['reasons']> = {};
  for (const f of files) reasons[f.path] = copies.has(f.path) ? 'copy' : (plan.reasonOf.get(f.path) ?? 'same-key');
  return reasons;
}

// Stores already reported as refusing copies, by description: one warning per store and process.
const WARNED = new Set<string>();

/**
 * Copies `file` to its data key from the object staging chose, with this build's own headers,
 * create-only like the batches' uploads. False when the caller must upload it instead: the
 * source is gone or holds other bytes now (its ETag is checked in the copy request), the key is
 * taken, or the store refuses copies (reported once).
 */
export async function copyInstead(
  storage: Storage,
  app: string,
  file: FileRecord,
  decision: CopyDecision,
  cacheMaxAge: number,
  ifAbsent: boolean,
  warn: (message: string) => void = () => undefined,
  onProgress?: () => void,
): Promise<boolean> {
  if (!storage.copyFrom) return false;
  const outcome = await storage.copyFrom(decision.from, dataKey(app, file.path), {
    ifMatch: decision.etag,
    size: file.size,
    sha256: file.sha256,
    ifAbsent,
    onProgress,
    headers: { contentType: contentType(file.path), cacheControl: cacheControl(file.path, cacheMaxAge), metadata: { sha256: file.sha256 } },
  });
  if (outcome === 'unsupported' && !WARNED.has(storage.description)) {
    WARNED.add(storage.description);
    warn(`${storage.description} refuses server-side copies (CopyObject); uploading every file instead (--no-copy silences this)`);
  }
  return outcome === 'copied';
}

import type { FileRecord } from '../contract/manifest';

/** What a listing of `data/<app>/` says about one object. */
export interface ExistingObject {
  size: number;
  etag?: string;
}

/**
 * What the newest build that names a path recorded about it: the content it wrote, the
 * max-age it wrote with, and the object's size and ETag once written (all absent for builds by
 * valpop, which records none of them).
 */
export interface EarlierWrite {
  sha256?: string;
  cacheMaxAge?: number;
  size?: number;
  etag?: string;
}

/** relpath → the newest earlier build's record of it. */
export type EarlierBuilds = ReadonlyMap<string, EarlierWrite>;

export type UploadReason = 'new' | 'changed' | 'unverified';

export interface UploadPlan {
  upload: FileRecord[];
  /** Already in the bucket with these bytes and these headers. */
  skip: FileRecord[];
  /** Uploads over an object the bucket holds with other bytes or unverified headers (reasons changed and unverified). */
  replace: FileRecord[];
  /** How many files are uploaded for each reason. */
  reasons: Record<UploadReason, number>;
  /** The reason of each uploaded file, by path. */
  reasonOf: Map<string, UploadReason>;
}

/**
 * Decides per file whether the bucket already holds it. A file is skipped only when the
 * object's size and ETag match the bytes on disk (so its content is right now what this build
 * has) and an earlier pushcache build with the same cache settings wrote these bytes at that
 * path (so its headers are what this build would send). Everything else is uploaded. fed-mods.json
 * follows the same rule: when the live one already has this build's bytes and headers, writing
 * it again would change nothing a browser sees.
 */
export function planUploads(
  files: readonly FileRecord[],
  existing: ReadonlyMap<string, ExistingObject>,
  earlier: EarlierBuilds,
  cacheMaxAge: number,
): UploadPlan {
  const plan: UploadPlan = { upload: [], skip: [], replace: [], reasons: { new: 0, changed: 0, unverified: 0 }, reasonOf: new Map() };
  for (const file of files) {
    const reason = uploadReason(file, existing.get(file.path));
    if (reason) {
      plan.upload.push(file);
      plan.reasons[reason]++;
      plan.reasonOf.set(file.path, reason);
      if (reason === 'changed' || reason === 'unverified') plan.replace.push(file);
    } else {
      plan.skip.push(file);
    }
  }
  return plan;

  function uploadReason(file: FileRecord, object: ExistingObject | undefined): UploadReason | undefined {
    if (!object) return 'new';
    if (object.size !== file.size || !file.etag || object.etag !== file.etag) return 'changed';
    const written = earlier.get(file.path);
    if (written?.sha256 !== file.sha256 || written.cacheMaxAge !== cacheMaxAge) return 'unverified';
    return undefined;
  }
}

import { dataKey } from '../contract/keys';
import type { FileRecord, Manifest } from '../contract/manifest';

/**
 * The content index: which object of the bucket holds given bytes, by sha256. Computed at
 * staging from the newest manifest of every app (src/bucket/content-index.ts), never stored,
 * so there is nothing to keep consistent; a stale entry costs one refused copy and an upload,
 * because every copy is made with the source's ETag checked in the same request.
 */

/** An object that a manifest says holds the bytes of one sha256. */
export interface ContentSource {
  key: string;
  size: number;
  /** The ETag pushcache's upload of those bytes gets: the copy's precondition. */
  etag: string;
}

export type ContentIndex = ReadonlyMap<string, ContentSource>;

/** One app's newest manifest. */
export interface IndexedBuild {
  app: string;
  manifest: Manifest;
}

/**
 * Adds one more build to `index` (sha256 → one object holding those bytes). Only paths a
 * manifest records with sha256, size and ETag count (valpop's manifests record none, so its
 * builds are never a source). A sha256 already in the index keeps its source, so the order the
 * caller adds builds in is the preference (the publishing app first: a file renamed between two
 * of its builds is copied from its own old key). With `wanted`, only those sha256s are kept: the
 * index is then no bigger than the build asking, whatever the bucket holds.
 */
export function addToContentIndex(index: Map<string, ContentSource>, { app, manifest }: IndexedBuild, wanted?: ReadonlySet<string>): void {
  for (const path of manifest.files) {
    const sha256 = manifest.sha256?.[path];
    const size = manifest.sizes?.[path];
    const etag = manifest.etags?.[path];
    if (sha256 === undefined || size === undefined || etag === undefined || index.has(sha256)) continue;
    if (wanted && !wanted.has(sha256)) continue;
    index.set(sha256, { key: dataKey(app, path), size, etag });
  }
}

/** A file the upload batches copy server-side instead of sending: from `from`, whose ETag must be `etag`. */
export interface CopyDecision {
  from: string;
  etag: string;
}

/**
 * Which of the files to upload can be copied from an object the bucket already holds. A source
 * qualifies only when its recorded sha256, size and ETag are those of the file on disk (the
 * ETag is then the precondition that proves the bytes), and it is not the destination itself.
 */
export function planCopies(app: string, files: readonly FileRecord[], index: ContentIndex): Map<string, CopyDecision> {
  const copies = new Map<string, CopyDecision>();
  for (const file of files) {
    const source = index.get(file.sha256);
    if (!source || file.etag === undefined || source.size !== file.size || source.etag !== file.etag) continue;
    if (source.key === dataKey(app, file.path)) continue;
    copies.set(file.path, { from: source.key, etag: source.etag });
  }
  return copies;
}

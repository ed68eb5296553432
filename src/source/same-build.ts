import type { FileRecord, Manifest } from '../contract/manifest';
import type { ExistingObject } from './upload-plan';

/**
 * True when the newest build already is this one, so a re-created Job has nothing to write:
 * the same image (as valpop checks), the same files with the same bytes where the manifest
 * recorded them (a reused tag with other content is published), and every file it names still
 * in the bucket with its recorded size (otherwise publishing again repairs it).
 */
export function isSameBuild(
  newest: Manifest,
  image: string,
  files: readonly FileRecord[],
  listing: ReadonlyMap<string, ExistingObject>,
): boolean {
  if (image === '' || newest.image !== image) return false;
  if (newest.files.length !== files.length) return false;
  const named = new Set(newest.files);
  for (const file of files) {
    if (!named.has(file.path)) return false;
    const sha256 = newest.sha256?.[file.path];
    if (sha256 !== undefined && sha256 !== file.sha256) return false;
  }
  return newest.files.every((path) => {
    const object = listing.get(path);
    const size = newest.sizes?.[path];
    return object !== undefined && (size === undefined || object.size === size);
  });
}

import { PART_SIZE } from '../storage/etag';
import type { EarlierBuilds, ExistingObject } from './upload-plan';

/** What the bucket and the app's manifests say of the paths of a build (an AppView's two maps). */
export interface EtagEvidence {
  existing: ReadonlyMap<string, ExistingObject>;
  earlier: EarlierBuilds;
}

/** The digests a file has when it holds the bytes evidence names: its ETag then need not be computed. */
export interface ExpectedDigests {
  sha256: string;
  etag: string;
}

/**
 * What a file at `path` of `size` bytes hashes to when it holds the bytes the bucket already
 * has there, or undefined when the evidence proves nothing. Hashing a file's ETag (MD5, or the
 * multipart MD5 of MD5s) costs more than its sha256, and an unchanged republish needs it for
 * nothing: the newest build naming the path recorded its sha256, size and the ETag its object
 * got, and the listing shows the object with that size and that ETag now. Then the object holds
 * exactly the bytes of that sha256 (the same proof the skip rule relies on: size and ETag name
 * the bytes), so a file whose sha256 is that one has that ETag, and is skipped by the same
 * comparisons as before (source/upload-plan.ts). A file whose sha256 differs has its ETag
 * computed, as every file has without such evidence.
 *
 * The ETag must also have the form pushcache's own upload of `size` bytes gets (plain MD5 up to
 * one part, `-<parts>` above): it is what a later upload of the file checks the store's answer
 * against (storage/s3.ts), and an object copied by another tool may hold the same bytes under
 * another form.
 */
export function expectedDigests(path: string, size: number, evidence: EtagEvidence, partSize = PART_SIZE): ExpectedDigests | undefined {
  const object = evidence.existing.get(path);
  const written = evidence.earlier.get(path);
  if (object?.etag === undefined || written?.sha256 === undefined || written.etag === undefined) return undefined;
  if (object.size !== size || written.size !== size || object.etag !== written.etag) return undefined;
  if (!uploadForm(object.etag, size, partSize)) return undefined;
  return { sha256: written.sha256, etag: written.etag };
}

function uploadForm(etag: string, size: number, partSize: number): boolean {
  if (size <= partSize) return /^[0-9a-f]{32}$/.test(etag);
  const parts = /^[0-9a-f]{32}-(\d+)$/.exec(etag);
  return parts !== null && Number(parts[1]) === Math.ceil(size / partSize);
}

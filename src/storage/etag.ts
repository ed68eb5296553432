import { createHash, type Hash } from 'node:crypto';

/** Part size of pushcache's multipart uploads, and the size above which a file is sent in parts. */
export const PART_SIZE = 8 * 1024 * 1024;

/**
 * Computes the ETag S3 and MinIO give an object that pushcache uploads with `partSize`: the
 * MD5 of the content for a single PUT, the MD5 of the parts' MD5s plus `-<parts>` for a
 * multipart upload. Comparing it with a listing's ETag tells, without reading the object,
 * whether the bucket already holds exactly these bytes. (Servers that encrypt with KMS return
 * other ETags; then nothing matches and every file is uploaded, which is slow but safe.)
 */
export class EtagHasher {
  private readonly whole: Hash | undefined;
  private part: Hash;
  private readonly partDigests: Buffer[] = [];
  private partBytes = 0;
  private total = 0;
  private readonly shared: boolean;

  /** With the body's size known in advance, only the digest that size needs is computed. */
  constructor(
    private readonly partSize = PART_SIZE,
    size?: number,
  ) {
    this.whole = size !== undefined && size > partSize ? undefined : createHash('md5');
    // A body announced to fit one part hashes once: its first part's digest is its whole MD5,
    // so one hash serves both, and one that grew past the part still gets its multipart ETag.
    this.shared = size !== undefined && this.whole !== undefined;
    this.part = this.shared ? this.whole! : createHash('md5');
  }

  update(chunk: Buffer): void {
    if (!this.shared) this.whole?.update(chunk);
    this.total += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      // A full part is digested only once more bytes come: the whole MD5 may still be what is asked for.
      if (this.partBytes === this.partSize) {
        this.partDigests.push(this.part.digest());
        this.part = createHash('md5');
        this.partBytes = 0;
      }
      const take = Math.min(chunk.length - offset, this.partSize - this.partBytes);
      this.part.update(chunk.subarray(offset, offset + take));
      this.partBytes += take;
      offset += take;
    }
  }

  digest(): string {
    // A body of at most one part goes up as a single PUT (lib-storage does the same).
    if (this.total <= this.partSize) return this.whole!.digest('hex');
    const parts = [...this.partDigests, this.part.digest()];
    return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
  }
}

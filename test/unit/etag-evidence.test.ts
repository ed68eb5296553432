import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectedDigests, type EtagEvidence } from '../../src/source/etag-evidence';
import { hashFilesSync, type FileDigests } from '../../src/source/hash';
import { scanSource } from '../../src/source/scan';
import { planUploads } from '../../src/source/upload-plan';
import { EtagHasher } from '../../src/storage/etag';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const etagOf = (b: Buffer, partSize: number) => {
  const h = new EtagHasher(partSize, b.length);
  h.update(b);
  return h.digest();
};
// Well-formed ETags that no file here hashes to: a file given one was not hashed for its ETag.
const NOT_HASHED = 'f'.repeat(32);
const NOT_HASHED_3 = `${'e'.repeat(32)}-3`;

/** The bucket holds `path` with this size and ETag, and the newest build naming it recorded them with this sha256. */
function evidence(path: string, size: number, etag: string, sha: string, over: { listed?: Partial<{ size: number; etag: string }>; recorded?: object } = {}): EtagEvidence {
  return {
    existing: new Map([[path, { size, etag, ...over.listed }]]),
    earlier: new Map([[path, { sha256: sha, cacheMaxAge: 60, size, etag, ...over.recorded }]]),
  };
}

describe('expectedDigests: an ETag taken from evidence only when size, sha256 and the current ETag agree', () => {
  const sha = sha256('alpha');
  const etag = md5('alpha');

  it('gives the recorded digests when the listing shows the object as the newest build recorded it', () => {
    expect(expectedDigests('a.js', 5, evidence('a.js', 5, etag, sha))).toEqual({ sha256: sha, etag });
  });

  it('gives nothing when the object was replaced since (another ETag, another size), or is gone', () => {
    expect(expectedDigests('a.js', 5, evidence('a.js', 5, etag, sha, { listed: { etag: md5('other') } }))).toBeUndefined();
    expect(expectedDigests('a.js', 5, evidence('a.js', 5, etag, sha, { listed: { size: 6 } }))).toBeUndefined();
    expect(expectedDigests('a.js', 5, { ...evidence('a.js', 5, etag, sha), existing: new Map() })).toBeUndefined();
    expect(expectedDigests('a.js', 5, evidence('a.js', 5, etag, sha, { listed: { etag: undefined } }))).toBeUndefined();
  });

  it('gives nothing without a manifest record of sha256, size and ETag (no manifest, valpop, older pushcache)', () => {
    expect(expectedDigests('a.js', 5, { ...evidence('a.js', 5, etag, sha), earlier: new Map() })).toBeUndefined();
    expect(expectedDigests('a.js', 5, evidence('a.js', 5, etag, sha, { recorded: { sha256: undefined, cacheMaxAge: undefined, size: undefined, etag: undefined } }))).toBeUndefined();
    expect(expectedDigests('a.js', 5, evidence('a.js', 5, etag, sha, { recorded: { etag: undefined } }))).toBeUndefined();
    expect(expectedDigests('a.js', 5, evidence('a.js', 5, etag, sha, { recorded: { size: 4 } }))).toBeUndefined();
  });

  it('gives nothing for a file of another size than the record, or for another path', () => {
    expect(expectedDigests('a.js', 6, evidence('a.js', 5, etag, sha))).toBeUndefined();
    expect(expectedDigests('b.js', 5, evidence('a.js', 5, etag, sha))).toBeUndefined();
  });

  it("takes only an ETag of the form pushcache's own upload of that size gets", () => {
    const partSize = 1024;
    // A multipart object of 3 parts: taken; the same bytes copied by another tool (plain MD5) or in other parts: not.
    expect(expectedDigests('big.bin', 2500, evidence('big.bin', 2500, NOT_HASHED_3, sha), partSize)).toEqual({ sha256: sha, etag: NOT_HASHED_3 });
    expect(expectedDigests('big.bin', 2500, evidence('big.bin', 2500, NOT_HASHED, sha), partSize)).toBeUndefined();
    expect(expectedDigests('big.bin', 2500, evidence('big.bin', 2500, `${'e'.repeat(32)}-2`, sha), partSize)).toBeUndefined();
    expect(expectedDigests('a.js', 5, evidence('a.js', 5, NOT_HASHED_3, sha), partSize)).toBeUndefined();
    // Under SSE-KMS an ETag is no MD5.
    expect(expectedDigests('a.js', 5, evidence('a.js', 5, 'kms-etag', sha), partSize)).toBeUndefined();
  });
});

describe('hashing with expected digests', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-evidence-'));
  const write = (name: string, bytes: Buffer | string) => {
    writeFileSync(path.join(dir, name), bytes);
    return { abs: path.join(dir, name), size: Buffer.byteLength(bytes) };
  };
  const hashOne = (file: Parameters<typeof hashFilesSync>[0][number], partSize?: number) => (hashFilesSync([file], partSize) as FileDigests[])[0];

  it('takes the ETag of a small file from the evidence when its sha256 is the expected one', () => {
    const f = write('same.js', 'alpha');
    expect(hashOne({ ...f, expected: { sha256: sha256('alpha'), etag: NOT_HASHED } })).toEqual({ sha256: sha256('alpha'), etag: NOT_HASHED });
  });

  it('computes the ETag of a small file whose sha256 differs', () => {
    const f = write('changed.js', 'alphA');
    expect(hashOne({ ...f, expected: { sha256: sha256('alpha'), etag: NOT_HASHED } })).toEqual({ sha256: sha256('alphA'), etag: md5('alphA') });
  });

  it.each([
    ['a multipart file (small parts)', 10 * 1024 + 3, 4096],
    ['a file larger than one read, one part', 3 * 1024 * 1024 + 5, undefined],
    ['a file larger than one read, in parts', 3 * 1024 * 1024 + 5, 1024 * 1024],
  ])('%s: taken when unchanged, computed by a second read when changed', (_name, size, partSize) => {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31) % 251;
    const f = write(`big-${size}-${partSize}.bin`, bytes);
    expect(hashOne({ ...f, expected: { sha256: sha256(bytes), etag: NOT_HASHED_3 } }, partSize)).toEqual({ sha256: sha256(bytes), etag: NOT_HASHED_3 });
    const want = { sha256: sha256(bytes), etag: etagOf(bytes, partSize ?? 8 * 1024 * 1024) };
    expect(hashOne({ ...f, expected: { sha256: sha256('other bytes'), etag: NOT_HASHED_3 } }, partSize)).toEqual(want);
    expect(hashOne(f, partSize)).toEqual(want);
  });

  it('hashes only the sha256 of a file while the evidence is on its way, and only its ETag after', () => {
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    const f = write('two-reads.bin', bytes);
    expect(hashOne({ ...f, only: { digest: 'sha256' } }, 1024 * 1024)).toEqual({ sha256: sha256(bytes) });
    expect(hashOne({ ...f, only: { digest: 'etag', sha256: 'from the first read' } }, 1024 * 1024)).toEqual({
      sha256: 'from the first read',
      etag: etagOf(bytes, 1024 * 1024),
    });
  });
});

describe('scanSource with evidence', () => {
  function tree(files: Record<string, string | Buffer>): string {
    const root = mkdtempSync(path.join(os.tmpdir(), 'pushcache-evidence-scan-'));
    for (const [rel, content] of Object.entries(files)) writeFileSync(path.join(root, rel), content);
    return root;
  }

  it('takes the ETag of unchanged files from the evidence and computes the others, which the skip then tells apart', async () => {
    const partSize = 1024;
    const big = Buffer.alloc(2500, 3);
    const root = tree({ 'same.js': 'alpha', 'changed.js': 'beta2', 'new.js': 'gamma', 'big.bin': big, 'replaced.js': 'delta' });
    // What the last build wrote; replaced.js was since overwritten out of band with other bytes of its size.
    const evidence: EtagEvidence = {
      existing: new Map([
        ['same.js', { size: 5, etag: NOT_HASHED }],
        ['changed.js', { size: 5, etag: md5('beta1') }],
        ['big.bin', { size: 2500, etag: NOT_HASHED_3 }],
        ['replaced.js', { size: 5, etag: md5('DELTA') }],
      ]),
      earlier: new Map([
        ['same.js', { sha256: sha256('alpha'), cacheMaxAge: 60, size: 5, etag: NOT_HASHED }],
        ['changed.js', { sha256: sha256('beta1'), cacheMaxAge: 60, size: 5, etag: md5('beta1') }],
        ['big.bin', { sha256: sha256(big), cacheMaxAge: 60, size: 2500, etag: NOT_HASHED_3 }],
        ['replaced.js', { sha256: sha256('delta'), cacheMaxAge: 60, size: 5, etag: md5('delta') }],
      ]),
    };
    const scanned = await scanSource(root, { threads: 0, partSize, evidence: Promise.resolve(evidence) });
    const etags = Object.fromEntries(scanned.files.map((f) => [f.path, f.etag]));
    expect(etags).toEqual({ 'same.js': NOT_HASHED, 'big.bin': NOT_HASHED_3, 'changed.js': md5('beta2'), 'new.js': md5('gamma'), 'replaced.js': md5('delta') });

    const plan = planUploads(scanned.files, evidence.existing, evidence.earlier, 60);
    expect(plan.skip.map((f) => f.path).sort()).toEqual(['big.bin', 'same.js']);
    expect(Object.fromEntries(plan.reasonOf)).toEqual({ 'changed.js': 'changed', 'new.js': 'new', 'replaced.js': 'changed' });
  });

  it.each([0, 2])('large files wait a little for evidence still on its way (%i threads), and never for good', async (threads) => {
    const files: Record<string, string | Buffer> = {};
    for (let i = 0; i < 300; i++) files[`f${i}.js`] = `file ${i}`;
    const big = Buffer.alloc(2 * 1024 * 1024 + 1, 9);
    files['big.bin'] = big;
    // Changed since the evidence's build: its ETag is hashed, whichever way its turn comes.
    const changed = Buffer.alloc(2 * 1024 * 1024 + 1, 8);
    files['changed.bin'] = changed;
    const root = tree(files);
    const view: EtagEvidence = {
      existing: new Map([
        ['big.bin', { size: big.length, etag: NOT_HASHED }],
        ['changed.bin', { size: changed.length, etag: NOT_HASHED }],
      ]),
      earlier: new Map([
        ['big.bin', { sha256: sha256(big), cacheMaxAge: 60, size: big.length, etag: NOT_HASHED }],
        ['changed.bin', { sha256: sha256(big), cacheMaxAge: 60, size: changed.length, etag: NOT_HASHED }],
      ]),
    };
    const late = new Promise<EtagEvidence>((resolve) => setTimeout(() => resolve(view), 50));
    const options = { threads, workerScript: path.resolve(__dirname, '../../dist/source/hash-worker.js') };
    const scanned = await scanSource(root, { ...options, evidence: late });
    expect(scanned.files.find((f) => f.path === 'big.bin')!.etag).toBe(NOT_HASHED);
    expect(scanned.files.find((f) => f.path === 'changed.bin')).toMatchObject({ sha256: sha256(changed), etag: md5(changed) });
    // Evidence that never comes: hashed as without any, once the wait is over.
    const never = await scanSource(root, { ...options, evidence: new Promise<EtagEvidence>(() => undefined) });
    expect(never).toEqual(await scanSource(root, options));
    expect(never.files.find((f) => f.path === 'big.bin')!.etag).toBe(md5(big));
  });

  it('computes every ETag when the evidence fails, and gives the digests of a scan without evidence', async () => {
    const root = tree({ 'a.js': 'alpha', 'big.bin': Buffer.alloc(2 * 1024 * 1024, 1) });
    const plain = await scanSource(root, { threads: 0 });
    expect(await scanSource(root, { threads: 0, evidence: Promise.reject(new Error('listing failed')) })).toEqual(plain);
    expect(await scanSource(root, { threads: 0, evidence: Promise.resolve(undefined) })).toEqual(plain);
  });
});

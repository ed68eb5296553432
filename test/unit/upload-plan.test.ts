import { createHash } from 'node:crypto';
import type { FileRecord } from '../../src/contract/manifest';
import { EtagHasher } from '../../src/storage/etag';
import { planUploads, type EarlierWrite, type ExistingObject } from '../../src/source/upload-plan';

const file = (path: string, content: string): FileRecord => ({
  path,
  size: Buffer.byteLength(content),
  sha256: createHash('sha256').update(content).digest('hex'),
  etag: createHash('md5').update(content).digest('hex'),
});
const inBucket = (f: FileRecord, over: Partial<ExistingObject> = {}): [string, ExistingObject] => [f.path, { size: f.size, etag: f.etag, ...over }];
const writtenBy = (f: FileRecord, cacheMaxAge = 86400): [string, EarlierWrite] => [f.path, { sha256: f.sha256, cacheMaxAge }];

describe('planUploads', () => {
  const a = file('a.js', 'alpha');
  const entry = file('fed-mods.json', '{}');

  it('skips a file whose bytes and headers are already in the bucket', () => {
    const plan = planUploads([a], new Map([inBucket(a)]), new Map([writtenBy(a)]), 86400);
    expect(plan.skip).toEqual([a]);
    expect(plan.upload).toEqual([]);
  });

  it('skips fed-mods.json only when the live one has its bytes and an earlier build wrote them', () => {
    expect(planUploads([entry], new Map([inBucket(entry)]), new Map([writtenBy(entry)]), 86400).skip).toEqual([entry]);
    // Written by someone else (valpop, a hand-run copy): its headers are not known to be ours.
    expect(planUploads([entry], new Map([inBucket(entry)]), new Map(), 86400).reasons.unverified).toBe(1);
    expect(planUploads([entry], new Map(), new Map(), 86400).reasons.new).toBe(1);
  });

  it('uploads a new file', () => {
    expect(planUploads([a], new Map(), new Map(), 86400).reasons.new).toBe(1);
  });

  it('never skips a changed file of the same size', () => {
    const changed = file('a.js', 'ALPHA');
    expect(changed.size).toBe(a.size);
    const plan = planUploads([changed], new Map([inBucket(a)]), new Map([writtenBy(a)]), 86400);
    expect(plan.upload).toEqual([changed]);
    expect(plan.reasons.changed).toBe(1);
  });

  it('uploads when the object was overwritten behind the manifest (its ETag differs)', () => {
    const plan = planUploads([a], new Map([inBucket(a, { etag: 'other' })]), new Map([writtenBy(a)]), 86400);
    expect(plan.reasons.changed).toBe(1);
  });

  it('uploads when no pushcache build recorded these bytes at this path (valpop wrote it: headers unknown)', () => {
    const plan = planUploads([a], new Map([inBucket(a)]), new Map([[a.path, {}]]), 86400);
    expect(plan.reasons.unverified).toBe(1);
  });

  it('uploads everything again when the max-age changed, for the Cache-Control header', () => {
    const plan = planUploads([a], new Map([inBucket(a)]), new Map([writtenBy(a, 600)]), 86400);
    expect(plan.reasons.unverified).toBe(1);
  });

  it('uploads a file without a known ETag', () => {
    const plan = planUploads([{ ...a, etag: undefined }], new Map([inBucket(a)]), new Map([writtenBy(a)]), 86400);
    expect(plan.reasons.changed).toBe(1);
  });
});

describe('EtagHasher', () => {
  it('gives the MD5 of a body that goes up in one PUT, however it is chunked', () => {
    const h = new EtagHasher(4);
    for (const chunk of ['ab', 'cd']) h.update(Buffer.from(chunk));
    expect(h.digest()).toBe(createHash('md5').update('abcd').digest('hex'));
  });

  it("gives S3's multipart form above one part: MD5 of the parts' MD5s, dash, part count", () => {
    const h = new EtagHasher(4);
    for (const chunk of ['abc', 'defgh', 'ij']) h.update(Buffer.from(chunk));
    const md5 = (s: string) => createHash('md5').update(s).digest();
    const expected = createHash('md5').update(Buffer.concat([md5('abcd'), md5('efgh'), md5('ij')])).digest('hex');
    expect(h.digest()).toBe(`${expected}-3`);
  });

  it('gives the same ETag with the size announced, also for a body that grew past it or ends on a part boundary', () => {
    const etag = (body: string, size?: number, chunks = 3) => {
      const h = new EtagHasher(4, size);
      for (let i = 0; i < body.length; i += chunks) h.update(Buffer.from(body.slice(i, i + chunks)));
      return h.digest();
    };
    for (const body of ['', 'abc', 'abcd', 'abcde', 'abcdefgh', 'abcdefghi']) {
      for (const announced of [0, 3, 4, body.length]) expect(etag(body, announced)).toBe(etag(body));
      expect(etag(body, body.length, 1)).toBe(etag(body, undefined, 4));
    }
  });
});

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import pMap from 'p-map';
import { resolvePruneSettings, resolvePublishSettings } from '../../src/config';
import { cacheControl, contentType } from '../../src/contract/headers';
import { dataKey, ENTRY_POINT, manifestPrefix, stagingPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { ContentMismatchError, InvalidNameError, StorageError } from '../../src/errors';
import { populate } from '../../src/client/populate';
import { prune } from '../../src/client/prune';
import { scanSource } from '../../src/source/scan';
import { EtagHasher, PART_SIZE } from '../../src/storage/etag';
import { FilesystemStorage } from '../../src/storage/filesystem';
import type { ObjectBody, ObjectInfo, ReadableStorage, Storage } from '../../src/storage/storage';
import { nowSeconds, seedManifest, seedObjects } from '../helpers/seed';
import { listKeys, populateDeps, startHarness, type Harness } from '../helpers/servers';
import { BACKENDS, filesystemBucket } from '../helpers/storage-backends';
import { copyExample, readLocal, sha256 } from '../helpers/trees';

jest.setTimeout(180_000);

const TEXT = { contentType: 'text/plain', cacheControl: 'no-cache' };
const byteOrder = (keys: string[]) => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
const etagOf = (bytes: Buffer) => {
  const hasher = new EtagHasher(PART_SIZE, bytes.length);
  hasher.update(bytes);
  return hasher.digest();
};
/** A body the way the Job sends a large file: a size and a stream that can be opened again. */
const streamed = (bytes: Buffer): ObjectBody => ({ size: bytes.length, open: () => Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]) });
/** A body staged as `staged` whose file now holds `actual`: a source rewritten after hashing. */
const changed = (staged: Buffer, actual: Buffer): ObjectBody => ({ size: staged.length, open: () => Readable.from(chunksOf(actual, 64 * 1024)) });
function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}
/** The same bytes with one byte changed in the middle. */
function flipped(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  out[Math.floor(out.length / 2)] ^= 0xff;
  return out;
}
/** Bytes that are not a repeated pattern, so that parts of a multipart body differ. */
function noise(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i + 4 <= size; i += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.writeUInt32LE(x, i);
  }
  return out;
}

/** Every file under `dir`, as `/`-separated paths. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)).split(path.sep).join('/'))
    .sort();
}

async function listAll(storage: Storage, prefix: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of storage.list(prefix)) out.push(o);
  return out;
}

async function readBody(storage: ReadableStorage, key: string) {
  const object = await storage.read(key);
  if (!object) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(chunk as Buffer);
  return { ...object, bytes: Buffer.concat(chunks) };
}

describe.each(BACKENDS)('$name storage', (backend) => {
  it('round-trips bytes, headers and metadata, from a buffer and from a stream', async () => {
    const { storage } = await backend.fresh();
    const small = Buffer.from('console.log("hi")');
    const large = noise(3 * 1024 * 1024 + 5, 1);
    await storage.put('data/app/small.js', small, { contentType: 'application/javascript', cacheControl: 'public, max-age=60', metadata: { sha256: sha256(small), Build: 'b1' } });
    await storage.put('data/app/large.wasm', streamed(large), { contentType: 'application/wasm', cacheControl: 'public, max-age=86400', metadata: { sha256: sha256(large) } });

    expect(await storage.get('data/app/small.js')).toEqual(small);
    const read = await readBody(storage, 'data/app/small.js');
    expect(read).toMatchObject({ size: small.length, contentType: 'application/javascript', cacheControl: 'public, max-age=60', etag: etagOf(small) });
    // S3 keeps metadata names in lower case.
    expect(read!.metadata).toEqual({ sha256: sha256(small), build: 'b1' });
    const big = await readBody(storage, 'data/app/large.wasm');
    expect(sha256(big!.bytes)).toBe(sha256(large));
    expect(big).toMatchObject({ size: large.length, contentType: 'application/wasm', cacheControl: 'public, max-age=86400', metadata: { sha256: sha256(large) } });
  });

  it('overwrites an object with new bytes and new headers', async () => {
    const { storage } = await backend.fresh();
    await storage.put('k/one', Buffer.from('first version'), { contentType: 'text/plain', cacheControl: 'no-cache', metadata: { v: '1' } });
    const second = Buffer.from('second, longer version');
    await storage.put('k/one', second, { contentType: 'application/json', cacheControl: 'public, max-age=5', metadata: { v: '2' } });
    expect(await storage.get('k/one')).toEqual(second);
    expect(await readBody(storage, 'k/one')).toMatchObject({ contentType: 'application/json', cacheControl: 'public, max-age=5', metadata: { v: '2' } });
    const listed = await listAll(storage, 'k/');
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ key: 'k/one', size: second.length, etag: etagOf(second) });
  });

  it('lists in byte order (not UTF-16 order), by any prefix, with size and time', async () => {
    const { storage } = await backend.fresh();
    const keys = ['data/app/a.js', 'data/app/a/b.js', 'data/app/a-b.js', 'data/app/B.js', 'data/app/é.js', 'data/app/z.js', 'data/app/😀.js', 'data/app/\uff21.js', 'data/apple/x.js', 'data/app.js'];
    const before = Date.now() - 60_000;
    for (const key of [...keys].reverse()) await storage.put(key, Buffer.from(key), TEXT);

    const listed = await listAll(storage, 'data/app/');
    expect(listed.map((o) => o.key)).toEqual(byteOrder(keys.filter((k) => k.startsWith('data/app/'))));
    // The fullwidth A sorts before the emoji in UTF-8, after it in UTF-16.
    expect(listed.map((o) => o.key).indexOf('data/app/\uff21.js')).toBeLessThan(listed.map((o) => o.key).indexOf('data/app/😀.js'));
    for (const o of listed) {
      expect(o.size).toBe(Buffer.byteLength(o.key));
      expect(o.lastModified.getTime()).toBeGreaterThan(before);
    }
    expect((await listAll(storage, 'data/app')).map((o) => o.key)).toEqual(byteOrder(keys));
    expect((await listAll(storage, 'data/app/a')).map((o) => o.key)).toEqual(byteOrder(['data/app/a.js', 'data/app/a/b.js', 'data/app/a-b.js']));
    expect((await listAll(storage, '')).map((o) => o.key)).toEqual(byteOrder(keys));
  });

  it('lists 1,500 keys past S3\'s 1,000-key page, and deletes 1,200 of them in one call', async () => {
    const { storage } = await backend.fresh();
    const keys = Array.from({ length: 1500 }, (_, i) => `many/${i % 7}/k${i}.js`);
    await pMap(keys, (key) => storage.put(key, Buffer.from(key), TEXT), { concurrency: 32 });

    expect((await listAll(storage, 'many/')).map((o) => o.key)).toEqual(byteOrder(keys));

    await storage.delete([...keys.slice(0, 1200), 'many/never-written.js', 'elsewhere/x']);
    expect((await listAll(storage, 'many/')).map((o) => o.key)).toEqual(byteOrder(keys.slice(1200)));
    expect(await storage.get(keys[0])).toBeUndefined();
  });

  it('keeps odd key names exactly', async () => {
    const { storage } = await backend.fresh();
    const keys = ['odd/sp ace.js', 'odd/100%.js', 'odd/%41%2F.js', 'odd/hash#tag.js', 'odd/q?uery=1.js', 'odd/plus+sign.js', 'odd/ünï cödé/文字.css', 'odd/emoji 😀.txt', "odd/quo'te&=;@$,~.txt", 'odd/<tag attr="x">.html'];
    for (const key of keys) await storage.put(key, Buffer.from(`content of ${key}`), TEXT);
    expect((await listAll(storage, 'odd/')).map((o) => o.key)).toEqual(byteOrder(keys));
    for (const key of keys) {
      expect((await storage.get(key))?.toString()).toBe(`content of ${key}`);
      expect((await readBody(storage, key))?.bytes.toString()).toBe(`content of ${key}`);
    }
    expect(await storage.listChildren('odd/')).toEqual(['ünï cödé']);
    await storage.delete(keys);
    expect(await listAll(storage, 'odd/')).toEqual([]);
  });

  it('lists the next key segments as children, and forgets a segment once its objects are gone', async () => {
    const { storage } = await backend.fresh();
    for (const key of ['data/app1/x.js', 'data/app2/y/z.js', 'data/app10/w.js', 'data/top.js', 'manifests/app1/1700000000']) await storage.put(key, Buffer.from('x'), TEXT);
    expect(await storage.listChildren('data/')).toEqual(['app1', 'app10', 'app2']);
    expect(await storage.listChildren('')).toEqual(['data', 'manifests']);
    expect(await storage.listChildren('data/app2/')).toEqual(['y']);
    expect(await storage.listChildren('data/app1/')).toEqual([]);
    await storage.delete(['data/app2/y/z.js']);
    expect(await storage.listChildren('data/')).toEqual(['app1', 'app10']);
  });

  it('lets exactly one of two simultaneous putIfAbsent calls create the object', async () => {
    const { storage } = await backend.fresh();
    for (let round = 0; round < 5; round++) {
      const key = `manifests/race/${1700000000 + round}`;
      const bodies = [Buffer.from(`{"writer":"a","round":${round}}`), Buffer.from(`{"writer":"b","round":${round},"pad":"xxxx"}`)];
      const created = await Promise.all(bodies.map((b) => storage.putIfAbsent(key, b, { contentType: 'application/json', cacheControl: 'no-cache' })));
      expect(created.filter(Boolean)).toHaveLength(1);
      const winner = bodies[created.indexOf(true)];
      expect(await storage.get(key)).toEqual(winner);
      expect(await storage.putIfAbsent(key, Buffer.from('late'), TEXT)).toBe(false);
      expect(await storage.get(key)).toEqual(winner);
      expect((await listAll(storage, key))[0]).toMatchObject({ size: winner.length, etag: etagOf(winner) });
    }
  });

  it('gives single-part and multipart bodies the ETags EtagHasher computes', async () => {
    const { storage } = await backend.fresh();
    const bodies: Array<[string, Buffer, 'buffer' | 'stream']> = [
      ['empty', Buffer.alloc(0), 'buffer'],
      ['small', noise(1024, 2), 'buffer'],
      ['one-put', noise(5 * 1024 * 1024, 3), 'stream'],
      ['exactly-one-part', noise(PART_SIZE, 4), 'stream'],
      ['three-parts', noise(2 * PART_SIZE + 12345, 5), 'stream'],
    ];
    for (const [name, bytes, form] of bodies) await storage.put(`etag/${name}`, form === 'buffer' ? bytes : streamed(bytes), TEXT);
    const listed = new Map((await listAll(storage, 'etag/')).map((o) => [o.key, o]));
    for (const [name, bytes] of bodies) {
      expect(listed.get(`etag/${name}`)).toMatchObject({ size: bytes.length, etag: etagOf(bytes) });
      expect((await readBody(storage, `etag/${name}`))?.etag).toBe(etagOf(bytes));
    }
    expect(etagOf(bodies[4][1])).toMatch(/-3$/);
    const multipart = await readBody(storage, 'etag/three-parts');
    expect(createHash('sha256').update(multipart!.bytes).digest('hex')).toBe(sha256(bodies[4][1]));
  });

  it('answers for missing objects without failing', async () => {
    const { storage } = await backend.fresh();
    await storage.put('here/a', Buffer.from('a'), TEXT);
    expect(await storage.get('here/b')).toBeUndefined();
    expect(await storage.get('here')).toBeUndefined();
    expect(await storage.read('here/b')).toBeUndefined();
    expect(await storage.read('here')).toBeUndefined();
    expect(await listAll(storage, 'nothing/')).toEqual([]);
    expect(await storage.listChildren('nothing/')).toEqual([]);
    await expect(storage.delete(['nothing/x', 'here/b'])).resolves.toBeUndefined();
    expect(await storage.get('here/a')).toEqual(Buffer.from('a'));
  });

  it('copies an object with its headers and metadata, overwriting the target, and answers false for a missing source', async () => {
    const { storage } = await backend.fresh();
    const small = Buffer.from('{"a":1}');
    const large = noise(PART_SIZE + 4321, 7);
    await storage.put('data/app/fed-mods.json', small, { contentType: 'application/json', cacheControl: 'no-store', metadata: { sha256: sha256(small), Build: 'b2' } });
    await storage.put('data/app/big.wasm', streamed(large), { contentType: 'application/wasm', cacheControl: 'public, max-age=600', metadata: { sha256: sha256(large) } });
    await storage.put('copies/fed-mods.json', Buffer.from('an older copy'), TEXT);

    expect(await storage.copy('data/app/fed-mods.json', 'copies/fed-mods.json')).toBe(true);
    expect(await storage.copy('data/app/big.wasm', 'copies/big.wasm')).toBe(true);
    expect(await readBody(storage, 'copies/fed-mods.json')).toMatchObject({
      bytes: small,
      contentType: 'application/json',
      cacheControl: 'no-store',
      metadata: { sha256: sha256(small), build: 'b2' },
    });
    const big = await readBody(storage, 'copies/big.wasm');
    expect(sha256(big!.bytes)).toBe(sha256(large));
    expect(big).toMatchObject({ contentType: 'application/wasm', cacheControl: 'public, max-age=600', metadata: { sha256: sha256(large) } });
    // The source is left as it was.
    expect(await readBody(storage, 'data/app/fed-mods.json')).toMatchObject({ bytes: small, cacheControl: 'no-store' });

    // Keys that need percent-encoding in CopyObject's source header.
    const odd = "data/app/sp ace+ü%41(1)'.js";
    await storage.put(odd, Buffer.from('odd'), { contentType: 'application/javascript', cacheControl: 'no-cache' });
    expect(await storage.copy(odd, 'copies/sp ace+ü.js')).toBe(true);
    expect(await readBody(storage, 'copies/sp ace+ü.js')).toMatchObject({ bytes: Buffer.from('odd'), contentType: 'application/javascript' });

    expect(await storage.copy('data/app/never-written.js', 'copies/never.js')).toBe(false);
    expect(await storage.get('copies/never.js')).toBeUndefined();
    expect(await storage.copy('data/ap', 'copies/prefix')).toBe(false);
  });

  it('copies from a source whose ETag matches, with the destination’s own headers and the ETag an upload gets, and refuses any other source', async () => {
    const { storage } = await backend.fresh();
    expect(storage.copyFrom).toBeDefined();
    const small = noise(3000, 3);
    const large = noise(PART_SIZE + 4321, 9);
    await storage.put('data/one/lib.js', small, { contentType: 'application/javascript', cacheControl: 'public, max-age=86400', metadata: { sha256: sha256(small) } });
    await storage.put('data/one/big.wasm', streamed(large), { contentType: 'application/wasm', cacheControl: 'public, max-age=86400' });
    const headers = (p: string, bytes: Buffer) => ({ contentType: contentType(p), cacheControl: cacheControl(p, 600), metadata: { sha256: sha256(bytes) } });
    let moves = 0;
    const copy = (from: string, to: string, bytes: Buffer, etag = etagOf(bytes)) =>
      storage.copyFrom!(from, to, { ifMatch: etag, size: bytes.length, sha256: sha256(bytes), ifAbsent: true, headers: headers(to, bytes), onProgress: () => moves++ });

    expect(await copy('data/one/lib.js', 'data/two/vendor/lib.css', small)).toBe('copied');
    moves = 0;
    expect(await copy('data/one/big.wasm', 'data/two/big.bin', large)).toBe('copied');
    // A long copy reports progress (each part on S3), so the batch's heartbeats go on.
    if (backend.name !== 'memory') expect(moves).toBeGreaterThanOrEqual(backend.name === 'S3 (MinIO)' ? 2 : 1);
    expect(await readBody(storage, 'data/two/vendor/lib.css')).toMatchObject({ bytes: small, ...headers('data/two/vendor/lib.css', small) });
    const big = await readBody(storage, 'data/two/big.bin');
    expect(sha256(big!.bytes)).toBe(sha256(large));
    expect(big).toMatchObject(headers('data/two/big.bin', large));
    // The ETags an upload of the same bytes gets, multipart form included: a republish skips them.
    const etags = new Map((await listAll(storage, 'data/two/')).map((o) => [o.key, o.etag]));
    expect(etags).toEqual(new Map([['data/two/big.bin', etagOf(large)], ['data/two/vendor/lib.css', etagOf(small)]]));

    // A source with other bytes of the same size, a missing source: nothing is written.
    expect(await copy('data/one/lib.js', 'data/two/other.js', small, etagOf(flipped(small)))).toBe('precondition-failed');
    expect(await copy('data/one/big.wasm', 'data/two/other.bin', large, etagOf(flipped(large)))).toBe('precondition-failed');
    expect(await copy('data/one/never-written.js', 'data/two/never.js', small)).toBe('precondition-failed');
    expect(await listKeys(storage, 'data/two/')).toEqual(['data/two/big.bin', 'data/two/vendor/lib.css']);

    // Create-only: a copy in parts never replaces an object; a single CopyObject does not either,
    // except on MinIO, which ignores If-None-Match on CopyObject (AWS S3 honours it).
    expect(await copy('data/one/big.wasm', 'data/two/big.bin', large)).toBe('precondition-failed');
    if (backend.name !== 'S3 (MinIO)') expect(await copy('data/one/lib.js', 'data/two/vendor/lib.css', small)).toBe('precondition-failed');
  });

  it('writes with ifAbsent only when the key is free, from a buffer, a stream and in parts', async () => {
    const { storage } = await backend.fresh();
    const bodies: Array<[string, Buffer, (b: Buffer) => ObjectBody]> = [
      ['buffer', Buffer.from('first'), (b) => b],
      ['stream', noise(2 * 1024 * 1024, 8), streamed],
      ['parts', noise(PART_SIZE + 1000, 9), streamed],
    ];
    for (const [name, bytes, body] of bodies) {
      const key = `if-absent/${name}`;
      const progress: number[] = [];
      expect(await storage.put(key, body(bytes), { ...TEXT, ifAbsent: true, sha256: sha256(bytes), onProgress: (n) => progress.push(n) })).toBe(true);
      expect(progress.at(-1)).toBe(bytes.length);
      const other = noise(bytes.length, 99);
      expect(await storage.put(key, body(other), { ...TEXT, ifAbsent: true })).toBe(false);
      expect(sha256((await readBody(storage, key))!.bytes)).toBe(sha256(bytes));
      // Without ifAbsent the same write replaces it.
      expect(await storage.put(key, body(other), TEXT)).toBe(true);
      expect(sha256((await readBody(storage, key))!.bytes)).toBe(sha256(other));
    }
  });

  it('lets exactly one of two simultaneous multipart writes with ifAbsent create the object', async () => {
    const { storage } = await backend.fresh();
    for (let round = 0; round < 3; round++) {
      const key = `race/parts-${round}`;
      const bodies = [noise(PART_SIZE + 10, 10 + round), noise(PART_SIZE + 20, 20 + round)];
      const created = await Promise.all(bodies.map((b) => storage.put(key, streamed(b), { ...TEXT, ifAbsent: true })));
      expect(created.filter(Boolean)).toHaveLength(1);
      expect(sha256((await readBody(storage, key))!.bytes)).toBe(sha256(bodies[created.indexOf(true)]));
    }
  });

  it('refuses bytes that differ from the staged sha256, and leaves the previous object in place', async () => {
    const { storage } = await backend.fresh();
    const cases: Array<[string, Buffer, (staged: Buffer) => { body: ObjectBody; detail: RegExp }]> = [
      ['small buffer', Buffer.from('staged small file'), (b) => ({ body: flipped(b), detail: /sha256/ })],
      ['small stream, rewritten', noise(4096, 11), (b) => ({ body: changed(b, flipped(b)), detail: /sha256/ })],
      ['small stream, shrunk', noise(4096, 12), (b) => ({ body: changed(b, b.subarray(0, 4000)), detail: /4000 bytes instead of the 4096 staged/ })],
      ['small stream, grown', noise(4096, 23), (b) => ({ body: changed(b, noise(2 * 1024 * 1024, 24)), detail: /more than the 4096 bytes staged/ })],
      ['1 MiB stream, rewritten', noise(1024 * 1024, 13), (b) => ({ body: changed(b, flipped(b)), detail: /sha256/ })],
      ['3 MiB stream, shrunk', noise(3 * 1024 * 1024, 14), (b) => ({ body: changed(b, b.subarray(0, 2 * 1024 * 1024)), detail: /2097152 bytes instead/ })],
      ['3 MiB stream, grown', noise(3 * 1024 * 1024, 15), (b) => ({ body: changed(b, Buffer.concat([b, b.subarray(0, 5)])), detail: /more than the 3145728 bytes staged/ })],
      ['multipart, rewritten', noise(2 * PART_SIZE + 100, 16), (b) => ({ body: changed(b, flipped(b)), detail: /sha256/ })],
      ['multipart of whole parts, rewritten at the end', noise(2 * PART_SIZE, 17), (b) => ({ body: changed(b, Buffer.concat([b.subarray(0, -1), Buffer.from([b[b.length - 1] ^ 1])])), detail: /sha256/ })],
      ['multipart, shrunk', noise(2 * PART_SIZE + 100, 18), (b) => ({ body: changed(b, b.subarray(0, PART_SIZE + 50)), detail: /bytes instead/ })],
      ['multipart, grown', noise(PART_SIZE + 100, 19), (b) => ({ body: changed(b, Buffer.concat([b, noise(PART_SIZE, 20)])), detail: /more than/ })],
    ];
    for (const [name, staged, make] of cases) {
      const key = `verified/${name.replace(/[ ,]+/g, '-')}`;
      const { body, detail } = make(staged);
      const err = await storage.put(key, body, { ...TEXT, sha256: sha256(staged) }).catch((e: unknown) => e);
      expect([name, err]).toEqual([name, expect.any(ContentMismatchError)]);
      expect(err).toMatchObject({ type: 'SourceChanged', permanent: true, key, message: expect.stringMatching(detail) });
      expect((err as Error).message).toMatch(new RegExp(`^the bytes sent for ${key} are not the ones staged \\(.*\\): the source changed during the publish$`));
      expect([name, await storage.get(key)]).toEqual([name, undefined]);

      // Over an existing object the refused write changes nothing.
      const previous = Buffer.from(`previous ${name}`);
      await storage.put(key, previous, TEXT);
      await expect(storage.put(key, make(staged).body, { ...TEXT, sha256: sha256(staged) })).rejects.toThrow(ContentMismatchError);
      expect(await readBody(storage, key)).toMatchObject({ bytes: previous, size: previous.length, etag: etagOf(previous) });
    }
    expect(await listAll(storage, 'verified/')).toHaveLength(cases.length);

    // The staged bytes themselves go up.
    for (const bytes of [Buffer.from('ok'), noise(PART_SIZE + 7, 21)]) {
      expect(await storage.put(`verified/ok-${bytes.length}`, bytes.length > 100 ? streamed(bytes) : bytes, { ...TEXT, sha256: sha256(bytes) })).toBe(true);
      expect(sha256((await readBody(storage, `verified/ok-${bytes.length}`))!.bytes)).toBe(sha256(bytes));
    }
  });

  it('reports progress as a streamed body is consumed, and a buffer once', async () => {
    const { storage } = await backend.fresh();
    const bytes = noise(PART_SIZE + 3 * 65536, 22);
    const progress: number[] = [];
    await storage.put('progress/big', streamed(bytes), { ...TEXT, onProgress: (n) => progress.push(n) });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(bytes.length);
    const once: number[] = [];
    await storage.put('progress/small', Buffer.from('12345'), { ...TEXT, onProgress: (n) => once.push(n) });
    expect(once).toEqual([5]);
  });

  it('passes checkAccess on its bucket and refuses a missing one as permanent', async () => {
    const { storage } = await backend.fresh();
    await expect(storage.checkAccess()).resolves.toBeUndefined();
    const err = await backend.missingBucket().checkAccess().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ kind: 'BucketNotFound', permanent: true });
  });
});

describe('the S3 backend', () => {
  it('checks the ETag of a multipart upload, whose parts go unsigned, against the bytes sent', async () => {
    const { storage } = await BACKENDS.find((b) => b.name.startsWith('S3'))!.fresh();
    const bytes = noise(2 * PART_SIZE + 99, 23);
    expect(await storage.put('parts/right', streamed(bytes), { ...TEXT, sha256: sha256(bytes), etag: etagOf(bytes) })).toBe(true);
    // What the store answers when the bytes it received are not the ones hashed: here, the same
    // parts stand for another file's expected ETag.
    const other = etagOf(noise(2 * PART_SIZE + 99, 24));
    const err = await storage.put('parts/damaged', streamed(bytes), { ...TEXT, sha256: sha256(bytes), etag: other }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({ kind: 'StorageUnavailable', permanent: false, message: expect.stringContaining('damaged on the way') });
  });
});

describe('the filesystem backend', () => {
  it('keeps the bucket directory a plain tree of the objects', async () => {
    const { root, bucket, open } = filesystemBucket();
    const storage = open(bucket);
    await storage.put('data/app/index.html', Buffer.from('<html></html>'), { contentType: 'text/html; charset=utf-8', cacheControl: 'no-cache', metadata: { sha256: 'x' } });
    await storage.put('data/app/big.bin', streamed(noise(PART_SIZE + 1, 6)), TEXT);
    await storage.putIfAbsent('manifests/app/1700000000', Buffer.from('{}'), TEXT);
    expect(filesUnder(path.join(root, bucket))).toEqual(['data/app/big.bin', 'data/app/index.html', 'manifests/app/1700000000']);
    expect(readFileSync(path.join(root, bucket, 'data/app/index.html'), 'utf8')).toBe('<html></html>');
    // Deleting the last object of a directory removes the directory, as S3 forgets the prefix.
    await storage.delete(['manifests/app/1700000000']);
    expect(existsSync(path.join(root, bucket, 'manifests'))).toBe(false);
  });

  it('refuses keys that would leave the bucket directory, and touches nothing', async () => {
    const { root, bucket, open } = filesystemBucket();
    const storage = open(bucket);
    for (const key of ['../escape', 'data/../../escape', '/etc/passwd', 'a//b', 'a/./b', 'trailing/', '']) {
      await expect(storage.put(key, Buffer.from('x'), TEXT)).rejects.toThrow(InvalidNameError);
      await expect(storage.get(key)).rejects.toThrow(InvalidNameError);
    }
    expect(readdirSync(root)).toEqual([bucket]);
    expect(filesUnder(path.join(root, bucket))).toEqual([]);
  });

  it('forgets the ETag and headers of an object something else rewrote, so a republish uploads it', async () => {
    const { root, bucket, open } = filesystemBucket();
    const storage = open(bucket);
    await storage.put('data/app/a.js', Buffer.from('one'), { contentType: 'application/javascript', cacheControl: 'no-cache' });
    expect((await listAll(storage, 'data/'))[0].etag).toBe(etagOf(Buffer.from('one')));
    writeFileSync(path.join(root, bucket, 'data/app/a.js'), 'two');
    expect((await listAll(storage, 'data/'))[0]).toMatchObject({ size: 3, etag: undefined });
    expect(await readBody(storage, 'data/app/a.js')).toMatchObject({ contentType: undefined, etag: undefined, metadata: {} });
  });

  it('explains that a key cannot be both an object and a prefix of others', async () => {
    const storage = filesystemBucket().open('frontend');
    await storage.put('data/app/a', Buffer.from('file'), TEXT);
    await expect(storage.put('data/app/a/b.js', Buffer.from('x'), TEXT)).rejects.toThrow(/cannot hold an object at a key that is also the prefix of other objects/);
    await expect(storage.put('data/app', Buffer.from('x'), TEXT)).rejects.toThrow(InvalidNameError);
    expect(await storage.get('data/app/a')).toEqual(Buffer.from('file'));
  });

  it('names the missing root or bucket directory and how to fix it', async () => {
    const missingRoot = new FilesystemStorage({ root: '/nonexistent/pushcache-root', bucket: 'frontend' });
    await expect(missingRoot.checkAccess()).rejects.toThrow(/\/nonexistent\/pushcache-root does not exist; create it or pass the right --root/);
    const { root } = filesystemBucket();
    await expect(new FilesystemStorage({ root, bucket: 'other' }).checkAccess()).rejects.toThrow(`create it (mkdir -p ${path.join(root, 'other')})`);
    writeFileSync(path.join(root, 'plain-file'), 'x');
    const notADir = new FilesystemStorage({ root: path.join(root, 'plain-file'), bucket: 'frontend' });
    await expect(notADir.checkAccess()).rejects.toMatchObject({ kind: 'BucketNotFound', permanent: true, message: expect.stringMatching(/is not a directory/) });
    // The same refusal comes from any read, as S3 answers NoSuchBucket.
    await expect(missingRoot.get('x')).rejects.toMatchObject({ kind: 'BucketNotFound' });
  });
});

describe('the whole pipeline on the filesystem backend', () => {
  const fs = filesystemBucket();
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ openStorage: (bucket) => fs.open(bucket) });
  });
  afterAll(async () => harness?.close());

  const publish = (source: string, image: string) =>
    populate(resolvePublishSettings({ source, prefix: 'example', image }), populateDeps(harness, fs.bucket, fs.open(fs.bucket)));

  it('publishes through Temporal into plain files, and a republish skips what is unchanged', async () => {
    const storage = fs.open(fs.bucket);
    const source = copyExample();
    const tree = await scanSource(source);
    const first = await publish(source, 'img:1');
    expect(first).toMatchObject({ files: tree.files.length, uploaded: tree.files.length, skipped: 0 });

    const bucketDir = path.join(fs.root, fs.bucket);
    for (const file of tree.files) {
      expect(sha256(readFileSync(path.join(bucketDir, 'data/example', file.path)))).toBe(sha256(readLocal(source, file.path)));
      expect(await readBody(storage, dataKey('example', file.path))).toMatchObject({
        contentType: contentType(file.path),
        cacheControl: cacheControl(file.path, 86400),
        metadata: { sha256: file.sha256 },
      });
    }
    const manifest = parseManifest(first.manifestKey, readFileSync(path.join(bucketDir, first.manifestKey), 'utf8'));
    expect(manifest.files.sort()).toEqual(tree.files.map((f) => f.path).sort());
    expect(await listKeys(storage, stagingPrefix('example'))).toEqual([]);

    const again = await publish(source, 'img:2');
    // Nothing changed, fed-mods.json included: nothing is written under data/.
    expect(again).toMatchObject({ uploaded: 0, skipped: tree.files.length });

    // An object rewritten behind pushcache's back is uploaded again.
    writeFileSync(path.join(bucketDir, 'data/example/index.html'), 'something else');
    const third = await publish(source, 'img:3');
    expect(third).toMatchObject({ uploaded: 1, skipped: tree.files.length - 1 });
    expect(readFileSync(path.join(bucketDir, 'data/example/index.html'))).toEqual(readLocal(source, 'index.html'));
    expect(await listKeys(storage, manifestPrefix('example'))).toHaveLength(3);
    // Only objects: no sidecar or temporary file shows in the tree.
    expect(filesUnder(bucketDir).filter((f) => !/^(data|manifests|pushcache)\//.test(f))).toEqual([]);
  });

  it('copies into another app what the bucket already holds, with that app’s headers', async () => {
    const source = copyExample();
    const tree = await scanSource(source);
    await publish(source, 'img:1');
    const other = await populate(resolvePublishSettings({ source, prefix: 'other', image: 'img:1', cacheMaxAge: '600' }), populateDeps(harness, fs.bucket, fs.open(fs.bucket)));
    // Everything but the files the go-live step writes (fed-mods.json, index.html, app-info.json...) is copied.
    expect(other.copied).toBeGreaterThan(tree.files.length / 2);
    expect(other).toMatchObject({ uploaded: tree.files.length - other.copied!, skipped: 0 });
    const storage = fs.open(fs.bucket);
    for (const file of tree.files) {
      const body = await readBody(storage, dataKey('other', file.path));
      expect(sha256(body!.bytes)).toBe(file.sha256);
      expect(body).toMatchObject({ contentType: contentType(file.path), cacheControl: cacheControl(file.path, 600), metadata: { sha256: file.sha256 }, etag: file.etag });
    }
  });

  it('prunes every app of a bucket through Temporal', async () => {
    // A bucket of its own: the builds published above are young, but not protected by -n 1 -t 1.
    const bucket = 'pruning';
    mkdirSync(path.join(fs.root, bucket));
    const storage = fs.open(bucket);
    const t = nowSeconds();
    const newest = await seedManifest(storage, 'pruned', t + 100, [ENTRY_POINT, 'common.js', 'new.js']);
    await seedManifest(storage, 'pruned', t - 5000, [ENTRY_POINT, 'common.js', 'old.js', 'deep/old.js']);
    await seedObjects(storage, 'pruned', [ENTRY_POINT, 'common.js', 'new.js', 'old.js', 'deep/old.js']);
    await new Promise((resolve) => setTimeout(resolve, 2100));

    const result = await prune(resolvePruneSettings({ minAssetRecords: '1', timeout: '1', orphanGrace: '1' }), { all: true }, {
      client: harness.client,
      bucket,
      temporal: harness.temporal,
      report: () => undefined,
    });

    expect(result).toMatchObject({ apps: 1, pruned: 1, failed: [], totals: { manifestsDeleted: 1, objectsDeleted: 2, orphansDeleted: 0 } });
    expect(await listKeys(storage, 'manifests/pruned/')).toEqual([newest]);
    expect(await listKeys(storage, 'data/pruned/')).toEqual([ENTRY_POINT, 'common.js', 'new.js'].map((f) => dataKey('pruned', f)).sort());
    expect(existsSync(path.join(fs.root, bucket, 'data/pruned/deep'))).toBe(false);
  });
});

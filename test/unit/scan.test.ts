import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { InvalidNameError, SourceError } from '../../src/errors';
import { hashFiles } from '../../src/source/hash-pool';
import { scanSource } from '../../src/source/scan';
import { EtagHasher } from '../../src/storage/etag';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pushcache-scan-'));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
  return root;
}

describe('scanSource', () => {
  it('lists every file sorted with its size, sha256 and S3 ETag', async () => {
    const root = tree({ 'b.js': 'bb', 'a/index.html': '<html>', 'a/z/deep.css': '', '.well-known/x': 'x' });
    const scanned = await scanSource(root);
    expect(scanned.files.map((f) => f.path)).toEqual(['.well-known/x', 'a/index.html', 'a/z/deep.css', 'b.js']);
    expect(scanned.files[3]).toEqual({ path: 'b.js', size: 2, sha256: createHash('sha256').update('bb').digest('hex'), etag: createHash('md5').update('bb').digest('hex') });
    expect(scanned.files[2].size).toBe(0);
    expect(scanned.totalBytes).toBe(2 + 6 + 0 + 1);
  });

  it('hashes content, so the digest changes when a byte changes but not when nothing does', async () => {
    const a = tree({ 'x.js': 'one', 'y.js': 'two' });
    const b = tree({ 'x.js': 'one', 'y.js': 'two' });
    const c = tree({ 'x.js': 'one', 'y.js': 'twO' });
    const [da, db, dc] = await Promise.all([a, b, c].map(async (r) => (await scanSource(r)).listDigest));
    expect(da).toBe(db);
    expect(dc).not.toBe(da);
  });

  it('follows symlinks that stay inside the tree', async () => {
    const root = tree({ 'real/a.js': 'a' });
    symlinkSync('real', path.join(root, 'alias'));
    symlinkSync('real/a.js', path.join(root, 'b.js'));
    expect((await scanSource(root)).files.map((f) => f.path)).toEqual(['alias/a.js', 'b.js', 'real/a.js']);
  });

  it('survives a symlink loop', async () => {
    const root = tree({ 'd/a.js': 'a' });
    symlinkSync('..', path.join(root, 'd', 'up'));
    expect((await scanSource(root)).files.map((f) => f.path)).toEqual(['d/a.js']);
  });

  it('rejects a symlink that leaves the source directory', async () => {
    const outside = tree({ 'secret.txt': 's' });
    const root = tree({ 'a.js': 'a' });
    symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'leak.txt'));
    await expect(scanSource(root)).rejects.toThrow(/leak.txt is a symlink that leaves the source directory/);
  });

  it('rejects a FIFO with a clear error', async () => {
    const root = tree({ 'a.js': 'a' });
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    await expect(scanSource(root)).rejects.toThrow(SourceError);
    await expect(scanSource(root)).rejects.toThrow(/pipe is not a regular file/);
  });

  it('rejects names that cannot become safe keys', async () => {
    const root = tree({ 'a\\b.js': 'a' });
    await expect(scanSource(root)).rejects.toThrow(InvalidNameError);
  });

  it('rejects a UNIX socket with a clear error', async () => {
    const root = tree({ 'a.js': 'a' });
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(root, 'control.sock'), resolve));
    try {
      await expect(scanSource(root)).rejects.toThrow(SourceError);
      await expect(scanSource(root)).rejects.toThrow(/control.sock is not a regular file \(a FIFO, socket or device\); remove it from the build/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps the NFC and NFD forms of one name as two files, each under its own bytes', async () => {
    const nfc = 'caf\u00e9.js';
    const nfd = 'cafe\u0301.js';
    expect(nfc.normalize('NFC')).toBe(nfd.normalize('NFC'));
    const root = tree({ [nfc]: 'composed', [nfd]: 'decomposed' });
    const files = (await scanSource(root)).files;
    expect(files.map((f) => Buffer.from(f.path).toString('hex'))).toEqual([nfd, nfc].map((n) => Buffer.from(n).toString('hex')));
    expect(files.find((f) => f.path === nfc)!.sha256).toBe(createHash('sha256').update('composed').digest('hex'));
    expect(files.find((f) => f.path === nfd)!.sha256).toBe(createHash('sha256').update('decomposed').digest('hex'));
  });

  it('lists empty files with size 0 and the digests of no bytes', async () => {
    const root = tree({ 'empty.js': '', 'd/index.html': '' });
    const files = (await scanSource(root)).files;
    expect(files).toEqual([
      { path: 'd/index.html', size: 0, sha256: createHash('sha256').digest('hex'), etag: createHash('md5').digest('hex') },
      { path: 'empty.js', size: 0, sha256: createHash('sha256').digest('hex'), etag: createHash('md5').digest('hex') },
    ]);
  });

  it('accepts a path of 900 bytes and rejects one of 901, counting bytes rather than characters', async () => {
    // Segments stay under the 255-byte name limit of the file system.
    const dirs = `${'d'.repeat(200)}/${'e'.repeat(200)}/${'f'.repeat(200)}/${'g'.repeat(200)}/`;
    const fits = `${dirs}${'h'.repeat(93)}.js`;
    expect(Buffer.byteLength(fits)).toBe(900);
    expect((await scanSource(tree({ [fits]: 'x' }))).files.map((f) => f.path)).toEqual([fits]);

    const tooLong = `${dirs}${'h'.repeat(94)}.js`;
    expect(Buffer.byteLength(tooLong)).toBe(901);
    await expect(scanSource(tree({ [tooLong]: 'x' }))).rejects.toThrow(InvalidNameError);
    await expect(scanSource(tree({ [tooLong]: 'x' }))).rejects.toThrow(/is longer than 900 bytes \(S3 keys stop at 1024\); rename it/);

    // 849 characters, 901 bytes: é is two bytes in UTF-8.
    const wide = `${dirs}${'\u00e9'.repeat(47)}.js`;
    expect(wide.length).toBeLessThan(900);
    expect(Buffer.byteLength(wide)).toBe(901);
    await expect(scanSource(tree({ [wide]: 'x' }))).rejects.toThrow(/is longer than 900 bytes/);
  });

  it('reports a missing source directory', async () => {
    await expect(scanSource('/nonexistent/pushcache')).rejects.toThrow(/source directory \/nonexistent\/pushcache does not exist/);
  });
});

// The pool runs compiled code, so these tests use the build in dist/ (`npm test` builds first).
const WORKER_SCRIPT = path.resolve(__dirname, '../../dist/source/hash-worker.js');

describe('scanSource on worker threads', () => {
  beforeAll(() => {
    if (!existsSync(WORKER_SCRIPT)) throw new Error(`${WORKER_SCRIPT} is missing; run npm run build first`);
  });

  it('gives the same digests as hashing on the calling thread, over many chunks and a multipart file', async () => {
    const files: Record<string, string> = {};
    // Enough files for several chunks of the pool, with varied content.
    for (let i = 0; i < 700; i++) files[`d${i % 7}/f${i}.js`] = `content ${i} `.repeat(i % 50);
    const root = tree(files);
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    writeFileSync(path.join(root, 'big.bin'), big);
    const partSize = 1024 * 1024;

    const here = await scanSource(root, { threads: 0, partSize });
    const pooled = await scanSource(root, { threads: 2, partSize, workerScript: WORKER_SCRIPT });
    expect(pooled).toEqual(here);
    expect(pooled.files).toHaveLength(701);

    const bigRecord = pooled.files.find((f) => f.path === 'big.bin')!;
    const expected = new EtagHasher(partSize, big.length);
    expected.update(big);
    expect(bigRecord).toEqual({ path: 'big.bin', size: big.length, sha256: createHash('sha256').update(big).digest('hex'), etag: expected.digest() });
    expect(bigRecord.etag).toMatch(/-4$/);
    const some = pooled.files.find((f) => f.path === 'd3/f3.js')!;
    expect(some.sha256).toBe(createHash('sha256').update('content 3 '.repeat(3)).digest('hex'));
  });

  it.each([0, 2])('names the file that cannot be read (%i threads)', async (threads) => {
    const root = tree(Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}.js`, `x${i}`])));
    const files = Array.from({ length: 600 }, (_, i) => ({ abs: path.join(root, `f${i}.js`), size: 2 }));
    // As if the file had been removed between listing and hashing.
    files[517] = { abs: path.join(root, 'gone.js'), size: 2 };
    await expect(hashFiles(files, { threads, workerScript: WORKER_SCRIPT })).rejects.toMatchObject({ name: 'HashReadError', index: 517, code: 'ENOENT' });
  });
});

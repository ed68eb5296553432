import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidNameError, SourceError } from '../../src/errors';
import { scanSource } from '../../src/source/scan';

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

  it('reports a missing source directory', async () => {
    await expect(scanSource('/nonexistent/pushcache')).rejects.toThrow(/source directory \/nonexistent\/pushcache does not exist/);
  });
});

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { copyInstead } from '../../src/activities/copies';
import { createFileActivities } from '../../src/activities/files';
import { readContentIndex } from '../../src/bucket/content-index';
import { cacheControl, contentType } from '../../src/contract/headers';
import { dataKey, manifestKey, stagingKey } from '../../src/contract/keys';
import { renderManifest, type FileRecord } from '../../src/contract/manifest';
import { parseStagingRecord } from '../../src/contract/staging';
import { addToContentIndex, planCopies, type ContentSource, type IndexedBuild } from '../../src/source/content-index';
import { scanSource } from '../../src/source/scan';
import { MemoryStorage } from '../../src/storage/memory';
import type { Storage } from '../../src/storage/storage';
import { sha256 } from '../helpers/trees';

/** The content index and the copy decisions, over the in-memory backend (no servers). */

const T = 1_700_000_000;
const VENDOR = 'vendor bytes shared by every app '.repeat(40);

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-copy-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), text);
  }
  return dir;
}

/** Writes a build as a publish leaves it: data objects and a manifest with sha256, sizes and ETags. */
async function publishByHand(storage: Storage, app: string, timestamp: number, files: Record<string, string>): Promise<void> {
  const records: FileRecord[] = [];
  for (const [p, text] of Object.entries(files)) {
    await storage.put(dataKey(app, p), Buffer.from(text), { contentType: contentType(p), cacheControl: cacheControl(p, 86400) });
  }
  for await (const o of storage.list(dataKey(app, ''))) {
    const p = o.key.slice(dataKey(app, '').length);
    if (p in files) records.push({ path: p, size: o.size, sha256: sha256(Buffer.from(files[p])), etag: o.etag });
  }
  await storage.put(manifestKey(app, timestamp), Buffer.from(renderManifest({ files: records, image: 'img', timestamp, publishId: `${app}-${timestamp}` })), {
    contentType: 'application/json',
    cacheControl: 'no-cache',
  });
}

const stageInput = (app: string, sourceDir: string) => ({
  app,
  sourceDir,
  image: 'img:new',
  timestamp: T + 100,
  publishId: 'run-1',
  batchLimits: { maxFiles: 100, maxBytes: 1 << 30 },
  cacheMaxAge: 3600,
  goLive: true,
});

describe('the content index', () => {
  it('maps each sha256 to the first build naming it, only where sha256, size and ETag are recorded', () => {
    const builds: IndexedBuild[] = [
      { app: 'own', manifest: { files: ['a.js'], image: '', sha256: { 'a.js': 'aa' }, sizes: { 'a.js': 3 }, etags: { 'a.js': 'e1' } } },
      { app: 'other', manifest: { files: ['x/a.js', 'b.js'], image: '', sha256: { 'x/a.js': 'aa', 'b.js': 'bb' }, sizes: { 'x/a.js': 3, 'b.js': 4 }, etags: { 'x/a.js': 'e1', 'b.js': 'e2' } } },
      // valpop records no sha256: never a source.
      { app: 'valpop', manifest: { files: ['c.js'], image: '' } },
    ];
    const index = new Map<string, ContentSource>();
    for (const build of builds) addToContentIndex(index, build);
    expect([...index.entries()]).toEqual([
      ['aa', { key: 'data/own/a.js', size: 3, etag: 'e1' }],
      ['bb', { key: 'data/other/b.js', size: 4, etag: 'e2' }],
    ]);
  });

  it('copies only a file whose sha256, size and ETag all match, and never from its own key', () => {
    const index = new Map([
      ['aa', { key: 'data/other/a.js', size: 3, etag: 'e1' }],
      ['bb', { key: 'data/app/b.js', size: 4, etag: 'e2' }],
      ['cc', { key: 'data/other/c.js', size: 5, etag: 'e3' }],
    ]);
    const copies = planCopies(
      'app',
      [
        { path: 'v/a.js', size: 3, sha256: 'aa', etag: 'e1' },
        { path: 'b.js', size: 4, sha256: 'bb', etag: 'e2' },
        { path: 'c.js', size: 6, sha256: 'cc', etag: 'e3' },
        { path: 'd.js', size: 5, sha256: 'cc', etag: 'other' },
        { path: 'e.js', size: 5, sha256: 'cc' },
      ],
      index,
    );
    expect([...copies.entries()]).toEqual([['v/a.js', { from: 'data/other/a.js', etag: 'e1' }]]);
  });

  it('reads the newest manifest of every app, the publishing app first, and skips unreadable ones', async () => {
    const storage = new MemoryStorage();
    await publishByHand(storage, 'zed', T, { 'old.js': 'only in an older build' });
    await publishByHand(storage, 'zed', T + 1, { 'new.js': VENDOR });
    await publishByHand(storage, 'app', T, { 'mine.js': VENDOR });
    await storage.put(manifestKey('broken', T), Buffer.from('not json'), { contentType: 'application/json', cacheControl: 'no-cache' });
    const read = await readContentIndex(storage, 'app');
    expect(read.apps).toBe(2);
    expect(read.requests).toBe(1 + 2 * 3);
    expect(read.index.get(sha256(Buffer.from(VENDOR)))?.key).toBe('data/app/mine.js');
    // Only the newest manifest of each app counts; other apps in name order.
    expect(read.index.has(sha256(Buffer.from('only in an older build')))).toBe(false);
    const other = await readContentIndex(storage, 'zed');
    expect(other.index.get(sha256(Buffer.from(VENDOR)))?.key).toBe('data/zed/new.js');
  });

  it('keeps the order of preference across more apps than it reads at once, and only the sha256s asked for', async () => {
    const storage = new MemoryStorage();
    const apps = Array.from({ length: 40 }, (_, i) => `app-${String(i).padStart(2, '0')}`);
    for (const app of apps) await publishByHand(storage, app, T, { 'vendor.js': VENDOR, [`${app}.js`]: `only in ${app}` });
    const vendor = sha256(Buffer.from(VENDOR));
    // The publishing app is read in the first window, wherever its name sorts.
    expect((await readContentIndex(storage, 'app-37')).index.get(vendor)?.key).toBe('data/app-37/vendor.js');
    const wanted = new Set([vendor, sha256(Buffer.from('only in app-33'))]);
    const read = await readContentIndex(storage, 'new-app', undefined, wanted);
    expect(read.apps).toBe(40);
    expect([...read.index.entries()]).toEqual([
      [vendor, { key: 'data/app-00/vendor.js', size: VENDOR.length, etag: expect.any(String) }],
      [sha256(Buffer.from('only in app-33')), { key: 'data/app-33/app-33.js', size: 'only in app-33'.length, etag: expect.any(String) }],
    ]);
  });
});

describe('staging decides copies, the batches make them', () => {
  it('records each decision with its reason and counts the copies', async () => {
    const storage = new MemoryStorage();
    await publishByHand(storage, 'one', T, { 'vendor/lib.js': VENDOR, 'one.js': 'only in one' });
    await publishByHand(storage, 'app', T, { 'same.js': 'kept', 'changed.js': 'v1' });
    const source = tree({ 'assets/lib.js': VENDOR, 'own.js': 'new here', 'same.js': 'kept', 'changed.js': 'v2', 'fed-mods.json': '{}' });
    const summary = await createFileActivities({ storage }).stageBuild(stageInput('app', source));
    const record = parseStagingRecord('k', (await storage.get(stagingKey('app', 'run-1')))!.toString());
    expect(record.copies).toEqual({ 'assets/lib.js': { from: 'data/one/vendor/lib.js', etag: expect.any(String) } });
    expect(record.reasons).toEqual({ 'assets/lib.js': 'copy', 'own.js': 'new', 'same.js': 'unverified', 'changed.js': 'changed', 'fed-mods.json': 'new' });
    expect(summary).toMatchObject({ copyFiles: 1, copyBytes: VENDOR.length });
  });

  it('plans no copy with copying off', async () => {
    const storage = new MemoryStorage();
    await publishByHand(storage, 'one', T, { 'vendor/lib.js': VENDOR });
    const source = tree({ 'assets/lib.js': VENDOR, 'fed-mods.json': '{}' });
    const summary = await createFileActivities({ storage, copy: false }).stageBuild(stageInput('app', source));
    const record = parseStagingRecord('k', (await storage.get(stagingKey('app', 'run-1')))!.toString());
    expect(record.copies).toBeUndefined();
    expect(record.reasons?.['assets/lib.js']).toBe('new');
    expect(summary.copyFiles).toBeUndefined();
  });

  it('copies with the destination’s own headers, and refuses a source that is gone or holds other bytes', async () => {
    const storage = new MemoryStorage();
    await publishByHand(storage, 'one', T, { 'vendor/lib.js': VENDOR, 'b.js': VENDOR.toUpperCase() });
    const file = (await scanSource(tree({ 'x/lib.css': VENDOR }))).files[0];
    const { index } = await readContentIndex(storage, 'app');
    const decision = planCopies('app', [file], index).get('x/lib.css')!;
    expect(await copyInstead(storage, 'app', file, decision, 3600, true)).toBe(true);
    const copied = await storage.read(dataKey('app', 'x/lib.css'));
    expect(copied).toMatchObject({ contentType: 'text/css; charset=utf-8', cacheControl: 'public, max-age=3600', metadata: { sha256: file.sha256 } });
    // Create-only: the key is taken now.
    expect(await copyInstead(storage, 'app', file, decision, 3600, true)).toBe(false);

    const other = { ...file, path: 'y/lib.css' };
    // Same size, other bytes: the ETag precondition refuses it.
    await storage.put('data/one/vendor/lib.js', Buffer.from(VENDOR.toUpperCase()), { contentType: 'text/plain', cacheControl: 'x' });
    expect(await copyInstead(storage, 'app', other, decision, 3600, true)).toBe(false);
    await storage.delete(['data/one/vendor/lib.js']);
    expect(await copyInstead(storage, 'app', other, decision, 3600, true)).toBe(false);
    expect(await storage.get(dataKey('app', 'y/lib.css'))).toBeUndefined();
  });
});

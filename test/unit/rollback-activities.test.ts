import { createRollbackActivities } from '../../src/activities/rollback';
import { buildCopyKey, dataKey, manifestKey } from '../../src/contract/keys';
import { parseManifest, renderManifest } from '../../src/contract/manifest';
import { MemoryStorage } from '../../src/storage/memory';
import type { Storage } from '../../src/storage/storage';
import { sha256 } from '../helpers/trees';

/**
 * The rollback activities called directly over the in-memory backend: no Temporal server, no
 * MinIO. Outside an activity context they run without heartbeats; failures come out as the
 * typed ApplicationFailures the workflow sees.
 */

const T = 1_700_000_000;
const TEXT = { contentType: 'text/plain', cacheControl: 'no-cache' };

/** Writes a build as a publish leaves it: its data objects, copies of its entry files, its manifest with sizes, sha256 and ETags. */
async function publishByHand(storage: Storage, timestamp: number, buildId: string, files: Record<string, string>): Promise<string> {
  for (const [p, text] of Object.entries(files)) {
    await storage.put(dataKey('app', p), Buffer.from(text), TEXT);
    if (p.endsWith('.json') || p === 'index.html') await storage.put(buildCopyKey('app', buildId, p), Buffer.from(text), TEXT);
  }
  const etags = new Map<string, string>();
  for await (const o of storage.list(dataKey('app', ''))) etags.set(o.key, o.etag!);
  const records = Object.entries(files).map(([path, text]) => ({ path, size: Buffer.byteLength(text), sha256: sha256(Buffer.from(text)), etag: etags.get(dataKey('app', path)) }));
  const key = manifestKey('app', timestamp);
  await storage.put(key, Buffer.from(renderManifest({ files: records, image: `img:${buildId}`, timestamp, publishId: buildId })), { contentType: 'application/json', cacheControl: 'no-cache' });
  return key;
}

describe('rollback activities over the memory backend', () => {
  it('checks a build that is all there, restores its entry files and records the rollback in the next free second', async () => {
    const storage = new MemoryStorage();
    const acts = createRollbackActivities({ openStorage: () => storage });
    const oldKey = await publishByHand(storage, T, 'build-1', { 'fed-mods.json': '{"v":1}', 'app.1.js': 'one' });
    await publishByHand(storage, T + 10, 'build-2', { 'fed-mods.json': '{"v":2}', 'app.2.js': 'two' });

    const target = await acts.checkRollbackTarget({ bucket: 'b', app: 'app', to: { timestamp: T } });
    expect(target).toMatchObject({ manifestKey: oldKey, timestamp: T, image: 'img:build-1', buildId: 'build-1', files: 2, entryFiles: 1 });

    expect(await acts.restoreEntryFiles({ bucket: 'b', app: 'app', manifestKey: oldKey, fromBuild: 'build-1', toBuild: 'rollback-1' })).toEqual({ files: 1, bytes: 7 });
    expect((await storage.get(dataKey('app', 'fed-mods.json')))?.toString()).toBe('{"v":1}');
    expect((await storage.get(buildCopyKey('app', 'rollback-1', 'fed-mods.json')))?.toString()).toBe('{"v":1}');

    // The rollback's own second is taken by the newer build: it takes the next one, and a retry finds its own.
    const input = { bucket: 'b', app: 'app', manifestKey: oldKey, publishId: 'rollback-1', timestamp: T + 10 };
    const committed = await acts.commitRollbackManifest(input);
    expect(committed).toEqual({ manifestKey: manifestKey('app', T + 11), timestamp: T + 11 });
    expect(await acts.commitRollbackManifest(input)).toEqual(committed);
    const manifest = parseManifest(committed.manifestKey, (await storage.get(committed.manifestKey))!.toString());
    expect(manifest).toMatchObject({ files: ['fed-mods.json', 'app.1.js'], image: 'img:build-1', publishId: 'rollback-1', rollbackOf: T });
  });

  it('refuses, as a non-retryable failure, a build a later one rewrote', async () => {
    const storage = new MemoryStorage();
    const acts = createRollbackActivities({ openStorage: () => storage });
    await publishByHand(storage, T, 'build-1', { 'fed-mods.json': '{"v":1}', 'shared.js': 'old' });
    await publishByHand(storage, T + 10, 'build-2', { 'fed-mods.json': '{"v":2}', 'shared.js': 'new' });

    const err = await acts.checkRollbackTarget({ bucket: 'b', app: 'app', to: { timestamp: T } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ nonRetryable: true, message: expect.stringMatching(/1 rewritten with other content by a later build \(shared\.js\)/) });
  });

  it('restores a file a later build rewrote from the copy kept of it, keeping what it overwrites, and a retry rewrites only the entry files', async () => {
    const storage = new MemoryStorage();
    const acts = createRollbackActivities({ openStorage: () => storage });
    const oldKey = await publishByHand(storage, T, 'build-1', { 'fed-mods.json': '{"v":1}', 'shared.js': 'old' });
    // What build 2's go-live step does: keep build 1's bytes under build 1's copies, then overwrite.
    await storage.copy(dataKey('app', 'shared.js'), buildCopyKey('app', 'build-1', 'shared.js'));
    await publishByHand(storage, T + 10, 'build-2', { 'fed-mods.json': '{"v":2}', 'shared.js': 'new' });

    expect(await acts.checkRollbackTarget({ bucket: 'b', app: 'app', to: { timestamp: T } })).toMatchObject({ files: 2, restores: 2 });
    const input = { bucket: 'b', app: 'app', manifestKey: oldKey, fromBuild: 'build-1', toBuild: 'rollback-1' };
    expect(await acts.restoreEntryFiles(input)).toEqual({ files: 2, bytes: 10 });
    expect((await storage.get(dataKey('app', 'shared.js')))?.toString()).toBe('old');
    // Build 2's bytes, which only data/ held, are kept for a rollback forward.
    expect((await storage.get(buildCopyKey('app', 'build-2', 'shared.js')))?.toString()).toBe('new');
    // A retry (the worker lost after the restore) finds shared.js in place.
    expect(await acts.restoreEntryFiles(input)).toEqual({ files: 1, bytes: 7 });
    expect((await storage.get(buildCopyKey('app', 'build-2', 'shared.js')))?.toString()).toBe('new');
  });
});

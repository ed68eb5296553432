import { setTimeout as sleep } from 'node:timers/promises';
import { resolvePruneSettings, resolvePublishSettings, type PruneTarget, type RawOptions } from '../../src/config';
import { dataKey, manifestKey, stagingKey } from '../../src/contract/keys';
import { populate } from '../../src/client/populate';
import { prune, PruneFailedError } from '../../src/client/prune';
import type { AppPruneResult, PruneAllResult } from '../../src/prune/types';
import type { Storage } from '../../src/storage/storage';
import { runCli } from '../helpers/cli';
import { nowSeconds, seedManifest, seedObjects } from '../helpers/seed';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness, type Harness, populateDeps } from '../helpers/servers';
import { generatedTree } from '../helpers/trees';

jest.setTimeout(180_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

async function runPrune(bucket: string, target: PruneTarget, options: RawOptions = {}) {
  const lines: string[] = [];
  const result = await prune(resolvePruneSettings(options), target, {
    client: harness.client,
    bucket,
    temporal: harness.temporal,
    report: (line) => lines.push(line),
  });
  return { result, lines };
}

/**
 * Four builds of `app`, newest first: one from the future (the newest), one young enough to
 * keep under a 1 s timeout, two old. Objects are seeded, then left idle past a 1 s grace.
 */
async function seedFourBuilds(storage: Storage, app: string, form: 'current' | 'legacy' = 'current') {
  const t = nowSeconds();
  const builds = {
    newest: await seedManifest(storage, app, t + 1000, ['fed-mods.json', 'common.js', 'd.js'], form),
    young: await seedManifest(storage, app, t + 500, ['fed-mods.json', 'common.js', 'c.js'], form),
    old: await seedManifest(storage, app, t - 4000, ['fed-mods.json', 'common.js', 'b.js'], form),
    oldest: await seedManifest(storage, app, t - 5000, ['fed-mods.json', 'common.js', 'a.js'], form),
  };
  await seedObjects(storage, app, ['fed-mods.json', 'common.js', 'a.js', 'b.js', 'c.js', 'd.js']);
  await sleep(2100);
  return builds;
}

const RULE = { minAssetRecords: '1', timeout: '1', orphanGrace: '1' };

describe('PruneWorkflow against Temporal and MinIO', () => {
  it('keeps the newest n and the young builds, deletes old builds and the files only they name', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const builds = await seedFourBuilds(storage, 'app');

    const { result } = await runPrune(bucket, { app: 'app' }, RULE);

    expect(await listKeys(storage, 'manifests/app/')).toEqual([builds.young, builds.newest].sort());
    expect(await listKeys(storage, 'data/app/')).toEqual(['common.js', 'c.js', 'd.js', 'fed-mods.json'].map((f) => dataKey('app', f)).sort());
    expect(result).toMatchObject({ app: 'app', status: 'pruned', manifestsKept: 2, manifestsDeleted: 2, objectsDeleted: 2, orphansDeleted: 0, objectsKept: 4 });
    expect((result as AppPruneResult).manifests.map((m) => m.action)).toEqual(['keep', 'keep', 'delete', 'delete']);
    expect(await listKeys(storage, 'pushcache/')).toEqual([]);
  });

  it('reads legacy manifests (bare arrays) like current ones', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const builds = await seedFourBuilds(storage, 'legacy', 'legacy');
    await runPrune(bucket, { app: 'legacy' }, RULE);
    expect(await listKeys(storage, 'manifests/legacy/')).toEqual([builds.young, builds.newest].sort());
    expect(await listKeys(storage, 'data/legacy/')).toEqual(['common.js', 'c.js', 'd.js', 'fed-mods.json'].map((f) => dataKey('legacy', f)).sort());
  });

  it('prints what a dry run would delete, with reasons, and deletes nothing', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const builds = await seedFourBuilds(storage, 'dry');
    const before = await listKeys(storage, '');

    const { result, lines } = await runPrune(bucket, { app: 'dry' }, { ...RULE, dryRun: true });

    expect(await listKeys(storage, '')).toEqual(before);
    expect(result).toMatchObject({ status: 'dry-run', manifestsDeleted: 2, objectsDeleted: 2 });
    const oldestAge = (result as AppPruneResult).manifests[3].ageSeconds;
    expect(oldestAge).toBeGreaterThanOrEqual(5000);
    expect(lines).toContain(`would delete ${builds.oldest}: build 4 by age and ${oldestAge}s old, older than the 1s timeout`);
    expect(lines).toContain(`kept ${builds.newest}: one of the newest 1 builds`);
    expect(lines.some((l) => l.startsWith(`kept ${builds.young}: `) && l.includes('not older than the 1s timeout'))).toBe(true);
    expect(lines).toContain('would delete data/dry/a.js: named only by builds that are deleted');
    expect(lines.at(-1)).toMatch(/would delete 2 of 4 builds.*nothing was deleted \(dry run\)$/);
  });

  it('refuses to delete more than --max-delete objects and deletes nothing', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await seedFourBuilds(storage, 'guarded');
    const before = await listKeys(storage, '');

    await expect(runPrune(bucket, { app: 'guarded' }, { ...RULE, maxDelete: '3' })).rejects.toThrow(
      /pruning guarded would delete 4 objects, more than --max-delete 3; nothing was deleted/,
    );
    expect(await listKeys(storage, '')).toEqual(before);

    await runPrune(bucket, { app: 'guarded' }, { ...RULE, maxDelete: '4' });
    expect(await listKeys(storage, 'manifests/guarded/')).toHaveLength(2);
  });

  it('stops at an unreadable manifest, deletes nothing of that app, and prunes the other apps', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await seedFourBuilds(storage, 'good');
    await seedFourBuilds(storage, 'broken');
    const corrupt = manifestKey('broken', nowSeconds() - 3000);
    await storage.put(corrupt, Buffer.from('{"files": [trunc'), { contentType: 'application/json', cacheControl: 'no-cache' });
    const brokenBefore = await listKeys(storage, 'data/broken/');

    await expect(runPrune(bucket, { app: 'broken' }, RULE)).rejects.toThrow(new RegExp(`object ${corrupt} is corrupt: not JSON`));
    expect(await listKeys(storage, 'manifests/broken/')).toHaveLength(5);

    const err = await runPrune(bucket, { all: true }, RULE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PruneFailedError);
    expect((err as Error).message).toMatch(/1 of 2 apps could not be pruned: broken \(planning the prune of broken failed: object manifests\/broken\/\d+ is corrupt/);
    expect(await listKeys(storage, 'manifests/broken/')).toHaveLength(5);
    expect(await listKeys(storage, 'data/broken/')).toEqual(brokenBefore);
    expect(await listKeys(storage, 'manifests/good/')).toHaveLength(2);
    expect(await listKeys(storage, 'data/good/')).toHaveLength(4);
  });

  it('treats a manifest key that is not a timestamp as unreadable', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await storage.put('manifests/odd/latest', Buffer.from('[]'), { contentType: 'application/json', cacheControl: 'no-cache' });
    await expect(runPrune(bucket, { app: 'odd' }, RULE)).rejects.toThrow(/manifests\/odd\/latest is corrupt: its name is not a unix timestamp/);
  });

  it('collects objects no build names once they are older than the grace period, but not what a publish in progress uses', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await seedManifest(storage, 'orph', nowSeconds() + 1000, ['fed-mods.json', 'live.js']);
    await seedObjects(storage, 'orph', ['fed-mods.json', 'live.js', 'failed-build-1.js', 'failed-build-2.js', 'inflight.js']);
    const record = { version: 1, publishId: 'p1', app: 'orph', image: '', timestamp: nowSeconds(), listDigest: 'x', files: [{ path: 'inflight.js', size: 1, sha256: 'a'.repeat(64) }] };
    await storage.put(stagingKey('orph', 'p1'), Buffer.from(JSON.stringify(record)), { contentType: 'application/json', cacheControl: 'no-cache' });
    await sleep(2100);

    const within = await runPrune(bucket, { app: 'orph' }, { ...RULE, orphanGrace: '3600' });
    expect(within.result).toMatchObject({ orphansDeleted: 0 });
    expect(await listKeys(storage, 'data/orph/')).toHaveLength(5);

    const dry = await runPrune(bucket, { app: 'orph' }, { ...RULE, dryRun: true });
    expect(dry.lines).toContain('would delete data/orph/failed-build-1.js: named by no build and no publish in progress');

    const past = await runPrune(bucket, { app: 'orph' }, RULE);
    expect(past.result).toMatchObject({ orphansDeleted: 2, objectsKept: 3 });
    expect(await listKeys(storage, 'data/orph/')).toEqual(['fed-mods.json', 'inflight.js', 'live.js'].map((f) => dataKey('orph', f)));
  });

  it('prunes every app of the bucket with --all', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    for (const app of ['one', 'two', 'three']) await seedManifest(storage, app, nowSeconds() - 100, ['x.js']);
    for (const app of ['one', 'two', 'three']) await seedManifest(storage, app, nowSeconds() + 100, ['y.js']);
    await seedObjects(storage, 'one', ['x.js', 'y.js']);
    await storage.put('data/not an app/z', Buffer.from('z'), { contentType: 'text/plain', cacheControl: 'no-cache' });
    await sleep(2100);
    const { result } = await runPrune(bucket, { all: true }, { ...RULE, appParallelism: '2' });
    expect(result).toMatchObject({ apps: 3, pruned: 3, busy: [], failed: [], ignored: ['not an app'] });
    expect((result as PruneAllResult).totals).toMatchObject({ manifestsDeleted: 3, manifestsKept: 3, objectsDeleted: 1 });
    expect(await listKeys(storage, 'data/one/')).toEqual(['data/one/y.js']);
  });
});

describe('the Job prunes its own app after publishing', () => {
  async function publish(bucket: string, source: string, image: string, extra: RawOptions = {}) {
    return populate(resolvePublishSettings({ source, prefix: 'self', image, minAssetRecords: '1', timeout: '0', orphanGrace: '0', ...extra }), populateDeps(harness, bucket));
  }

  it('deletes the build the new one replaces, unless --no-prune', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const first = await publish(bucket, generatedTree(5), 'img:1');
    await sleep(1100);
    const second = await publish(bucket, generatedTree(7), 'img:2');
    expect(second.prune).toEqual({ status: 'pruned', manifestsDeleted: 1, objectsDeleted: 0 });
    expect(await listKeys(storage, 'manifests/self/')).toEqual([second.manifestKey]);
    expect(await listKeys(storage, 'manifests/self/')).not.toContain(first.manifestKey);

    await sleep(1100);
    const third = await publish(bucket, generatedTree(3), 'img:3', { prune: false });
    expect(third.prune).toBeUndefined();
    expect(await listKeys(storage, 'manifests/self/')).toEqual([second.manifestKey, third.manifestKey].sort());
  });

  it('runs no prune when no build ages out, and the prune when one does', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    // Workflow IDs name the app and image, not the bucket: these images are this test's own.
    const ranPrune = async (workflowId: string) =>
      harness.client.workflow
        .getHandle(`${workflowId}/prune`)
        .describe()
        .then(() => true, () => false);
    const first = await publish(bucket, generatedTree(5), 'img:idle-1', { minAssetRecords: '2' });
    await sleep(1100);
    const second = await publish(bucket, generatedTree(6), 'img:idle-2', { minAssetRecords: '2' });
    expect(second.prune).toEqual({ status: 'pruned', manifestsDeleted: 0, objectsDeleted: 0 });
    expect(await ranPrune(second.workflowId)).toBe(false);
    expect(await listKeys(storage, 'manifests/self/')).toEqual([first.manifestKey, second.manifestKey].sort());

    await sleep(1100);
    const third = await publish(bucket, generatedTree(7), 'img:idle-3', { minAssetRecords: '2' });
    expect(third.prune).toEqual({ status: 'pruned', manifestsDeleted: 1, objectsDeleted: 0 });
    expect(await ranPrune(third.workflowId)).toBe(true);
    expect(await listKeys(storage, 'manifests/self/')).toEqual([second.manifestKey, third.manifestKey].sort());
  });
});

describe('pushcache prune (CLI)', () => {
  it('needs exactly one of --prefix and --all', async () => {
    const bucket = await newBucket();
    const env = jobEnv(harness.taskQueue, bucket);
    const neither = await runCli(['prune'], env);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/give either -r\/--prefix APP or --all/);
    const both = await runCli(['prune', '--all', '-r', 'x'], env);
    expect(both.code).toBe(2);
    const bad = await runCli(['prune', '-r', '../x'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/-r\/--prefix: app name "..\/x" is not allowed/);
  });

  it('runs a dry run and exits 0, and exits 1 with the reason when the guard stops a prune', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await seedFourBuilds(storage, 'cli');
    const env = jobEnv(harness.taskQueue, bucket);
    const dry = await runCli(['prune', '-r', 'cli', '-n', '1', '-t', '1', '--orphan-grace', '1', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would delete data\/cli\/a\.js/);
    const guarded = await runCli(['prune', '-r', 'cli', '-n', '1', '-t', '1', '--orphan-grace', '1', '--max-delete', '1'], env);
    expect(guarded.code).toBe(1);
    expect(guarded.stderr.trim().split('\n').at(-1)).toMatch(/^pushcache: error: pruning cli would delete 4 objects, more than --max-delete 1; nothing was deleted/);
    expect(await listKeys(storage, 'manifests/cli/')).toHaveLength(4);
  });
});

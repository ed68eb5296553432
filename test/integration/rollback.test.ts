import { setTimeout as sleep } from 'node:timers/promises';
import { resolvePruneSettings } from '../../src/config';
import { buildCopyPrefix, dataKey, manifestKey, manifestPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { prune } from '../../src/client/prune';
import { rollback, RollbackFailedError, rollbackWorkflowId, type RollbackSettings } from '../../src/client/rollback';
import type { AppPruneResult } from '../../src/prune/types';
import type { RollbackResult } from '../../src/workflows/types';
import { publishBuilds, type PublishedBuild } from '../helpers/builds';
import { runCli } from '../helpers/cli';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness, type Harness } from '../helpers/servers';
import { readLocal, readObject } from '../helpers/trees';

jest.setTimeout(180_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

const ENTRY_FILES = ['app-info.json', 'fed-mods.json', 'index.html'];

async function rollBack(bucket: string, to: RollbackSettings['to'], app = 'app'): Promise<RollbackResult> {
  return rollback({ app, to, maxAttempts: 3 }, { client: harness.client, bucket, temporal: harness.temporal, report: () => undefined });
}

async function expectLive(bucket: string, build: PublishedBuild, app = 'app'): Promise<void> {
  for (const f of ENTRY_FILES) expect((await readObject(bucket, dataKey(app, f))).body).toEqual(readLocal(build.dir, f));
}

async function manifestOf(bucket: string, key: string) {
  return parseManifest(key, (await readObject(bucket, key)).body.toString('utf8'));
}

describe('a publish keeps copies of its entry files', () => {
  it('under pushcache/builds/<app>/<run id>/, byte for byte, and records every ETag in the manifest', async () => {
    const bucket = await newBucket();
    const [build] = await publishBuilds(harness, bucket, 'app', 1);
    const prefix = buildCopyPrefix('app', build.outcome.runId);
    expect(await listKeys(openTestStorage(bucket), prefix)).toEqual(ENTRY_FILES.map((f) => prefix + f));
    for (const f of ENTRY_FILES) expect((await readObject(bucket, prefix + f)).body).toEqual(readLocal(build.dir, f));
    const m = await manifestOf(bucket, build.outcome.manifestKey);
    expect(m.publishId).toBe(build.outcome.runId);
    expect(Object.keys(m.etags ?? {}).sort()).toEqual([...m.files].sort());
  });
});

describe('RollbackWorkflow', () => {
  let bucket: string;
  let builds: PublishedBuild[];
  beforeAll(async () => {
    bucket = await newBucket();
    // Build 3 is the bad one.
    builds = await publishBuilds(harness, bucket, 'app', 3);
  });

  it('brings build 2 back by its timestamp: entry files restored, a new manifest naming its files', async () => {
    await expectLive(bucket, builds[2]);
    const result = await rollBack(bucket, { timestamp: builds[1].timestamp });
    await expectLive(bucket, builds[1]);

    expect(result.target).toMatchObject({ manifestKey: builds[1].outcome.manifestKey, timestamp: builds[1].timestamp, image: 'img:2', files: 5, entryFiles: 3 });
    expect(result.restored).toBe(3);
    expect(result.timestamp).toBeGreaterThan(builds[2].timestamp);
    const target = await manifestOf(bucket, builds[1].outcome.manifestKey);
    const written = await manifestOf(bucket, result.manifestKey);
    expect(written).toMatchObject({ files: target.files, image: 'img:2', rollbackOf: builds[1].timestamp, sha256: target.sha256, sizes: target.sizes, etags: target.etags, cacheMaxAge: 86400 });
    expect(written.publishId).not.toBe(target.publishId);
    // The new build has copies of its own, so it outlives build 2's copies.
    const own = buildCopyPrefix('app', written.publishId!);
    expect(await listKeys(openTestStorage(bucket), own)).toEqual(ENTRY_FILES.map((f) => own + f));
  });

  it('brings build 2 back by its image after build 3 went live again', async () => {
    await rollBack(bucket, { timestamp: builds[2].timestamp });
    await expectLive(bucket, builds[2]);
    const result = await rollBack(bucket, { image: 'img:2' });
    // The newest build with that image is the earlier rollback to build 2: the same files.
    expect(result.target.image).toBe('img:2');
    await expectLive(bucket, builds[1]);
    expect(result.timestamp).toBeGreaterThan(builds[2].timestamp);
  });

  it('refuses an unknown build, with the builds there are, and changes nothing', async () => {
    const before = await listKeys(openTestStorage(bucket), '');
    const err = await rollBack(bucket, { image: 'img:nope' }).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackFailedError);
    expect(err.message).toMatch(/app has no build with image img:nope; the newest retained builds are \d+ \(img:2\)/);
    expect(await listKeys(openTestStorage(bucket), '')).toEqual(before);
  });
});

describe('a build a later build overwrote', () => {
  it('is refused with the paths and how many when the copy kept of them is gone, before anything is written', async () => {
    const bucket = await newBucket();
    // Build 2 rewrites js/shared.js in place with other bytes of the same size; its go-live
    // step keeps build 1's under build 1's copies, removed here (as by hand).
    const builds = await publishBuilds(harness, bucket, 'app', 2, (n) => ({ 'js/shared.js': `version ${n}` }));
    await openTestStorage(bucket).delete([buildCopyPrefix('app', builds[0].outcome.runId) + 'js/shared.js']);
    const before = await listKeys(openTestStorage(bucket), '');
    const err = await rollBack(bucket, { timestamp: builds[0].timestamp }).catch((e) => e);
    expect(err).toBeInstanceOf(RollbackFailedError);
    expect(err.message).toBe(
      `checking the build to roll back to failed: build ${builds[0].timestamp} of app cannot be rolled back to: 1 of its 6 files are no longer as it wrote them and no copy of them is kept: ` +
        '1 rewritten with other content by a later build (js/shared.js). Publish that build again instead',
    );
    // Failed at once: a refusal is not retried.
    const history = await harness.client.workflow.getHandle(rollbackWorkflowId(bucket, 'app', { timestamp: builds[0].timestamp })).fetchHistory();
    expect(history.events!.filter((e) => e.activityTaskStartedEventAttributes?.attempt && e.activityTaskStartedEventAttributes.attempt > 1)).toEqual([]);
    expect(await listKeys(openTestStorage(bucket), '')).toEqual(before);
    await expectLive(bucket, builds[1]);
  });
});

describe('pruning after a rollback', () => {
  it('keeps the rollback build, its files and its copies, and deletes the old builds, their own files and their copies', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const builds = await publishBuilds(harness, bucket, 'app', 3);
    const back = await rollBack(bucket, { timestamp: builds[1].timestamp });
    await sleep(1100); // older than the 0 s grace, counted in whole seconds

    const result = (await prune(resolvePruneSettings({ minAssetRecords: '1', timeout: '0', orphanGrace: '0' }), { app: 'app' }, {
      client: harness.client,
      bucket,
      temporal: harness.temporal,
      report: () => undefined,
    })) as AppPruneResult;

    expect(await listKeys(storage, manifestPrefix('app'))).toEqual([back.manifestKey]);
    expect(result).toMatchObject({ manifestsDeleted: 3, objectsDeleted: 2, recordsDeleted: 9 });
    const kept = await manifestOf(bucket, back.manifestKey);
    expect(await listKeys(storage, 'data/app/')).toEqual(kept.files.map((f) => dataKey('app', f)).sort());
    const own = buildCopyPrefix('app', kept.publishId!);
    expect(await listKeys(storage, 'pushcache/')).toEqual(ENTRY_FILES.map((f) => own + f));
    await expectLive(bucket, builds[1]);
    expect(await storage.get(manifestKey('app', builds[1].timestamp))).toBeUndefined();

    // Build 2's own copies are gone with its manifest; the rollback build can still be rolled back to.
    const again = await rollBack(bucket, { timestamp: back.timestamp });
    expect(again.target.buildId).toBe(kept.publishId);
    await expectLive(bucket, builds[1]);
  });
});

describe('pushcache rollback (CLI)', () => {
  it('exits 0 with a one-line result, 1 when the build cannot be restored, 2 on bad input', async () => {
    const bucket = await newBucket();
    const builds = await publishBuilds(harness, bucket, 'cli', 2);
    const env = jobEnv(harness.taskQueue, bucket);

    const ok = await runCli(['rollback', '--prefix', 'cli', '--to', String(builds[0].timestamp)], env);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split('\n').at(-1)).toMatch(
      new RegExp(`^pushcache: rolled back cli to build ${builds[0].timestamp} \\(img:1\\): 3 files restored \\(its entry files among them\\), the other 2 of its 5 files checked in place, new manifest manifests/cli/\\d+$`),
    );
    await expectLive(bucket, builds[0], 'cli');

    const missing = await runCli(['rollback', '--prefix', 'cli', '--to', '12345'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^pushcache: error: checking the build to roll back to failed: cli has no build with timestamp 12345/);

    const bad = await runCli(['rollback', '--prefix', 'cli'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--to is required/);
  });
});

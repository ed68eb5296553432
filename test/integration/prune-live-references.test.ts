import { setTimeout as sleep } from 'node:timers/promises';
import { resolvePruneSettings, type RawOptions } from '../../src/config';
import { dataKey } from '../../src/contract/keys';
import { prune } from '../../src/client/prune';
import type { AppPruneResult } from '../../src/prune/types';
import type { Storage } from '../../src/storage/storage';
import { runCli } from '../helpers/cli';
import { nowSeconds, seedManifest, seedObjects } from '../helpers/seed';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness, type Harness } from '../helpers/servers';

jest.setTimeout(180_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

const RULE = { minAssetRecords: '1', timeout: '1', orphanGrace: '1' };

async function runPrune(bucket: string, app: string, options: RawOptions = {}) {
  const lines: Array<{ line: string; event?: Record<string, unknown> }> = [];
  const result = (await prune(resolvePruneSettings({ ...RULE, ...options }), { app }, {
    client: harness.client,
    bucket,
    temporal: harness.temporal,
    report: (line, event) => lines.push({ line, event }),
  })) as AppPruneResult;
  return { result, lines };
}

/**
 * The live entry files belong to an old build whose manifest ages out (a go-live that failed
 * after fed-mods.json, or another tool's publish), and index.html loads an object no manifest
 * names: the manifests alone would delete what every browser loads now.
 */
async function seedLiveOldBuild(storage: Storage, app: string) {
  const t = nowSeconds();
  const newest = await seedManifest(storage, app, t + 1000, ['fed-mods.json', 'index.html', 'js/new.js']);
  const old = await seedManifest(storage, app, t - 5000, ['fed-mods.json', 'index.html', 'js/old.js', 'js/old-chunk.js', 'css/old.css', 'js/old-only.js']);
  await seedObjects(storage, app, ['js/new.js', 'js/old.js', 'js/old-chunk.js', 'css/old.css', 'js/old-only.js', 'js/unlisted.js', 'js/stray.js']);
  const fedMods = { [app]: { entry: [`/apps/${app}/js/old.js`], modules: [`/apps/${app}/js/old-chunk.js`] } };
  await storage.put(dataKey(app, 'fed-mods.json'), Buffer.from(JSON.stringify(fedMods)), { contentType: 'application/json', cacheControl: 'no-cache' });
  const html = `<!doctype html><html><head><link href="css/old.css" rel="stylesheet"><script defer src="/apps/${app}/js/unlisted.js?v=1"></script></head></html>`;
  await storage.put(dataKey(app, 'index.html'), Buffer.from(html), { contentType: 'text/html', cacheControl: 'no-cache' });
  await sleep(2100);
  return { newest, old };
}

const LOADED = ['css/old.css', 'js/old-chunk.js', 'js/old.js', 'js/unlisted.js'];

describe('a prune against the live entry files', () => {
  it('keeps every object the live fed-mods.json and index.html load, reports them, and deletes the rest', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const { newest } = await seedLiveOldBuild(storage, 'live');

    const dry = await runPrune(bucket, 'live', { dryRun: true });
    expect(dry.result).toMatchObject({ status: 'dry-run', conflicts: 4 });
    expect(dry.result.objects!.map((o) => o.key).sort()).toEqual([dataKey('live', 'js/old-only.js'), dataKey('live', 'js/stray.js')]);

    const { result, lines } = await runPrune(bucket, 'live');

    expect(await listKeys(storage, 'manifests/live/')).toEqual([newest]);
    expect(await listKeys(storage, 'data/live/')).toEqual(['fed-mods.json', 'index.html', 'js/new.js', ...LOADED].map((f) => dataKey('live', f)).sort());
    expect(result).toMatchObject({ status: 'pruned', manifestsDeleted: 1, objectsDeleted: 1, orphansDeleted: 1, conflicts: 4, objectsKept: 7 });
    expect([...result.conflictKeys!].sort()).toEqual(LOADED.map((f) => dataKey('live', f)));
    const warning = lines.find((l) => l.event?.event === 'prune-conflicts');
    expect(warning?.event).toMatchObject({ level: 'warn', app: 'live', conflicts: 4 });
    expect(warning?.line).toMatch(/^live: kept 4 objects that no kept build names but the live fed-mods\.json or index\.html loads: data\/live\//);
    expect(lines.at(-1)?.event).toMatchObject({ event: 'pruned', conflicts: 4 });
    expect(await listKeys(storage, 'pushcache/')).toEqual([]);
  });

  it('reports a live fed-mods.json it cannot read, and still keeps what index.html loads', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await seedLiveOldBuild(storage, 'broken');
    await storage.put(dataKey('broken', 'fed-mods.json'), Buffer.from('{"broken": {"entry": [trunc'), { contentType: 'application/json', cacheControl: 'no-cache' });

    const { result, lines } = await runPrune(bucket, 'broken');

    expect(result.referenceProblems).toEqual([expect.stringMatching(/^fed-mods\.json: not JSON/)]);
    expect(lines.find((l) => l.event?.event === 'prune-reference-problems')?.event).toMatchObject({ level: 'warn' });
    const left = await listKeys(storage, 'data/broken/');
    expect(left).toEqual(expect.arrayContaining([dataKey('broken', 'css/old.css'), dataKey('broken', 'js/unlisted.js')]));
    expect(left).not.toContain(dataKey('broken', 'js/old.js'));
    expect(result.conflicts).toBe(2);
  });

  it('pushcache prune prints the conflict as a warning and logs it as JSON', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await seedLiveOldBuild(storage, 'cli');
    const env = jobEnv(harness.taskQueue, bucket);

    const pretty = await runCli(['prune', '-r', 'cli', '-n', '1', '-t', '1', '--orphan-grace', '1', '--dry-run'], env);
    expect(pretty.code).toBe(0);
    expect(pretty.stdout + pretty.stderr).toMatch(/warning: cli: kept 4 objects that no kept build names but the live fed-mods\.json or index\.html loads/);

    const json = await runCli(['prune', '-r', 'cli', '-n', '1', '-t', '1', '--orphan-grace', '1', '--log-format', 'json'], env);
    expect(json.code).toBe(0);
    const events = (json.stdout + json.stderr)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const conflict = events.find((e) => e.event === 'prune-conflicts');
    expect(conflict).toMatchObject({ level: 'warn', app: 'cli', conflicts: 4 });
    expect([...(conflict!.keys as string[])].sort()).toEqual(LOADED.map((f) => dataKey('cli', f)));
    expect(await listKeys(storage, 'data/cli/')).toContain(dataKey('cli', 'js/old.js'));
  });
});

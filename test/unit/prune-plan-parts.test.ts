import { createPruneActivities } from '../../src/activities/prune';
import { discardPrunePlan, openPrunePlan, PrunePlanWriter, readPrunePlan } from '../../src/bucket/plan-records';
import { dataKey, manifestKey, prunePlanKey } from '../../src/contract/keys';
import { parsePrunePlanRecord, prunePlanPartKey } from '../../src/contract/prune-plan';
import { CorruptRecordError } from '../../src/errors';
import { planPrune, type PrunePlanInput } from '../../src/prune/plan';
import type { ManifestEntry } from '../../src/prune/retention';
import { streamPrunePlan } from '../../src/prune/stream-plan';
import { MemoryStorage } from '../../src/storage/memory';

/** The chunked prune plan (issue 16): its format, its reading back, and a delete that resumes in a later part. */

const NOW = 1_800_000_000;
const OLD = new Date((NOW - 100_000) * 1000);
const TEXT = { contentType: 'text/plain', cacheControl: 'no-cache' };
const PLAN = prunePlanKey('app', 'run-1');
const manifests = ['manifests/app/1', 'manifests/app/2'];
const objects = Array.from({ length: 7 }, (_, i) => dataKey('app', `o${i}.js`));

/** Every get of `storage`, by key. */
function countingGets(storage: MemoryStorage): string[] {
  const gets: string[] = [];
  const get = storage.get.bind(storage);
  storage.get = (key: string) => {
    gets.push(key);
    return get(key);
  };
  return gets;
}

async function written(keys: string[], partKeys: number, storage = new MemoryStorage({ now: () => OLD })): Promise<MemoryStorage> {
  const writer = new PrunePlanWriter(storage, 'app', 'run-1', undefined, partKeys);
  for (const k of keys) await writer.add(k);
  expect(await writer.finish()).toBe(PLAN);
  return storage;
}

describe('a prune plan in parts', () => {
  it('writes full parts as keys come, then a head naming each part with its count and sha256', async () => {
    const storage = new MemoryStorage();
    const writer = new PrunePlanWriter(storage, 'app', 'run-1', undefined, 3);
    for (const k of [...manifests, ...objects.slice(0, 1)]) await writer.add(k);
    // The first part is in the bucket before the plan is finished; the head is not.
    expect(await storage.get(prunePlanPartKey(PLAN, 0))).toBeDefined();
    expect(await storage.get(PLAN)).toBeUndefined();
    for (const k of objects.slice(1)) await writer.add(k);
    await writer.finish();

    const head = JSON.parse((await storage.get(PLAN))!.toString('utf8'));
    expect(head).toMatchObject({ version: 2, app: 'app', total: 9, manifests: 2 });
    expect(head.parts.map((p: { key: string; count: number }) => [p.key, p.count])).toEqual([
      ['pushcache/prune-plans/app/run-1/part-000001.json', 3],
      ['pushcache/prune-plans/app/run-1/part-000002.json', 3],
      ['pushcache/prune-plans/app/run-1/part-000003.json', 3],
    ]);
    const plan = (await openPrunePlan(storage, PLAN))!;
    expect(plan).toMatchObject({ total: 9, manifests: 2, partSizes: [3, 3, 3] });
    expect(await readPrunePlan(storage, PLAN)).toEqual([...manifests, ...objects]);
  });

  it('writes a plan of one part as the single record earlier versions read', async () => {
    const storage = await written([...manifests, ...objects], 100);
    const body = (await storage.get(PLAN))!.toString('utf8');
    expect(parsePrunePlanRecord(PLAN, body)).toEqual({ version: 1, app: 'app', keys: [...manifests, ...objects] });
    expect(await openPrunePlan(storage, PLAN)).toMatchObject({ total: 9, manifests: 2, partSizes: [9] });
  });

  it('writes nothing for a plan with no key', async () => {
    const storage = new MemoryStorage();
    const writer = new PrunePlanWriter(storage, 'app', 'run-1', undefined, 3);
    expect(await writer.finish()).toBeUndefined();
    expect(await storage.get(PLAN)).toBeUndefined();
  });

  it('refuses a part changed since it was planned, a part of another app, and a head naming a part elsewhere', async () => {
    const storage = await written([...manifests, ...objects], 4);
    const part1 = prunePlanPartKey(PLAN, 1);
    const original = (await storage.get(part1))!;
    await storage.put(part1, Buffer.from(JSON.stringify({ version: 2, app: 'app', keys: [objects[0], objects[1], objects[2], objects[3]] })), TEXT);
    const plan = (await openPrunePlan(storage, PLAN))!;
    await expect(plan.readPart(0)).resolves.toEqual([...manifests, objects[0], objects[1]]);
    await expect(plan.readPart(1)).rejects.toThrow(/not the .* its plan recorded/);
    await storage.put(part1, original, TEXT);
    await expect(plan.readPart(1)).resolves.toHaveLength(4);

    const head = JSON.parse((await storage.get(PLAN))!.toString('utf8'));
    await storage.put(PLAN, Buffer.from(JSON.stringify({ ...head, parts: [{ ...head.parts[0], key: 'pushcache/prune-plans/app/other/part-000001.json' }, ...head.parts.slice(1)] })), TEXT);
    await expect(openPrunePlan(storage, PLAN)).rejects.toThrow(CorruptRecordError);
    await storage.put(PLAN, Buffer.from(JSON.stringify({ ...head, total: 99 })), TEXT);
    await expect(openPrunePlan(storage, PLAN)).rejects.toThrow(/its parts hold 9 keys, its total says 99/);
  });

  it('is removed whole: head, parts, and parts an earlier attempt wrote beyond those the head names', async () => {
    const storage = await written([...manifests, ...objects], 4);
    await storage.put(prunePlanPartKey(PLAN, 7), Buffer.from('{}'), TEXT);
    await storage.put(prunePlanKey('app', 'run-10'), Buffer.from('{}'), TEXT);
    await discardPrunePlan(storage, PLAN);
    const left: string[] = [];
    for await (const o of storage.list('pushcache/')) left.push(o.key);
    expect(left).toEqual([prunePlanKey('app', 'run-10')]);
  });
});

describe('deleting a plan in parts', () => {
  async function bucketWithPlan(partKeys: number): Promise<MemoryStorage> {
    const storage = new MemoryStorage({ now: () => OLD });
    for (const k of [...manifests, ...objects]) await storage.put(k, Buffer.from('x'), TEXT);
    return written([...manifests, ...objects], partKeys, storage);
  }

  it('deletes every key, manifests first, heartbeating keys done from the start, and removes the plan', async () => {
    const storage = await bucketWithPlan(4);
    const deletes: string[][] = [];
    const del = storage.delete.bind(storage);
    storage.delete = (keys) => {
      deletes.push([...keys]);
      return del(keys);
    };
    const beats: number[] = [];
    const acts = createPruneActivities({ openStorage: () => storage, heartbeat: (d) => beats.push(d), resumeFrom: () => 0 });
    expect(await acts.deletePlanned({ bucket: 'b', planKey: PLAN })).toEqual({ deleted: 9 });
    // Batches never span parts, and the manifests go before any object.
    expect(deletes.slice(0, 4)).toEqual([manifests, objects.slice(0, 2), objects.slice(2, 6), objects.slice(6)]);
    expect(beats.at(-1)).toBe(9);
    const left: string[] = [];
    for await (const o of storage.list('')) left.push(o.key);
    expect(left).toEqual([]);
  });

  it('resumes after the keys a killed attempt reported, reading no part wholly before them', async () => {
    const storage = await bucketWithPlan(3);
    const gets = countingGets(storage);
    const acts = createPruneActivities({ openStorage: () => storage, heartbeat: () => undefined, resumeFrom: () => 7 });
    expect(await acts.deletePlanned({ bucket: 'b', planKey: PLAN })).toEqual({ deleted: 9 });
    expect(gets).toEqual([PLAN, prunePlanPartKey(PLAN, 2)]);
    const left: string[] = [];
    for await (const o of storage.list('')) left.push(o.key);
    // Keys before the resume point are taken as done by the killed attempt.
    expect(left).toEqual([...manifests, ...objects.slice(0, 5)].sort());
  });

  it('still deletes and resumes a single-record plan an earlier version wrote', async () => {
    const storage = new MemoryStorage({ now: () => OLD });
    for (const k of [...manifests, ...objects]) await storage.put(k, Buffer.from('x'), TEXT);
    await storage.put(PLAN, Buffer.from(JSON.stringify({ version: 1, app: 'app', keys: [...manifests, ...objects] })), TEXT);
    const acts = createPruneActivities({ openStorage: () => storage, heartbeat: () => undefined, resumeFrom: () => 3 });
    expect(await acts.deletePlanned({ bucket: 'b', planKey: PLAN })).toEqual({ deleted: 9 });
    const left: string[] = [];
    for await (const o of storage.list('')) left.push(o.key);
    expect(left).toEqual([...manifests, objects[0]].sort());
  });

  it('finishes the removal of a plan whose head is already gone, deleting nothing else', async () => {
    const storage = await bucketWithPlan(3);
    await storage.delete([PLAN]);
    const acts = createPruneActivities({ openStorage: () => storage, heartbeat: () => undefined, resumeFrom: () => 9 });
    expect(await acts.deletePlanned({ bucket: 'b', planKey: PLAN })).toEqual({ deleted: 9 });
    const left: string[] = [];
    for await (const o of storage.list('')) left.push(o.key);
    expect(left).toEqual([...manifests, ...objects].sort());
  });
});

describe('streamPrunePlan', () => {
  const DAY = 24 * 3600;
  const ago = (s: number) => new Date((NOW - s) * 1000);
  const build = (age: number, files: string[], publishId?: string): ManifestEntry => ({ key: manifestKey('app', NOW - age), timestamp: NOW - age, files, publishId });
  const base: PrunePlanInput = {
    app: 'app',
    rule: { minAssetRecords: 1, timeoutSeconds: 100, graceSeconds: 100 },
    now: NOW,
    collectOrphans: true,
    listLimit: 3,
    dryRun: false,
    manifests: [build(500, ['fed-mods.json', 'old.js', 'shared.js'], 'run-old'), build(400, ['fed-mods.json', 'mid.js']), build(10, ['fed-mods.json', 'new.js', 'shared.js'], 'run-new')],
    staging: [{ key: 'pushcache/staging/app/x.json', lastModified: ago(8 * DAY) }],
    inFlight: { paths: ['wip.js'], builds: ['run-wip'] },
    planRecords: [
      { key: 'pushcache/prune-plans/app/old.json', lastModified: ago(8 * DAY) },
      { key: 'pushcache/prune-plans/app/old/part-000001.json', lastModified: ago(8 * DAY) },
      { key: 'pushcache/prune-plans/app/run-1/part-000001.json', lastModified: ago(8 * DAY) },
    ],
    ownPlanKey: 'pushcache/prune-plans/app/run-1.json',
    goLive: [],
  };
  const listing = {
    objects: ['fed-mods.json', 'old.js', 'mid.js', 'new.js', 'shared.js', 'wip.js', 'stray.js', 'fresh.js', 'loaded.js'].map((relpath) => ({
      relpath,
      lastModified: ago(relpath === 'fresh.js' ? 5 : 1000),
    })),
    copies: ['run-old', 'run-new', 'run-wip', 'run-gone'].map((run) => ({ key: `pushcache/builds/app/${run}/fed-mods.json`, lastModified: ago(1000) })),
  };
  const live = { keys: new Set([dataKey('app', 'loaded.js')]), problems: ['index.html: broken'] };

  /** The same decisions, keys and order as planPrune, whatever the options. */
  it.each([
    { collectOrphans: true, dryRun: false },
    { collectOrphans: false, dryRun: false },
    { collectOrphans: true, dryRun: true },
    { collectOrphans: false, dryRun: true, manifests: [build(10, ['fed-mods.json', 'new.js'])] },
    { collectOrphans: false, dryRun: false, rule: { minAssetRecords: 5, timeoutSeconds: 100, graceSeconds: 100 } },
  ])('decides what planPrune decides (%o)', async (over) => {
    const input = { ...base, ...over };
    // planPrune, given what it asks for, as the old activity read it.
    const read: PrunePlanInput = { ...input };
    let step = planPrune(read);
    const asked: string[] = [];
    while (!('plan' in step)) {
      asked.push(step.need === 'listing' ? 'objects' : 'live');
      if (step.need === 'listing') read.listing = listing;
      else read.live = live;
      step = planPrune(read);
    }
    const keys: string[] = [];
    const reads: string[] = [];
    const summary = await streamPrunePlan(
      input,
      {
        async *listObjects() {
          reads.push('objects');
          yield* listing.objects;
        },
        listCopies: async () => (reads.push('copies'), listing.copies),
        readLive: async () => (reads.push('live'), live),
      },
      { add: async (k) => void keys.push(k) },
    );
    expect(keys).toEqual(step.plan.keys);
    expect(summary).toEqual(step.plan.summary);
    // What planPrune asks for is what is read (the copies with the objects).
    expect(reads.filter((r) => r !== 'copies').sort()).toEqual(asked.sort());
  });

  it('stops on a key that is not a plain key of the app', async () => {
    const objects = [{ relpath: 'x/../../other/a.js', lastModified: ago(1000) }];
    const run = streamPrunePlan(
      base,
      { listObjects: async function* () { yield* objects; }, listCopies: async () => [], readLive: async () => live },
      { add: async () => undefined },
    );
    await expect(run).rejects.toThrow(CorruptRecordError);
  });
});

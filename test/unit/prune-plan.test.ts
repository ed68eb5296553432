import { manifestKey } from '../../src/contract/keys';
import { CorruptRecordError } from '../../src/errors';
import { deleteBatches, isStaleRecord, manifestsEnd, planPrune, type PrunePlan, type PrunePlanInput, type PruneStep } from '../../src/prune/plan';
import type { ManifestEntry } from '../../src/prune/retention';

/** Every decision of a prune, over plain data: no bucket, no Temporal. */

const NOW = 1_800_000_000;
const DAY = 24 * 3600;
const RULE = { minAssetRecords: 1, timeoutSeconds: 100, graceSeconds: 100 };
const ago = (seconds: number) => new Date((NOW - seconds) * 1000);
const build = (age: number, files: string[], publishId?: string): ManifestEntry => ({ key: manifestKey('app', NOW - age), timestamp: NOW - age, files, publishId });
const obj = (relpath: string, age = 1000) => ({ relpath, lastModified: ago(age) });
const rec = (key: string, age: number) => ({ key, lastModified: ago(age) });
const NO_LIVE = { keys: new Set<string>(), problems: [] };

/** An app with a live build (10s old) and one aged out (500s old), each naming its own chunk. */
function input(over: Partial<PrunePlanInput> = {}): PrunePlanInput {
  return {
    app: 'app',
    rule: RULE,
    now: NOW,
    collectOrphans: true,
    listLimit: 100,
    dryRun: false,
    manifests: [build(500, ['fed-mods.json', 'old.js'], 'run-old'), build(10, ['fed-mods.json', 'new.js'], 'run-new')],
    staging: [],
    inFlight: { paths: [], builds: [] },
    planRecords: [],
    ownPlanKey: 'pushcache/prune-plans/app/run-1.json',
    goLive: [],
    ...over,
  };
}

const listing = (objects = [obj('fed-mods.json'), obj('old.js'), obj('new.js')], copies: Array<{ key: string; lastModified: Date }> = []) => ({ objects, copies });

function planOf(step: PruneStep): PrunePlan {
  if (!('plan' in step)) throw new Error(`asked for ${step.need}`);
  return step.plan;
}

describe('planPrune', () => {
  it('asks for the listing when a build can go, then for the live entry files when objects can go', () => {
    expect(planPrune(input({ collectOrphans: false }))).toEqual({ need: 'listing' });
    expect(planPrune(input({ collectOrphans: false, listing: listing() }))).toEqual({ need: 'live-references' });
    const plan = planOf(planPrune(input({ collectOrphans: false, listing: listing(), live: NO_LIVE })));
    expect(plan.keys).toEqual([manifestKey('app', NOW - 500), 'data/app/old.js']);
    expect(plan.summary).toMatchObject({ manifestsDeleted: 1, manifestsKept: 1, objectsDeleted: 1, orphansDeleted: 0, objectsKept: 2, deleteCount: 2, planKey: undefined });
  });

  it('lists nothing when no build can go and orphans are left, counting the objects the manifests name as kept', () => {
    const plan = planOf(planPrune(input({ collectOrphans: false, manifests: [build(10, ['fed-mods.json', 'a.js']), build(20, ['fed-mods.json', 'b.js'])], rule: { ...RULE, minAssetRecords: 2 } })));
    expect(plan.keys).toEqual([]);
    expect(plan.summary.objectsKept).toBe(3);
  });

  it('collects orphans only when asked; otherwise they and orphan copies count as kept', () => {
    const objects = [obj('fed-mods.json'), obj('old.js'), obj('new.js'), obj('stray.js')];
    const copies = [rec('pushcache/builds/app/run-gone/fed-mods.json', 1000)];
    const hidden = planOf(planPrune(input({ collectOrphans: false, listing: listing(objects, copies), live: NO_LIVE })));
    expect(hidden.keys).toEqual([manifestKey('app', NOW - 500), 'data/app/old.js']);
    expect(hidden.summary).toMatchObject({ orphansDeleted: 0, objectsKept: 3, recordsDeleted: 0 });
    const collected = planOf(planPrune(input({ listing: listing(objects, copies), live: NO_LIVE })));
    expect(collected.keys).toEqual([manifestKey('app', NOW - 500), 'data/app/old.js', 'data/app/stray.js', 'pushcache/builds/app/run-gone/fed-mods.json']);
    expect(collected.summary).toMatchObject({ orphansDeleted: 1, objectsKept: 2, recordsDeleted: 1 });
    expect(collected.copiesDeleted).toBe(1);
  });

  it('keeps what the live entry files load, whatever the manifests say, and says so', () => {
    const live = { keys: new Set(['data/app/old.js']), problems: ['index.html: a bad reference'] };
    const plan = planOf(planPrune(input({ listing: listing(), live })));
    expect(plan.keys).toEqual([manifestKey('app', NOW - 500)]);
    expect(plan.summary).toMatchObject({ objectsDeleted: 0, objectsKept: 3, conflicts: 1, conflictKeys: ['data/app/old.js'], referenceProblems: ['index.html: a bad reference'] });
  });

  it("deletes pushcache's records only once stale (a week, or the grace period if longer), never its own plan", () => {
    const staging = [rec('pushcache/staging/app/old.json', 8 * DAY), rec('pushcache/staging/app/new.json', 6 * DAY)];
    const planRecords = [rec('pushcache/prune-plans/app/run-1.json', 30 * DAY), rec('pushcache/prune-plans/app/run-0.json', 30 * DAY)];
    const goLive = [rec('pushcache/go-live/app/run-x.json', 8 * DAY), rec('pushcache/go-live/app/run-y/a.js', DAY)];
    const plan = planOf(planPrune(input({ staging, planRecords, goLive, listing: listing(), live: NO_LIVE })));
    expect(plan.keys.slice(2)).toEqual(['pushcache/staging/app/old.json', 'pushcache/prune-plans/app/run-0.json', 'pushcache/go-live/app/run-x.json']);
    expect(plan.summary.recordsDeleted).toBe(3);
    expect(isStaleRecord(rec('k', 8 * DAY), NOW, { ...RULE, graceSeconds: 9 * DAY })).toBe(false);
    expect(isStaleRecord(rec('k', 10 * DAY), NOW, { ...RULE, graceSeconds: 9 * DAY })).toBe(true);
  });

  it('keeps what publishes in progress name, and their copies', () => {
    const copies = [rec('pushcache/builds/app/run-wip/fed-mods.json', 1000)];
    const plan = planOf(planPrune(input({ inFlight: { paths: ['old.js'], builds: ['run-wip'] }, listing: listing(undefined, copies), live: NO_LIVE })));
    expect(plan.keys).toEqual([manifestKey('app', NOW - 500)]);
  });

  it('orders manifests first, then objects, then records', () => {
    const copies = [rec('pushcache/builds/app/run-old/fed-mods.json', 1000)];
    const plan = planOf(planPrune(input({ staging: [rec('pushcache/staging/app/x.json', 8 * DAY)], listing: listing(undefined, copies), live: NO_LIVE })));
    expect(plan.keys).toEqual([manifestKey('app', NOW - 500), 'data/app/old.js', 'pushcache/builds/app/run-old/fed-mods.json', 'pushcache/staging/app/x.json']);
    expect(manifestsEnd(plan.keys)).toBe(1);
  });

  it('refuses to plan when a key to delete is not a plain key of the app', () => {
    const step = () => planPrune(input({ listing: listing([obj('fed-mods.json'), obj('new.js'), obj('x/../../other/a.js')]), live: NO_LIVE }));
    expect(step).toThrow(CorruptRecordError);
    expect(step).toThrow(/not a plain key of app app/);
  });

  it('lists the keys of a dry run, cut at the list limit', () => {
    const plan = planOf(planPrune(input({ dryRun: true, listLimit: 1, staging: [rec('pushcache/staging/app/x.json', 8 * DAY)], listing: listing(), live: NO_LIVE })));
    expect(plan.summary.manifests).toHaveLength(1);
    expect(plan.summary.objects).toEqual([{ key: 'data/app/old.js', reason: 'aged-out' }]);
    const all = planOf(planPrune(input({ dryRun: true, staging: [rec('pushcache/staging/app/x.json', 8 * DAY)], listing: listing(), live: NO_LIVE })));
    expect(all.summary.objects).toEqual([{ key: 'data/app/old.js', reason: 'aged-out' }, { key: 'pushcache/staging/app/x.json', reason: 'stale-record' }]);
    expect(planOf(planPrune(input({ listing: listing(), live: NO_LIVE }))).summary.objects).toBeUndefined();
  });

  it('batches deletes without mixing manifests and objects', () => {
    expect(deleteBatches(0, 2, 1003)).toEqual([
      { start: 0, end: 2, manifests: true },
      { start: 2, end: 1002, manifests: false },
      { start: 1002, end: 1003, manifests: false },
    ]);
    expect(manifestsEnd(['manifests/app/1'])).toBe(1);
    expect(manifestsEnd([])).toBe(0);
  });
});

import { isAppKey } from '../contract/keys';
import { CONFLICT_LIST_LIMIT, foreignKey, staleRecordKeys, type PrunePlanInput } from './plan';
import { retentionDecider, type DataObject, type ObjectDeletion, type StoredObject } from './retention';
import type { PrunePlanSummary } from './types';

/**
 * `planPrune` (plan.ts) for an app of any size (issue 16): the same decisions, the same keys in
 * the same order, but the app's objects are taken one at a time as the listing pages come, and
 * each key to delete goes to `sink` as soon as it is decided. What stays in memory is the
 * manifests' paths (the rule needs them) and counts; never the listing or the keys.
 */

export type StreamPlanInput = Omit<PrunePlanInput, 'listing' | 'live'>;

/** What the planner reads, when it needs it; the same reads `planPrune` asks for. */
export interface PlanSources {
  /** The objects under `data/<app>/`, listed lazily (read only when something can be deleted or orphans are collected). */
  listObjects(): AsyncIterable<Pick<DataObject, 'relpath' | 'lastModified'>>;
  /** The app's entry-file copies; read after the objects, with them. */
  listCopies(): Promise<readonly StoredObject[]>;
  /** What the live entry files load; read once, at the first object to delete. */
  readLive(): Promise<{ keys: ReadonlySet<string>; problems: readonly string[] }>;
}

/** Where the keys to delete go, in order: manifests, objects, pushcache's records. */
export interface KeySink {
  add(key: string): Promise<void>;
}

/**
 * Plans the prune of one app into `sink`. Throws CorruptRecordError on a key that is not a plain
 * key of the app: keys sent to the sink before it were decided, but nothing was deleted, and the
 * plan (its record written only after this returns) does not exist.
 */
export async function streamPrunePlan(input: StreamPlanInput, sources: PlanSources, sink: KeySink): Promise<PrunePlanSummary> {
  const { app, now, rule } = input;
  const staleRecords = staleRecordKeys(input);
  const decide = retentionDecider({ app, manifests: input.manifests, inFlight: input.inFlight.paths, now, inFlightBuilds: input.inFlight.builds }, rule);
  const emit = (key: string) => {
    if (!isAppKey(app, key)) throw foreignKey(app, key);
    return sink.add(key);
  };
  const dryRunObjects: NonNullable<PrunePlanSummary['objects']> = [];
  const show = (o: { key: string; reason: ObjectDeletion['reason'] | 'stale-record' }) => {
    if (input.dryRun && dryRunObjects.length < input.listLimit) dryRunObjects.push(o);
  };

  // Manifests go first: a prune stopped half-way leaves unreferenced objects (collected as
  // orphans later), never a manifest naming objects that are gone.
  const deletedManifests = decide.manifests.filter((m) => m.action === 'delete');
  for (const m of deletedManifests) await emit(m.key);

  let objectsKept: number;
  let objectsDeleted = 0;
  let orphansDeleted = 0;
  let recentlyWritten = 0;
  let conflicts = 0;
  const conflictKeys: string[] = [];
  let referenceProblems: readonly string[] = [];
  const copies: ObjectDeletion[] = [];
  if (input.collectOrphans || deletedManifests.length > 0) {
    let live: { keys: ReadonlySet<string> } | undefined;
    let listed = 0;
    for await (const o of sources.listObjects()) {
      listed++;
      const verdict = decide.object(o);
      if (verdict === 'recently-written') recentlyWritten++;
      // The prune after a publish leaves objects no build names to the scheduled prune: kept.
      if (typeof verdict !== 'object' || (verdict.reason === 'orphan' && !input.collectOrphans)) continue;
      // Defence in depth: whatever the manifests say, an object the live entry files load stays.
      if (!live) {
        const read = await sources.readLive();
        live = read;
        referenceProblems = read.problems;
      }
      if (live.keys.has(verdict.key)) {
        conflicts++;
        if (conflictKeys.length < CONFLICT_LIST_LIMIT) conflictKeys.push(verdict.key);
        continue;
      }
      if (verdict.reason === 'orphan') orphansDeleted++;
      else objectsDeleted++;
      show(verdict);
      await emit(verdict.key);
    }
    objectsKept = listed - objectsDeleted - orphansDeleted;
    for (const c of await sources.listCopies()) {
      const d = decide.copy(c);
      if (d && (input.collectOrphans || d.reason !== 'orphan')) copies.push(d);
    }
  } else {
    // Listing every object is the costly part; it is skipped when nothing can be deleted anyway.
    objectsKept = decide.namedCount;
  }
  // Entry-file copies are pushcache's own records, counted with its other leftovers.
  for (const c of copies) {
    show(c);
    await emit(c.key);
  }
  for (const key of staleRecords) {
    show({ key, reason: 'stale-record' });
    await emit(key);
  }
  const recordsDeleted = copies.length + staleRecords.length;
  return {
    manifestsKept: decide.manifests.length - deletedManifests.length,
    manifestsDeleted: deletedManifests.length,
    objectsDeleted,
    orphansDeleted,
    objectsKept,
    recordsDeleted,
    conflicts,
    ...(conflicts > 0 ? { conflictKeys } : {}),
    ...(referenceProblems.length > 0 ? { referenceProblems: referenceProblems.slice(0, CONFLICT_LIST_LIMIT) } : {}),
    recentlyWritten,
    deleteCount: deletedManifests.length + objectsDeleted + orphansDeleted + recordsDeleted,
    planKey: undefined,
    manifests: decide.manifests.slice(0, input.listLimit),
    ...(input.dryRun ? { objects: dryRunObjects } : {}),
  };
}

import { isAppKey } from '../contract/keys';
import { prunePlanPartsPrefix } from '../contract/prune-plan';
import { CorruptRecordError } from '../errors';
import { effectiveGrace, planRetention, type DataObject, type ManifestEntry, type RetentionPlan, type RetentionRule, type StoredObject } from './retention';
import type { PrunePlanSummary } from './types';

/**
 * Every decision of a prune of one app, as a pure function of what was read from the bucket:
 * the retention rule, which of pushcache's records are leftovers, whether the app's objects
 * need listing at all, what the live entry files keep, the order of deletion and the guard on
 * foreign keys. The prune activity, `prune --dry-run` and `status` all call it; none decides
 * anything of its own.
 */

/** No publish or prune runs for a week; their records older than that belong to runs that were terminated. */
const STALE_RECORD_SECONDS = 7 * 24 * 3600;
/** Conflict keys and reference problems listed in a result; the rest are only counted. */
export const CONFLICT_LIST_LIMIT = 20;

/** A record of pushcache's own is a leftover only once nothing could still be running for it. */
export function isStaleRecord(o: StoredObject, now: number, rule: RetentionRule): boolean {
  return now - Math.floor(o.lastModified.getTime() / 1000) > Math.max(effectiveGrace(rule), STALE_RECORD_SECONDS);
}

export interface PrunePlanInput {
  app: string;
  rule: RetentionRule;
  /** Unix seconds. */
  now: number;
  /** Delete objects that no build names; without it they are counted as kept. */
  collectOrphans: boolean;
  /** Cuts the lists of the summary (manifests, and on a dry run the keys). */
  listLimit: number;
  dryRun: boolean;
  manifests: readonly ManifestEntry[];
  /** Every staging record of the app, listed. */
  staging: readonly StoredObject[];
  /** What the staging records that are not stale (`isStaleRecord`) name. */
  inFlight: { paths: Iterable<string>; builds: Iterable<string> };
  /** Every prune plan record of the app, listed. */
  planRecords: readonly StoredObject[];
  /** The plan record of this prune, which is never a leftover (a retry rewrites it). */
  ownPlanKey: string;
  /** Every go-live record and kept-aside copy of the app, listed. */
  goLive: readonly StoredObject[];
  /** `data/<app>/` and the entry-file copies, once listed; absent until `planPrune` asks for them. */
  listing?: { objects: readonly DataObject[]; copies: readonly StoredObject[] };
  /** What the live entry files load, once read; absent until `planPrune` asks for it. */
  live?: { keys: ReadonlySet<string>; problems: readonly string[] };
}

/** pushcache's own records that are leftovers: staging and plan records (not this prune's), kept-aside go-live copies. */
export function staleRecordKeys(input: Pick<PrunePlanInput, 'now' | 'rule' | 'staging' | 'planRecords' | 'ownPlanKey' | 'goLive'>): string[] {
  const stale = (o: StoredObject) => isStaleRecord(o, input.now, input.rule);
  const own = prunePlanPartsPrefix(input.ownPlanKey);
  return [
    ...input.staging.filter(stale).map((o) => o.key),
    ...input.planRecords.filter((o) => o.key !== input.ownPlanKey && !o.key.startsWith(own) && stale(o)).map((o) => o.key),
    // What the go-live step of a publish that never finished kept aside (a Job that never came back).
    ...input.goLive.filter(stale).map((o) => o.key),
  ];
}

export interface PrunePlan {
  /** Every key to delete: manifests first, then objects, then pushcache's records. */
  keys: string[];
  /** Without `planKey`: the caller sets it once the keys are recorded. */
  summary: PrunePlanSummary;
  /** Entry-file copies among the records deleted. */
  copiesDeleted: number;
}

/** What to read next before the plan can be made, or the plan. Reads stay as few as the old activity made. */
export type PruneStep = { need: 'listing' } | { need: 'live-references' } | { plan: PrunePlan };

/**
 * Plans the prune of one app. Call it with what was read, and read what it asks for: the
 * listing of the app's objects only when something can be deleted (or orphans are collected),
 * the live entry files only when objects are to be deleted. Throws CorruptRecordError when a
 * key to delete is not a plain key of the app. Idempotent: the same inputs give the same keys.
 */
export function planPrune(input: PrunePlanInput): PruneStep {
  const { app, now, rule } = input;
  const staleRecords = staleRecordKeys(input);
  const decide = (objects: readonly DataObject[], copies: readonly StoredObject[]) =>
    planRetention({ app, manifests: input.manifests, inFlight: input.inFlight.paths, objects, now, copies, inFlightBuilds: input.inFlight.builds }, rule);
  let plan: RetentionPlan = decide([], []);
  if (input.listing) {
    plan = decide(input.listing.objects, input.listing.copies);
    if (!input.collectOrphans) plan = withoutOrphans(plan);
  } else if (input.collectOrphans || plan.manifests.some((m) => m.action === 'delete')) {
    // Listing every object is the costly part; it is skipped when nothing can be deleted anyway.
    return { need: 'listing' };
  } else {
    plan = { ...plan, objectsKept: new Set(input.manifests.flatMap((m) => m.files)).size };
  }
  // Defence in depth: whatever the manifests say (one lost, a build written by another tool, a
  // go-live that failed half-way), an object the live entry files load stays.
  let conflicts: string[] = [];
  let referenceProblems: readonly string[] = [];
  if (plan.objects.length > 0) {
    const live = input.live;
    if (!live) return { need: 'live-references' };
    referenceProblems = live.problems;
    conflicts = plan.objects.filter((o) => live.keys.has(o.key)).map((o) => o.key);
    if (conflicts.length > 0) {
      plan = { ...plan, objects: plan.objects.filter((o) => !live.keys.has(o.key)), objectsKept: plan.objectsKept + conflicts.length };
    }
  }
  const deletedManifests = plan.manifests.filter((m) => m.action === 'delete');
  // Manifests go first: a prune stopped half-way leaves unreferenced objects (collected as
  // orphans later), never a manifest naming objects that are gone.
  // Entry-file copies are pushcache's own records, counted with its other leftovers.
  const records = [...plan.copies.map((o) => o.key), ...staleRecords];
  const keys = [...deletedManifests.map((m) => m.key), ...plan.objects.map((o) => o.key), ...records];
  // Every key comes from a listing of the app's own prefixes; an object whose key has a
  // '..' segment (which some stores resolve) stops the prune of the app rather than going.
  const foreign = keys.find((k) => !isAppKey(app, k));
  if (foreign !== undefined) throw foreignKey(app, foreign);
  const orphans = plan.objects.filter((o) => o.reason === 'orphan').length;
  const summary: PrunePlanSummary = {
    manifestsKept: plan.manifests.length - deletedManifests.length,
    manifestsDeleted: deletedManifests.length,
    objectsDeleted: plan.objects.length - orphans,
    orphansDeleted: orphans,
    objectsKept: plan.objectsKept,
    recordsDeleted: records.length,
    conflicts: conflicts.length,
    ...(conflicts.length > 0 ? { conflictKeys: conflicts.slice(0, CONFLICT_LIST_LIMIT) } : {}),
    ...(referenceProblems.length > 0 ? { referenceProblems: referenceProblems.slice(0, CONFLICT_LIST_LIMIT) } : {}),
    recentlyWritten: plan.recentlyWritten,
    deleteCount: keys.length,
    planKey: undefined,
    manifests: plan.manifests.slice(0, input.listLimit),
    ...(input.dryRun
      ? { objects: [...plan.objects, ...plan.copies, ...staleRecords.map((key) => ({ key, reason: 'stale-record' as const }))].slice(0, input.listLimit) }
      : {}),
  };
  return { plan: { keys, summary, copiesDeleted: plan.copies.length } };
}

export function foreignKey(app: string, key: string): CorruptRecordError {
  return new CorruptRecordError(key, `its key is not a plain key of app ${app} (a '.' or '..' segment), so the prune of ${app} deletes nothing; remove it by hand`);
}

/** The prune after a publish leaves objects no build names to the scheduled prune: they count as kept. */
function withoutOrphans(plan: RetentionPlan): RetentionPlan {
  const orphans = plan.objects.filter((o) => o.reason === 'orphan').length;
  return {
    ...plan,
    objects: plan.objects.filter((o) => o.reason !== 'orphan'),
    objectsKept: plan.objectsKept + orphans,
    copies: plan.copies.filter((o) => o.reason !== 'orphan'),
  };
}

/** S3's DeleteObjects limit. */
const DELETE_BATCH = 1000;

export interface DeleteBatch {
  start: number;
  end: number;
  manifests: boolean;
}

/** Ranges of at most 1,000 keys from `start`, none mixing manifests (before `split`) and objects. */
export function deleteBatches(start: number, split: number, total: number): DeleteBatch[] {
  const batches: DeleteBatch[] = [];
  for (let i = start; i < total; ) {
    const end = Math.min(i + DELETE_BATCH, i < split ? split : total);
    batches.push({ start: i, end, manifests: i < split });
    i = end;
  }
  return batches;
}

/** Where the manifests end in a plan's keys (they come first): the split `deleteBatches` takes. */
export function manifestsEnd(keys: readonly string[]): number {
  const firstObject = keys.findIndex((k) => !k.startsWith('manifests/'));
  return firstObject < 0 ? keys.length : firstObject;
}

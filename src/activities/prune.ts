import { Context, log } from '@temporalio/activity';
import pMap from 'p-map';
import { buildCopiesPrefix, dataPrefix, goLivePrefix, isAppKey, prunePlanKey, prunePlanPrefix, stagingPrefix } from '../contract/keys';
import { CorruptRecordError } from '../errors';
import { validateAppName } from '../contract/names';
import { collect, listAppNames, readInFlight, readManifests } from '../prune/app-state';
import { readLiveReferences } from '../prune/live-references';
import { parsePrunePlanRecord, type PrunePlanRecord } from '../prune/plan-record';
import { effectiveGrace, planRetention, relpathOf, type DataObject, type StoredObject } from '../prune/retention';
import type { DeletePlannedInput, ListAppsInput, ListAppsResult, PlanPruneInput, PrunePlanSummary } from '../prune/types';
import type { ObjectInfo, Storage } from '../storage/storage';
import { withFailureTranslation } from './failures';

export interface PruneActivityDeps {
  /** The store of a bucket; a Job's worker, which has one store, passes `() => storage`. */
  openStorage: (bucket: string) => Storage;
  /** Reports progress of a long delete; defaults to the activity heartbeat. */
  heartbeat?: (done: number) => void;
  /** Where a retried delete starts; defaults to the last heartbeat's details. */
  resumeFrom?: () => number;
  /** Reports progress of planning (objects listed and read so far); defaults to the activity heartbeat. */
  planHeartbeat?: (read: number) => void;
  /** True once the server has given up on this attempt (its heartbeat timed out); defaults to the activity's cancellation. */
  abandoned?: () => boolean;
}

/** No publish or prune runs for a week; their records older than that belong to runs that were terminated. */
const STALE_RECORD_SECONDS = 7 * 24 * 3600;

/** Activities of a prune. They touch only the bucket and run on the shared worker. */
export function createPruneActivities(deps: PruneActivityDeps) {
  const heartbeat = deps.heartbeat ?? ((done: number) => Context.current().heartbeat({ done }));
  const resumeFrom = deps.resumeFrom ?? (() => Number((Context.current().info.heartbeatDetails as { done?: number } | undefined)?.done ?? 0));
  const planHeartbeat = deps.planHeartbeat ?? ((read: number) => Context.current().heartbeat({ read }));
  const abandoned = deps.abandoned ?? (() => Context.current().cancellationSignal.aborted);

  return withFailureTranslation({
    /** Every app with manifests or data in the bucket. */
    async listApps(input: ListAppsInput): Promise<ListAppsResult> {
      return listAppNames(deps.openStorage(input.bucket));
    },

    /**
     * Reads the app's manifests, in-flight publishes and objects, applies the retention rule
     * and records the keys to delete. Reads everything before deciding anything: one
     * unreadable manifest fails the plan, and nothing of the app is deleted.
     */
    async planAppPrune(input: PlanPruneInput): Promise<PrunePlanSummary> {
      const app = validateAppName(input.app);
      const progress = new PlanProgress(planHeartbeat);
      try {
        const summary = await planPrune(app, input, progress.watch(deps.openStorage(input.bucket)), abandoned);
        if (summary.conflicts) {
          log.warn(`the prune of ${app} keeps ${summary.conflicts} objects its manifests let go, because the live fed-mods.json or index.html loads them`, {
            app,
            conflicts: summary.conflicts,
            keys: summary.conflictKeys,
          });
        }
        return summary;
      } finally {
        progress.stop();
      }
    },

    /**
     * Deletes the keys of a plan in batches of 1,000: the manifests first, one batch at a time,
     * then the objects, several batches at once. Heartbeats how many keys from the start are
     * done, so a retry on another worker resumes there; removes the plan record last.
     */
    async deletePlanned(input: DeletePlannedInput): Promise<{ deleted: number }> {
      const storage = deps.openStorage(input.bucket);
      const body = await storage.get(input.planKey);
      // Gone means an earlier attempt finished and removed it.
      if (!body) return { deleted: resumeFrom() };
      const { keys } = parsePrunePlanRecord(input.planKey, body.toString('utf8'));
      const start = Math.min(resumeFrom(), keys.length);
      const firstObject = keys.findIndex((k) => !k.startsWith('manifests/'));
      const batches = deleteBatches(start, firstObject < 0 ? keys.length : firstObject, keys.length);
      const finished = new Array<boolean>(batches.length).fill(false);
      let next = 0;
      const done = () => (next === 0 ? start : batches[next - 1].end);
      const run = async (b: number) => {
        await storage.delete(keys.slice(batches[b].start, batches[b].end));
        finished[b] = true;
        while (next < batches.length && finished[next]) next++;
        heartbeat(done());
      };
      // The SDK throttles heartbeats and sends a held-back one only with the next call, so
      // beat on a timer too: the server learns the progress even while every batch is slow.
      const beat = setInterval(() => heartbeat(done()), HEARTBEAT_INTERVAL_MS);
      try {
        const manifestBatches = batches.filter((b) => b.manifests).length;
        await pMap(batches.slice(0, manifestBatches), (_, i) => run(i), { concurrency: 1 });
        await pMap(batches.slice(manifestBatches), (_, i) => run(manifestBatches + i), { concurrency: DELETE_PARALLELISM });
      } finally {
        clearInterval(beat);
      }
      await storage.delete([input.planKey]);
      return { deleted: keys.length };
    },

    /** Removes a plan that will not run (the max-delete guard stopped it). */
    async discardPrunePlan(input: DeletePlannedInput): Promise<void> {
      await deps.openStorage(input.bucket).delete([input.planKey]);
    },
  });
}

export type PruneActivities = ReturnType<typeof createPruneActivities>;

/**
 * Reads the app's manifests, in-flight publishes and objects, applies the retention rule, takes
 * out what the live entry files load, and records the keys to delete. Idempotent: a retry of
 * the same prune (same `planId` and `now`) decides the same and overwrites the same record.
 */
async function planPrune(app: string, input: PlanPruneInput, storage: Storage, abandoned: () => boolean): Promise<PrunePlanSummary> {
  const idle = (o: ObjectInfo) => input.now - Math.floor(o.lastModified.getTime() / 1000);
  // A record of pushcache's own is a leftover only once nothing could still be running for it.
  const isStale = (o: ObjectInfo) => idle(o) > Math.max(effectiveGrace(input.rule), STALE_RECORD_SECONDS);

  const manifests = await readManifests(storage, app);
  const staging = await collect(storage.list(stagingPrefix(app)));
  const staleRecords = staging.filter(isStale).map((o) => o.key);
  const { paths: inFlight, builds: inFlightBuilds } = await readInFlight(storage, staging.filter((o) => !isStale(o)));
  const ownPlan = prunePlanKey(app, input.planId);
  for (const o of await collect(storage.list(prunePlanPrefix(app)))) {
    if (o.key !== ownPlan && isStale(o)) staleRecords.push(o.key);
  }
  // What the go-live step of a publish that never finished kept aside (a Job that never came back).
  for (const o of await collect(storage.list(goLivePrefix(app)))) {
    if (isStale(o)) staleRecords.push(o.key);
  }
  const decide = (objects: DataObject[], copies: StoredObject[]) =>
    planRetention({ app, manifests, inFlight, objects, now: input.now, copies, inFlightBuilds }, input.rule);
  let plan = decide([], []);
  // Listing every object is the costly part; skip it when nothing can be deleted anyway.
  if (input.collectOrphans || plan.manifests.some((m) => m.action === 'delete')) {
    const objects = (await collect(storage.list(dataPrefix(app)))).map((o) => ({ relpath: relpathOf(app, o.key), lastModified: o.lastModified }));
    plan = decide(objects, await collect(storage.list(buildCopiesPrefix(app))));
    if (!input.collectOrphans) {
      const orphans = plan.objects.filter((o) => o.reason === 'orphan').length;
      plan = {
        ...plan,
        objects: plan.objects.filter((o) => o.reason !== 'orphan'),
        objectsKept: plan.objectsKept + orphans,
        copies: plan.copies.filter((o) => o.reason !== 'orphan'),
      };
    }
  } else {
    plan = { ...plan, objectsKept: new Set(manifests.flatMap((m) => m.files)).size };
  }
  // Defence in depth: whatever the manifests say (one lost, a build written by another tool, a
  // go-live that failed half-way), an object the live entry files load stays.
  let conflicts: string[] = [];
  let referenceProblems: string[] = [];
  if (plan.objects.length > 0) {
    const live = await readLiveReferences(storage, app);
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
  if (foreign !== undefined) {
    throw new CorruptRecordError(foreign, `its key is not a plain key of app ${app} (a '.' or '..' segment), so the prune of ${app} deletes nothing; remove it by hand`);
  }
  let planKey: string | undefined;
  if (!input.dryRun && keys.length > 0) {
    // An attempt the server gave up on (its worker stalled past the heartbeat timeout) must not
    // overwrite the plan of the attempt that replaced it, which may already be deleting.
    if (abandoned()) throw new Error(`planning the prune of ${app} was given up by the server (no heartbeat); a retry plans again`);
    const record: PrunePlanRecord = { version: 1, app, keys };
    await storage.put(ownPlan, Buffer.from(JSON.stringify(record)), { contentType: 'application/json', cacheControl: 'no-cache' });
    planKey = ownPlan;
  }
  const orphans = plan.objects.filter((o) => o.reason === 'orphan').length;
  return {
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
    planKey,
    manifests: plan.manifests.slice(0, input.listLimit),
    ...(input.dryRun
      ? {
          objects: [...plan.objects, ...plan.copies, ...staleRecords.map((key) => ({ key, reason: 'stale-record' as const }))].slice(0, input.listLimit),
        }
      : {}),
  };
}

/** Conflict keys and reference problems listed in a result; the rest are only counted. */
export const CONFLICT_LIST_LIMIT = 20;
/** Objects listed between two progress heartbeats of a plan: one S3 listing page. */
const PLAN_BEAT_EVERY = 1000;

/**
 * Heartbeats a plan on progress only: at each manifest or record read, each page of a listing,
 * and once a second while anything advanced. A plan stuck on a store that stopped answering
 * sends nothing, so the server retries it elsewhere after the heartbeat timeout, as it does
 * when the worker is gone.
 */
class PlanProgress {
  private read = 0;
  private sent = -1;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly heartbeat: (read: number) => void) {
    this.timer = setInterval(() => {
      if (this.read !== this.sent) this.beat();
    }, HEARTBEAT_INTERVAL_MS);
    this.beat();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** `storage` with every listed object and every read counted as progress. */
  watch(storage: Storage): Storage {
    const advance = (force: boolean) => {
      this.read++;
      if (force || this.read % PLAN_BEAT_EVERY === 0) this.beat();
    };
    return {
      description: storage.description,
      checkAccess: () => storage.checkAccess(),
      put: (key, body, options) => storage.put(key, body, options),
      copy: (from, to) => storage.copy(from, to),
      putIfAbsent: (key, body, options) => storage.putIfAbsent(key, body, options),
      listChildren: (prefix) => storage.listChildren(prefix),
      delete: (keys) => storage.delete(keys),
      async get(key) {
        const body = await storage.get(key);
        advance(true);
        return body;
      },
      async *list(prefix) {
        for await (const o of storage.list(prefix)) {
          advance(false);
          yield o;
        }
      },
    };
  }

  private beat(): void {
    this.sent = this.read;
    this.heartbeat(this.read);
  }
}


/** S3's DeleteObjects limit. */
const DELETE_BATCH = 1000;
/** DeleteObjects calls at once for objects (manifests go one batch at a time, before them). */
const DELETE_PARALLELISM = 4;
const HEARTBEAT_INTERVAL_MS = 1000;

interface DeleteBatch {
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

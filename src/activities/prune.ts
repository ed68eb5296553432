import { Context, log } from '@temporalio/activity';
import pMap from 'p-map';
import { dataPrefix, prunePlanKey } from '../contract/keys';
import { validateAppName } from '../contract/names';
import { listGoLive } from '../bucket/go-live-records';
import { listAppNames, listBuildCopies } from '../bucket/listings';
import { readLiveReferences } from '../bucket/live-references';
import { readManifests } from '../bucket/manifests';
import { discardPrunePlan, listPrunePlans, openPrunePlan, PLAN_PART_KEYS, PrunePlanWriter } from '../bucket/plan-records';
import { collectGarbage } from '../collect-garbage';
import { listStagingRecords, readInFlight } from '../bucket/staging';
import { deleteBatches, isStaleRecord } from '../prune/plan';
import { streamPrunePlan, type PlanSources, type StreamPlanInput } from '../prune/stream-plan';
import type { DeletePlannedInput, ListAppsInput, ListAppsResult, PlanPruneInput, PrunePlanSummary } from '../prune/types';
import type { Storage } from '../storage/storage';
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
  /** Keys per part of a recorded plan; default PLAN_PART_KEYS (tests make it small). */
  planPartKeys?: number;
}

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
     * Reads the app's manifests, in-flight publishes and objects, lets `streamPrunePlan` decide
     * and records the keys to delete, part by part as the listing comes. Reads everything before deciding anything: one
     * unreadable manifest fails the plan, and nothing of the app is deleted.
     */
    async planAppPrune(input: PlanPruneInput): Promise<PrunePlanSummary> {
      const app = validateAppName(input.app);
      const progress = new PlanProgress(planHeartbeat);
      try {
        const summary = await readAndPlan(app, input, progress.watch(deps.openStorage(input.bucket)), abandoned, deps.planPartKeys);
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
     * Deletes the keys of a plan in batches of 1,000, one part of the plan at a time: the
     * manifests first, one batch at a time, then the objects, several batches at once.
     * Heartbeats how many keys from the start are done, so a retry on another worker resumes
     * there (reading only the parts from there on); removes the plan record last. Reads plans
     * of either version, so a prune planned before an upgrade is resumed after it.
     */
    async deletePlanned(input: DeletePlannedInput): Promise<{ deleted: number }> {
      const storage = deps.openStorage(input.bucket);
      const plan = await openPrunePlan(storage, input.planKey);
      if (!plan) {
        // Gone means an earlier attempt finished and removed it; parts it left go now.
        await discardPrunePlan(storage, input.planKey);
        return { deleted: resumeFrom() };
      }
      const start = Math.min(resumeFrom(), plan.total);
      let done = start;
      // The SDK throttles heartbeats and sends a held-back one only with the next call, so
      // beat on a timer too: the server learns the progress even while every batch is slow.
      const beat = setInterval(() => heartbeat(done), HEARTBEAT_INTERVAL_MS);
      try {
        // One part in memory at a time; parts wholly done before `start` are not even read.
        let offset = 0;
        for (let p = 0; p < plan.partSizes.length; offset += plan.partSizes[p], p++) {
          const size = plan.partSizes[p];
          if (offset + size <= start) continue;
          const keys = await plan.readPart(p);
          const batches = deleteBatches(Math.max(start - offset, 0), Math.min(Math.max(plan.manifests - offset, 0), size), size);
          const finished = new Array<boolean>(batches.length).fill(false);
          let next = 0;
          const partOffset = offset;
          const run = async (b: number) => {
            await storage.delete(keys.slice(batches[b].start, batches[b].end));
            finished[b] = true;
            while (next < batches.length && finished[next]) next++;
            if (next > 0) done = partOffset + batches[next - 1].end;
            heartbeat(done);
          };
          const manifestBatches = batches.filter((b) => b.manifests).length;
          await pMap(batches.slice(0, manifestBatches), (_, i) => run(i), { concurrency: 1 });
          await pMap(batches.slice(manifestBatches), (_, i) => run(manifestBatches + i), { concurrency: DELETE_PARALLELISM });
          if (size >= PLAN_PART_KEYS) collectGarbage();
        }
      } finally {
        clearInterval(beat);
      }
      await discardPrunePlan(storage, input.planKey);
      return { deleted: plan.total };
    },

    /** Removes a plan that will not run (the max-delete guard stopped it). */
    async discardPrunePlan(input: DeletePlannedInput): Promise<void> {
      await discardPrunePlan(deps.openStorage(input.bucket), input.planKey);
    },
  });
}

export type PruneActivities = ReturnType<typeof createPruneActivities>;

/**
 * Reads what `streamPrunePlan` (src/prune/stream-plan.ts) decides from, as it asks, and records
 * the keys it decides to delete. Idempotent: a retry of the same prune (same `planId` and `now`) decides the
 * same and overwrites the same record.
 */
async function readAndPlan(app: string, input: PlanPruneInput, storage: Storage, abandoned: () => boolean, partKeys?: number): Promise<PrunePlanSummary> {
  // Only what the rule reads is kept of each manifest (a pushcache manifest also records every file's sha256, size and ETag).
  const manifests = (await readManifests(storage, app)).map(({ key, timestamp, files, publishId }) => ({ key, timestamp, files, publishId }));
  // Parsing a manifest of 100,000 paths leaves megabytes of garbage; collect it before the listing adds its own.
  if (manifests.reduce((n, m) => n + m.files.length, 0) >= PLAN_PART_KEYS) collectGarbage();
  const staging = await listStagingRecords(storage, app);
  const inFlight = await readInFlight(storage, staging.filter((o) => !isStaleRecord(o, input.now, input.rule)));
  const planRecords = await listPrunePlans(storage, app);
  const goLive = await listGoLive(storage, app);
  const read: StreamPlanInput = { ...input, app, manifests, staging, inFlight, planRecords, ownPlanKey: prunePlanKey(app, input.planId), goLive };
  const sources: PlanSources = {
    listObjects: () => listObjectAges(storage, app),
    listCopies: () => listBuildCopies(storage, app),
    readLive: () => readLiveReferences(storage, app),
  };
  if (input.dryRun) return streamPrunePlan(read, sources, { add: async () => undefined });
  // An attempt the server gave up on (its worker stalled past the heartbeat timeout) must not
  // overwrite the plan of the attempt that replaced it, which may already be deleting.
  const writer = new PrunePlanWriter(
    storage,
    app,
    input.planId,
    () => {
      if (abandoned()) throw new Error(`planning the prune of ${app} was given up by the server (no heartbeat); a retry plans again`);
    },
    partKeys,
  );
  const summary = await streamPrunePlan(read, sources, writer);
  const planKey = await writer.finish();
  return planKey === undefined ? summary : { ...summary, planKey };
}

/** The objects under `data/<app>/` with their ages, as the listing pages come: nothing is collected. */
async function* listObjectAges(storage: Storage, app: string): AsyncIterable<{ relpath: string; lastModified: Date }> {
  const prefix = dataPrefix(app);
  let listed = 0;
  for await (const o of storage.list(prefix)) {
    if (++listed % PLAN_PART_KEYS === 0) collectGarbage();
    yield { relpath: o.key.slice(prefix.length), lastModified: o.lastModified };
  }
}

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
    const flush = () => {
      if (this.read !== this.sent) this.beat();
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
        // The last page of a listing counts as progress too, however short it was.
        flush();
      },
    };
  }

  private beat(): void {
    this.sent = this.read;
    this.heartbeat(this.read);
  }
}


/** DeleteObjects calls at once for objects (manifests go one batch at a time, before them). */
const DELETE_PARALLELISM = 4;
const HEARTBEAT_INTERVAL_MS = 1000;

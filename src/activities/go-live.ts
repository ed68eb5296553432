import { Context } from '@temporalio/activity';
import pMap from 'p-map';
import { commitManifest, findCommitted } from '../bucket/claim-manifest';
import { discardGoLive, readGoLiveRecord, writeGoLiveRecordOnce } from '../bucket/go-live-records';
import { listAppObjects, type ListedObject } from '../bucket/listings';
import { listManifestKeys, visitManifestsNewestFirst } from '../bucket/manifests';
import type { KnownStagingRecords } from '../bucket/known-records';
import type { GoLiveRecord } from '../contract/go-live';
import { buildCopyKey, dataKey, ENTRY_POINT, goLiveBackupKey, goLiveRecordKey, isEntryFile } from '../contract/keys';
import type { FileRecord } from '../contract/manifest';
import { CorruptRecordError } from '../errors';
import { manifestDecisions } from '../prune/retention';
import { keepDecision } from '../rollback/target';
import { goLiveGroups, planGoLive, type GoLiveWrite } from '../source/go-live-plan';
import type { ScannedSource } from '../source/scan';
import type { Storage, WriteOptions } from '../storage/storage';
import type { LockGeneration } from '../contract/lock-generation';
import { progressHeartbeat } from './heartbeat';
import type { GoLiveInput, GoLiveResult, GoLiveSummary, RestoreLiveInput, RestoreLiveResult } from './types';

/** Copies and deletes of the go-live step in flight at once: small requests the store answers quickly. */
const COPY_CONCURRENCY = 16;

export interface GoLiveDeps {
  storage: Storage;
  /** The tree this publish staged, rescanned and checked after a Job restart. */
  stagedTree: (sourceDir: string, listDigest: string) => Promise<ScannedSource>;
  /** Writes one file of the tree under its data key, its bytes checked against the staged hash. */
  upload: (app: string, tree: ScannedSource, file: FileRecord, cacheMaxAge: number, options?: Pick<WriteOptions, 'onProgress'>) => Promise<boolean>;
  heartbeatIntervalMs: number;
  /** The staging listing, when it provably still holds at this turn; see files.ts `stagedListing`. */
  stagedListing?: (stagingKey: string, turn: LockGeneration | undefined) => Map<string, ListedObject> | undefined;
  /** The clock builds' ages are read against, in ms since the epoch. Default Date.now. */
  now?: () => number;
  /** The staging record this process wrote or read last: read again without parsing it. */
  stagingRecords: KnownStagingRecords;
}

/**
 * The step that makes a build live, run by the Job with the store it was given while the
 * publish holds the app's go-live turn: keep aside what it overwrites, write the held-back and
 * entry files with fed-mods.json last, then the manifest. If it fails, `restoreLive` puts the
 * kept objects back, so browsers see the previous build whole rather than a mix of two.
 */
export function createGoLiveActivities(deps: GoLiveDeps) {
  const { storage } = deps;

  const readRecord = (app: string, publishId: string) => readGoLiveRecord(storage, app, publishId);
  const discard = (app: string, publishId: string) => discardGoLive(storage, app, publishId);
  const now = deps.now ?? Date.now;

  /**
   * How many builds the post-publish prune would delete now. One listing of the manifests'
   * keys: when it is 0, the workflow skips that prune and its round trips (issue 16).
   */
  async function withAgedOut<T extends Omit<GoLiveResult, 'agedOut'>>(input: GoLiveInput, result: T): Promise<T & Pick<GoLiveResult, 'agedOut'>> {
    if (!input.agedOutRule) return result;
    const decisions = manifestDecisions(await listManifestKeys(storage, input.app), Math.floor(now() / 1000), input.agedOutRule);
    return { ...result, agedOut: decisions.filter((d) => d.action === 'delete').length };
  }

  /**
   * Marks the writes that replace bytes a retained build recorded with other bytes: those
   * objects are kept under that build's copies, so a rollback to it can bring them back. The
   * manifests are read, newest first and only until every such write is decided, when some
   * non-entry object is replaced, which a publish of all-new (hashed) files never does.
   */
  async function markKept(app: string, writes: GoLiveWrite[], listing: ReadonlyMap<string, ListedObject>, incoming: ReadonlyMap<string, string>): Promise<void> {
    const pending = new Map(writes.filter((w) => w.existed && !isEntryFile(w.path) && listing.get(w.path)?.etag !== undefined).map((w) => [w.path, w]));
    if (pending.size === 0) return;
    await visitManifestsNewestFirst(storage, app, ({ manifest }) => {
      for (const [path, w] of pending) {
        const decision = keepDecision(path, listing.get(path)!, incoming.get(path), manifest);
        if (decision === 'not-named') continue;
        if (decision !== null) w.kept = decision;
        pending.delete(path);
      }
      return pending.size === 0;
    });
  }

  return {
    /**
     * Lists the app's objects, decides what the go-live step writes, copies aside every object
     * it will replace and records the plan. A retry finds the record and changes nothing.
     */
    async prepareGoLive(input: GoLiveInput): Promise<GoLiveSummary> {
      const existing = await readRecord(input.app, input.publishId);
      if (existing) return summarise(existing.writes);
      const staged = await deps.stagingRecords.read(storage, input.stagingKey);
      if (!staged) {
        if (await findCommitted(storage, input)) return { writes: 0, replaced: 0 };
        throw new CorruptRecordError(input.stagingKey, 'the staging record of this publish is gone before it went live');
      }
      const tree = await deps.stagedTree(input.sourceDir, input.listDigest);
      // Listing a large app takes a while: every object listed is progress.
      const beat = progressHeartbeat(() => ({ listed, copied }), deps.heartbeatIntervalMs);
      let listed = 0;
      let copied = 0;
      try {
        const listing =
          deps.stagedListing?.(input.stagingKey, input.turnGeneration) ??
          (await listAppObjects(storage, input.app, () => {
            listed++;
            beat.advanced();
          }));
        const writes = planGoLive(tree.files, listing, { heldBack: new Set(staged.deferred ?? []), skipped: new Set(staged.skipped ?? []) });
        await markKept(input.app, writes, listing, new Map(tree.files.map((f) => [f.path, f.sha256])));
        await pMap(
          writes.filter((w) => w.existed),
          async (w) => {
            Context.current().cancellationSignal.throwIfAborted();
            // An object a retained build needs is copied once, where it outlives this step.
            const aside = w.kept ? buildCopyKey(input.app, w.kept, w.path) : goLiveBackupKey(input.app, input.publishId, w.path);
            // Gone since the listing: there is nothing of the old build to keep or put back.
            if (!(await storage.copy(dataKey(input.app, w.path), aside))) {
              w.existed = false;
              delete w.kept;
            }
            copied++;
            beat.advanced();
          },
          { concurrency: COPY_CONCURRENCY },
        );
        const record: GoLiveRecord = { version: 1, publishId: input.publishId, app: input.app, writes };
        if (!(await writeGoLiveRecordOnce(storage, record))) {
          // An earlier attempt of this step, still running when it was given up, got there first: its record holds.
          return summarise((await readRecord(input.app, input.publishId))?.writes ?? writes);
        }
        return summarise(writes);
      } finally {
        beat.stop();
      }
    },

    /**
     * Writes what `prepareGoLive` recorded, group by group (held-back files, entry files,
     * fed-mods.json), then the manifest. After a retry it resumes at the group it reported.
     */
    async goLive(input: GoLiveInput): Promise<GoLiveResult> {
      const record = await readRecord(input.app, input.publishId);
      if (!record) {
        const committed = await findCommitted(storage, input);
        if (committed) return withAgedOut(input, { ...committed, files: 0, bytes: 0 });
        throw new CorruptRecordError(goLiveRecordKey(input.app, input.publishId), 'the go-live record of this publish is missing');
      }
      const tree = await deps.stagedTree(input.sourceDir, input.listDigest);
      const byPath = new Map(tree.files.map((f) => [f.path, f]));
      const ctx = Context.current();
      const groups = goLiveGroups(record.writes);
      const resumeAt = (ctx.info.heartbeatDetails as { groupsDone?: number } | undefined)?.groupsDone ?? 0;
      let groupsDone = resumeAt;
      let bytes = 0;
      const beat = progressHeartbeat(() => ({ groupsDone }), deps.heartbeatIntervalMs, ctx);
      try {
        for (const group of groups.slice(resumeAt)) {
          await pMap(
            group,
            async (w) => {
              ctx.cancellationSignal.throwIfAborted();
              const file = byPath.get(w.path);
              if (!file) throw new CorruptRecordError(goLiveRecordKey(input.app, input.publishId), `names ${w.path}, which the staged tree lacks`);
              await deps.upload(input.app, tree, file, input.cacheMaxAge, { onProgress: beat.advanced });
              bytes += file.size;
              beat.advanced();
            },
            { concurrency: input.uploadConcurrency },
          );
          groupsDone++;
          beat.flush();
        }
      } finally {
        beat.stop();
      }
      const committed = await commitManifest(storage, input, deps.stagingRecords);
      // The build is live and whole: what was kept aside is no longer needed. Left behind if
      // this fails, it costs space, never correctness.
      await discard(input.app, input.publishId).catch(() => undefined);
      return withAgedOut(input, { ...committed, files: record.writes.length, bytes });
    },

    /**
     * Puts back what a failed go-live step replaced, fed-mods.json first so browsers stop
     * loading the new build, and removes what it added. Does nothing when the build's manifest
     * is written: that build is complete and live.
     */
    async restoreLive(input: RestoreLiveInput): Promise<RestoreLiveResult> {
      if (await findCommitted(storage, input)) return { restored: 0, removed: 0, lost: [], alreadyLive: true };
      const record = await readRecord(input.app, input.publishId);
      if (!record) {
        // The step failed before its first write: only copies it may have made are left to remove.
        await discard(input.app, input.publishId);
        return { restored: 0, removed: 0, lost: [], alreadyLive: false };
      }
      const lost: string[] = [];
      let restored = 0;
      let removed = 0;
      const undo = async (w: GoLiveWrite) => {
        const key = dataKey(input.app, w.path);
        if (!w.existed) {
          await storage.delete([key]);
          removed++;
        } else if (await storage.copy(w.kept ? buildCopyKey(input.app, w.kept, w.path) : goLiveBackupKey(input.app, input.publishId, w.path), key)) {
          restored++;
        } else {
          lost.push(w.path);
        }
      };
      const entryPoint = record.writes.filter((w) => w.path === ENTRY_POINT);
      for (const w of entryPoint) await undo(w);
      await pMap(record.writes.filter((w) => w.path !== ENTRY_POINT).reverse(), undo, { concurrency: COPY_CONCURRENCY });
      if (lost.length === 0) await discard(input.app, input.publishId);
      return { restored, removed, lost: lost.slice(0, 20), alreadyLive: false };
    },
  };
}

function summarise(writes: readonly GoLiveWrite[]): GoLiveSummary {
  const kept = writes.filter((w) => w.kept !== undefined).length;
  return { writes: writes.length, replaced: writes.filter((w) => w.existed).length, ...(kept > 0 ? { kept } : {}) };
}

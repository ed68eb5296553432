import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import pMap from 'p-map';
import { claimManifestKey } from '../bucket/claim-manifest';
import { listAppObjects, listUnder, type ListedObject } from '../bucket/listings';
import { readManifest, readManifests } from '../bucket/manifests';
import { buildCopiesPrefix, buildCopyKey, dataKey, isEntryFile, manifestKey, manifestTimestamp } from '../contract/keys';
import { renderManifest, type FileRecord, type Manifest } from '../contract/manifest';
import { validateAppName } from '../contract/names';
import { cacheControl, contentType, DEFAULT_CACHE_MAX_AGE } from '../contract/headers';
import { CorruptRecordError } from '../errors';
import { NotRestorableError } from '../rollback/errors';
import { keepFor, resolveTarget, restoredEtag, restoreOrder, restorePlanOrThrow, rollbackCacheMaxAge } from '../rollback/target';
import type { CheckRollbackInput, CommitRollbackInput, RestoreEntryFilesInput, RollbackTarget, RollbackTo } from '../rollback/types';
import type { Storage } from '../storage/storage';
import { withFailureTranslation } from './failures';
import { progressHeartbeat } from './heartbeat';
import type { CommitManifestResult, UploadResult } from './types';

export interface RollbackActivityDeps {
  openStorage: (bucket: string) => Storage;
}

/**
 * Activities of a rollback. They touch only the bucket and run on the shared worker, while the
 * workflow holds the app lock shared (so no prune deletes what they check).
 */
export function createRollbackActivities(deps: RollbackActivityDeps) {
  return withFailureTranslation({
    /**
     * Finds the build and decides, with one listing of the app's data and one of its copies,
     * how each of its files comes back: in place already, or from a kept copy.
     */
    async checkRollbackTarget(input: CheckRollbackInput): Promise<RollbackTarget> {
      const app = validateAppName(input.app);
      const storage = deps.openStorage(input.bucket);
      const { manifests, target, plan } = await planFor(storage, app, input.to);
      const m = target.manifest;
      const cacheMaxAge = rollbackCacheMaxAge(target, manifests);
      return {
        manifestKey: target.key,
        timestamp: target.timestamp,
        image: m.image,
        buildId: m.publishId ?? '',
        files: m.files.length,
        bytes: m.files.reduce((sum, p) => sum + (m.sizes?.[p] ?? 0), 0),
        entryFiles: restoreOrder(m.files).length,
        restores: plan.restore.length,
        ...(cacheMaxAge !== undefined ? { cacheMaxAge } : {}),
      };
    },

    /**
     * Brings the target back: keeps what it overwrites that a retained build still needs (as a
     * publish's go-live step does), copies back from kept copies every other file that differs
     * from what is live, then the entry files, fed-mods.json last. The entry files are also
     * copied to the rollback's own copies (the new manifest's build must survive the target
     * being pruned). The plan is made again from the bucket, so a retry skips what an earlier
     * attempt already put back; every write rewrites the same bytes.
     */
    async restoreEntryFiles(input: RestoreEntryFilesInput): Promise<UploadResult> {
      const storage = deps.openStorage(input.bucket);
      await readTarget(storage, input.manifestKey);
      let done = 0;
      const beat = progressHeartbeat(() => ({ done }), heartbeatIntervalMs());
      try {
        // Listing a large app takes a while: every object listed is progress.
        const { manifests, target, plan, objects } = await planFor(storage, input.app, { timestamp: manifestTimestampOf(input.manifestKey) }, beat.advanced);
        const m = target.manifest;
        const body = plan.restore.filter((r) => !isEntryFile(r.path));
        // Kept before anything is overwritten: a retry finds those files already restored.
        await pMap(
          body,
          async (r) => {
            const object = objects.get(r.path);
            const owner = object && keepFor(r.path, object, m.sha256![r.path], manifests);
            if (owner) await storage.copy(dataKey(input.app, r.path), buildCopyKey(input.app, owner, r.path));
            beat.advanced();
          },
          { concurrency: COPY_CONCURRENCY },
        );
        await pMap(
          body,
          async (r) => {
            const from = buildCopiesPrefix(input.app) + r.copy;
            if (!(await storage.copy(from, dataKey(input.app, r.path)))) throw new NotRestorableError(`the copy ${from} is gone; roll back to another build`);
            done++;
            beat.advanced();
          },
          { concurrency: COPY_CONCURRENCY },
        );
        const entries = plan.restore.filter((r) => isEntryFile(r.path));
        const bodies = new Map<string, Buffer>();
        for (const r of entries) {
          const key = buildCopiesPrefix(input.app) + r.copy;
          const bytes = await storage.get(key);
          if (!bytes) throw new NotRestorableError(`the copy ${key} is gone; roll back to another build`);
          if (sha256(bytes) !== m.sha256?.[r.path]) throw new CorruptRecordError(key, `its content is not the ${r.path} that ${input.manifestKey} recorded`);
          bodies.set(r.path, bytes);
        }
        const options = (p: string) => ({ contentType: contentType(p), cacheControl: cacheControl(p, m.cacheMaxAge ?? DEFAULT_CACHE_MAX_AGE), metadata: { sha256: m.sha256![p] } });
        for (const r of entries) await storage.put(buildCopyKey(input.app, input.toBuild, r.path), bodies.get(r.path)!, options(r.path));
        // One at a time, in order: fed-mods.json must not go live before the files it names.
        for (const r of entries) {
          await storage.put(dataKey(input.app, r.path), bodies.get(r.path)!, options(r.path));
          done++;
          beat.advanced();
        }
        return { files: plan.restore.length, bytes: plan.restore.reduce((sum, r) => sum + (m.sizes?.[r.path] ?? 0), 0) };
      } finally {
        beat.stop();
      }
    },

    /** Records the rollback as a new build naming the target's files, so retention keeps them. */
    async commitRollbackManifest(input: CommitRollbackInput): Promise<CommitManifestResult> {
      const storage = deps.openStorage(input.bucket);
      const target = await readTarget(storage, input.manifestKey);
      const listing = Object.values(target.etags!).some((e) => /-\d+$/.test(e)) ? await listAppObjects(storage, input.app) : new Map<string, ListedObject>();
      const files: FileRecord[] = target.files.map((path) => ({
        path,
        size: target.sizes![path],
        sha256: target.sha256![path],
        etag: restoredEtag(target.etags![path], target.sizes![path], listing.get(path)),
      }));
      return claimManifestKey(
        storage,
        input,
        (ts) =>
          renderManifest({
            files,
            image: target.image,
            valpopImage: target.valpopImage,
            timestamp: ts,
            publishId: input.publishId,
            cacheMaxAge: input.cacheMaxAge,
            rollbackOf: Number(input.manifestKey.slice(input.manifestKey.lastIndexOf('/') + 1)),
          }),
        manifestKey(input.app, input.timestamp),
      );
    },
  });
}

export type RollbackActivities = ReturnType<typeof createRollbackActivities>;

/** Server-side copies in flight at once, as in the go-live step. */
const COPY_CONCURRENCY = 16;
/** How often a restore reports progress: a quarter of its heartbeat timeout, at most every 2 s. */
function heartbeatIntervalMs(): number {
  let timeout: number | undefined;
  try {
    timeout = Context.current().info.heartbeatTimeoutMs;
  } catch {
    // Called outside an activity (a unit test): progressHeartbeat does nothing then.
  }
  return timeout ? Math.max(100, Math.min(2000, timeout / 4)) : 2000;
}

/** The target, the app's manifests and listings, and how each file of the target comes back. */
async function planFor(storage: Storage, app: string, to: RollbackTo, onProgress?: () => void) {
  const manifests = await readManifests(storage, app);
  onProgress?.();
  const target = resolveTarget(app, manifests, to);
  const [objects, copies] = await Promise.all([listAppObjects(storage, app, onProgress), listUnder(storage, buildCopiesPrefix(app), onProgress)]);
  return { manifests, target, objects, plan: restorePlanOrThrow(app, target, manifests, objects, copies) };
}

function manifestTimestampOf(key: string): number {
  const ts = manifestTimestamp(key);
  if (ts === undefined) throw new CorruptRecordError(key, 'its name is not a unix timestamp in seconds');
  return ts;
}

/** The target's manifest, checked again: it was restorable, so it has what a restore needs. */
async function readTarget(storage: Storage, key: string): Promise<Manifest> {
  const m = await readManifest(storage, key);
  // The app lock keeps prunes out while a rollback runs; only someone deleting by hand gets here.
  if (!m) throw new NotRestorableError(`the manifest ${key} was deleted while rolling back to it`);
  if (!m.sizes || !m.sha256 || !m.etags || m.files.some((p) => m.sizes![p] === undefined || m.sha256![p] === undefined || m.etags![p] === undefined)) {
    throw new CorruptRecordError(key, 'it lacks the size, sha256 or ETag of some of its files');
  }
  return m;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

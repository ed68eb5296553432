import { createHash } from 'node:crypto';
import { claimManifestKey } from '../bucket/claim-manifest';
import { listAppObjects, listUnder } from '../bucket/listings';
import { readManifest, readManifests } from '../bucket/manifests';
import { buildCopyKey, buildCopyPrefix, dataKey, manifestKey } from '../contract/keys';
import { renderManifest, type FileRecord, type Manifest } from '../contract/manifest';
import { validateAppName } from '../contract/names';
import { cacheControl, contentType, DEFAULT_CACHE_MAX_AGE } from '../contract/headers';
import { CorruptRecordError } from '../errors';
import { NotRestorableError } from '../rollback/errors';
import { assertRestorable, resolveTarget, restoreOrder, rollbackCacheMaxAge } from '../rollback/target';
import type { CheckRollbackInput, CommitRollbackInput, RestoreEntryFilesInput, RollbackTarget } from '../rollback/types';
import type { Storage } from '../storage/storage';
import { withFailureTranslation } from './failures';
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
    /** Finds the build and checks, with one listing of its data and one of its copies, that it is all still there. */
    async checkRollbackTarget(input: CheckRollbackInput): Promise<RollbackTarget> {
      const app = validateAppName(input.app);
      const storage = deps.openStorage(input.bucket);
      const manifests = await readManifests(storage, app);
      const target = resolveTarget(app, manifests, input.to);
      const buildId = target.manifest.publishId ?? '';
      const [objects, copies] = await Promise.all([listAppObjects(storage, app), buildId ? listUnder(storage, buildCopyPrefix(app, buildId)) : new Map()]);
      assertRestorable(app, target, objects, copies);
      const m = target.manifest;
      const cacheMaxAge = rollbackCacheMaxAge(target, manifests);
      return {
        manifestKey: target.key,
        timestamp: target.timestamp,
        image: m.image,
        buildId,
        files: m.files.length,
        bytes: m.files.reduce((sum, p) => sum + (m.sizes?.[p] ?? 0), 0),
        entryFiles: restoreOrder(m.files).length,
        ...(cacheMaxAge !== undefined ? { cacheMaxAge } : {}),
      };
    },

    /**
     * Copies the target's entry files to the rollback's own copies (the new manifest's build
     * must survive the target being pruned), then writes them to data/<app>/, fed-mods.json
     * last. Every step rewrites the same bytes, so a retry is harmless.
     */
    async restoreEntryFiles(input: RestoreEntryFilesInput): Promise<UploadResult> {
      const storage = deps.openStorage(input.bucket);
      const m = await readTarget(storage, input.manifestKey);
      const order = restoreOrder(m.files);
      const bodies = new Map<string, Buffer>();
      for (const p of order) {
        const key = buildCopyKey(input.app, input.fromBuild, p);
        const body = await storage.get(key);
        if (!body) throw new NotRestorableError(`the copy ${key} is gone; roll back to another build`);
        if (sha256(body) !== m.sha256?.[p]) throw new CorruptRecordError(key, `its content is not the ${p} that ${input.manifestKey} recorded`);
        bodies.set(p, body);
      }
      const options = (p: string) => ({ contentType: contentType(p), cacheControl: cacheControl(p, m.cacheMaxAge ?? DEFAULT_CACHE_MAX_AGE), metadata: { sha256: m.sha256![p] } });
      for (const p of order) await storage.put(buildCopyKey(input.app, input.toBuild, p), bodies.get(p)!, options(p));
      // One at a time, in order: fed-mods.json must not go live before the files it names.
      for (const p of order) await storage.put(dataKey(input.app, p), bodies.get(p)!, options(p));
      return { files: order.length, bytes: order.reduce((sum, p) => sum + bodies.get(p)!.length, 0) };
    },

    /** Records the rollback as a new build naming the target's files, so retention keeps them. */
    async commitRollbackManifest(input: CommitRollbackInput): Promise<CommitManifestResult> {
      const storage = deps.openStorage(input.bucket);
      const target = await readTarget(storage, input.manifestKey);
      const files: FileRecord[] = target.files.map((path) => ({ path, size: target.sizes![path], sha256: target.sha256![path], etag: target.etags![path] }));
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

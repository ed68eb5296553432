import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import pMap from 'p-map';
import { cacheControl, contentType } from '../contract/headers';
import { buildCopyKey, dataKey, ENTRY_POINT, isEntryFile, isGoLiveFile, stagingKey } from '../contract/keys';
import type { FileRecord } from '../contract/manifest';
import { validateAppName } from '../contract/names';
import type { StagingRecord } from '../contract/staging';
import { SourceChangedError } from '../errors';
import { planBatches } from '../source/batches';
import { planUploads } from '../source/upload-plan';
import { ReadBuffers, type PooledRead } from '../source/read-buffers';
import { scanSource, type ScannedSource } from '../source/scan';
import { isSameBuild } from '../source/same-build';
import { PART_SIZE } from '../storage/etag';
import type { Storage, WriteOptions } from '../storage/storage';
import { readAppView, type AppView, type EarlyAppView, type EarlyView } from '../bucket/app-view';
import { KnownStagingRecords } from '../bucket/known-records';
import { listingStillHolds } from '../bucket/listing-trust';
import type { ListedObject } from '../bucket/listings';
import type { LockGeneration } from '../contract/lock-generation';
import type { CopyDecision } from '../source/content-index';
import { copyInstead, decisionReasons, planBatchCopies } from './copies';
import { withFailureTranslation } from './failures';
import { createGoLiveActivities } from './go-live';
import { beatingWhile, progressHeartbeat } from './heartbeat';
import { createReferenceGateActivities } from './reference-gate';
import type { DiscardStagingInput, StageInput, StageSummary, UploadBatchInput, UploadEntryPointInput, UploadResult } from './types';

const WHOLE_READ_LIMIT = 1024 * 1024;
// A file sent in parts is read in 1 MiB chunks, not 64 KiB: a sixteenth of the chunks through the
// verifying hash and lib-storage's part assembly. At most MULTIPART_UPLOADS_IN_FLIGHT are open.
const PART_READS = { highWaterMark: 1024 * 1024 };

export interface FileActivityDeps {
  /** The bucket the Job publishes to. */
  storage: Storage;
  /** Reads and hashes a source tree; injected so tests can count or slow scans. */
  scan?: (root: string) => Promise<ScannedSource>;
  /** How often a running upload reports liveness, in ms. Default 2000. */
  heartbeatIntervalMs?: number;
  /** Copy server-side files whose bytes the bucket already holds under another key. Default true; `--no-copy` sets false. */
  copy?: boolean;
  /** Where the Job reports a store that refuses copies (once per store); not the activity logger, whose lines carry the task token. */
  warn?: (message: string) => void;
  /** Buffers the small files are read into; a test passes its own to see how many bytes they held. */
  readBuffers?: ReadBuffers;
  /** The clock the age of an early view is read against, in ms since the epoch. Default Date.now. */
  now?: () => number;
  /** The app's objects and builds, read by the Job while it hashed; staging reads them itself without. */
  earlyView?: EarlyAppView;
  /** Remembers the staging record this process wrote, so its go-live step need not parse it again. Default: a new one. */
  stagingRecords?: KnownStagingRecords;
}

/**
 * Activities that read the build's files. They run only in the Job, on a task queue that only
 * the Job polls, because the files exist only on its host.
 */
export function createFileActivities(deps: FileActivityDeps) {
  const scan = deps.scan ?? ((root: string) => scanSource(root));
  const heartbeatIntervalMs = deps.heartbeatIntervalMs ?? 2000;
  const copying = deps.copy !== false;
  const readBuffers = deps.readBuffers ?? new ReadBuffers();
  const now = deps.now ?? Date.now;
  const stagingRecords = deps.stagingRecords ?? new KnownStagingRecords();
  // A restarted Job has an empty cache and rescans; the digest proves it found the same tree.
  const scans = new Map<string, ScannedSource>();

  async function stagedTree(sourceDir: string, listDigest: string): Promise<ScannedSource> {
    const cached = scans.get(listDigest);
    if (cached) return cached;
    const tree = await beatingWhile(() => scan(sourceDir), heartbeatIntervalMs);
    if (tree.listDigest !== listDigest) {
      throw new SourceChangedError(
        `the files in ${sourceDir} changed after this publish staged them; start a new publish for the new tree`,
      );
    }
    remember(tree);
    return tree;
  }

  function remember(tree: ScannedSource): void {
    scans.set(tree.listDigest, tree);
    if (scans.size > 4) scans.delete(scans.keys().next().value!);
  }

  /**
   * Writes one file of the staged tree. The store checks the bytes against the staged sha256,
   * so a file changed since staging fails the publish (SourceChanged) instead of going up.
   */
  async function upload(
    app: string,
    tree: ScannedSource,
    file: FileRecord,
    cacheMaxAge: number,
    options: Pick<WriteOptions, 'ifAbsent' | 'onProgress'> = {},
    key = dataKey(app, file.path),
  ): Promise<boolean> {
    const abs = path.join(tree.root, file.path);
    // A blocking read of a small file, just hashed and so in the page cache, takes microseconds;
    // a stream costs a thread-pool round trip per open, read and close, which profiling of a
    // 10,000-file publish showed as the Job's largest CPU cost after request signing.
    // Read into a reused buffer (see ReadBuffers), handed back once the PUT has settled.
    const read = file.size < WHOLE_READ_LIMIT ? readStagedFile(readBuffers, abs, file) : undefined;
    const body = read?.bytes ?? { size: file.size, open: () => createReadStream(abs, file.size > PART_SIZE ? PART_READS : undefined) };
    try {
      return await deps.storage.put(key, body, {
        contentType: contentType(file.path),
        cacheControl: cacheControl(file.path, cacheMaxAge),
        metadata: { sha256: file.sha256 },
        sha256: file.sha256,
        etag: file.etag,
        ...options,
      });
    } finally {
      read?.release();
    }
  }

  /** What staging decides from: the view the Job read while hashing (`early`), else a fresh one. */
  async function appView(app: string, onObject: () => void): Promise<{ view: AppView; early?: EarlyView }> {
    const early = await deps.earlyView?.take(app);
    return early ? { view: early, early } : { view: await readAppView(deps.storage, app, onObject) };
  }

  // The early views publishes staged from, by staging key, with what this process saw its batches write since.
  const stagedViews = new Map<string, StagedView>();

  /**
   * The listing the go-live step may decide from instead of listing the app again: the staged
   * view with every file the batches created, when this process ran every batch itself, each
   * created every object it wrote, and the app lock granted nothing that changes objects since
   * the view was read (bucket/listing-trust.ts). Handed out once.
   */
  function stagedListing(stagingKey: string, turn: LockGeneration | undefined): Map<string, ListedObject> | undefined {
    const staged = stagedViews.get(stagingKey);
    stagedViews.delete(stagingKey);
    if (!staged || staged.spoiled || staged.batchesDone.size !== staged.batchCount) return undefined;
    const { view } = staged;
    if (!listingStillHolds(view.lock, turn, now() - view.readAt)) return undefined;
    const listing = new Map(view.existing);
    for (const f of staged.created) listing.set(f.path, { size: f.size, etag: f.etag });
    return listing;
  }

  // What each staged publish uploads in batches, by staging key; rebuilt from the staging record after a restart.
  const uploads = new Map<string, BatchedUploads>();

  async function uploadList(input: UploadBatchInput): Promise<{ tree: ScannedSource } & BatchedUploads> {
    const tree = await stagedTree(input.sourceDir, input.listDigest);
    let batched = input.stagingKey ? uploads.get(input.stagingKey) : undefined;
    if (!batched) {
      batched = batchedUploads(tree, input.stagingKey ? await stagingRecord(input.stagingKey) : undefined, copying);
      if (input.stagingKey) uploads.set(input.stagingKey, batched);
    }
    return { tree, ...batched };
  }

  async function stagingRecord(key: string): Promise<StagingRecord> {
    const record = await stagingRecords.read(deps.storage, key);
    // Gone only once the manifest is written, and then no batch runs any more.
    if (!record) throw new SourceChangedError(`the staging record ${key} of this publish is gone`);
    return record;
  }

  return withFailureTranslation({
    /**
     * Scans and hashes the tree, decides which files the bucket already holds, and records the
     * file list and those decisions under pushcache's staging prefix.
     */
    async stageBuild(input: StageInput): Promise<StageSummary> {
      validateAppName(input.app);
      const tree = await beatingWhile(() => scan(input.sourceDir), heartbeatIntervalMs);
      remember(tree);
      const beat = progressHeartbeat(() => undefined, heartbeatIntervalMs);
      const { view, early } = await appView(input.app, beat.advanced).finally(beat.stop);
      const { existing, earlier, newest } = view;
      if (input.goLive && newest && isSameBuild(newest.manifest, input.image, tree.files, existing)) {
        // valpop skips a populate of the image it published last; writing nothing keeps a
        // re-created Job from pushing older builds out of the -n window with copies of this one.
        return {
          fileCount: tree.files.length,
          totalBytes: tree.totalBytes,
          listDigest: tree.listDigest,
          batchCount: 0,
          entryPointBytes: null,
          stagingKey: '',
          uploadFiles: 0,
          uploadBytes: 0,
          skippedFiles: tree.files.length,
          skippedBytes: tree.totalBytes,
          upToDate: { manifestKey: newest.key, timestamp: newest.timestamp },
        };
      }
      const plan = planUploads(tree.files, existing, earlier, input.cacheMaxAge);
      const record: StagingRecord = {
        version: 1,
        publishId: input.publishId,
        app: input.app,
        image: input.image,
        ...(input.valpopImage ? { valpopImage: input.valpopImage } : {}),
        timestamp: input.timestamp,
        listDigest: tree.listDigest,
        files: tree.files,
        cacheMaxAge: input.cacheMaxAge,
        skipped: plan.skip.map((f) => f.path),
        ...(input.goLive ? { deferred: plan.replace.map((f) => f.path) } : {}),
      };
      // Only create-only batches copy: a copy never replaces an object a live build may use.
      let copies = new Map<string, CopyDecision>();
      const candidates = batchedUploads(tree, record, false);
      if (copying && candidates.createOnly) {
        const indexBeat = progressHeartbeat(() => undefined, heartbeatIntervalMs);
        copies = await planBatchCopies(deps.storage, input.app, candidates.files, indexBeat.advanced).finally(indexBeat.stop);
        record.copies = Object.fromEntries(copies);
      }
      record.reasons = decisionReasons(tree.files, plan, copies);
      const key = stagingKey(input.app, input.publishId);
      const body = Buffer.from(JSON.stringify(record));
      await deps.storage.put(key, body, {
        contentType: 'application/json',
        cacheControl: 'no-store',
      });
      stagingRecords.wrote(key, body, record);
      const batched = batchedUploads(tree, record, copying);
      uploads.set(key, batched);
      const toUpload = batched.files;
      const batchCount = planBatches(toUpload.map((f) => f.size), input.batchLimits).length;
      // A retried staging step may have decided otherwise than the attempt that kept a view.
      stagedViews.delete(key);
      // A server-side copy may leave another ETag than an upload would: those publishes list again.
      if (early?.lock && copies.size === 0) stagedViews.set(key, { view: early, created: toUpload, batchCount, batchesDone: new Set(), spoiled: false });
      const entryPoint = tree.files.find((f) => f.path === ENTRY_POINT);
      const bytes = (files: FileRecord[]) => files.reduce((sum, f) => sum + f.size, 0);
      return {
        fileCount: tree.files.length,
        totalBytes: tree.totalBytes,
        listDigest: tree.listDigest,
        batchCount,
        entryPointBytes: entryPoint ? entryPoint.size : null,
        stagingKey: key,
        uploadFiles: plan.upload.length,
        uploadBytes: bytes(plan.upload),
        skippedFiles: plan.skip.length,
        skippedBytes: bytes(plan.skip),
        ...(record.copies ? { copyFiles: copies.size, copyBytes: bytes(candidates.files.filter((f) => copies.has(f.path))) } : {}),
      };
    },

    /**
     * Uploads one batch; after a retry it resumes from the last file it reported done. In a
     * go-live publish it only creates objects: a key that exists by now belongs to a build that
     * may be live, and is left to the go-live step.
     */
    async uploadBatch(input: UploadBatchInput): Promise<UploadResult> {
      const { tree, files: all, createOnly, copies } = await uploadList(input);
      const batch = planBatches(all.map((f) => f.size), input.batchLimits)[input.batchIndex];
      if (!batch) throw new SourceChangedError(`batch ${input.batchIndex} does not exist in the staged tree`);
      const files = all.slice(batch.start, batch.end);
      const ctx = Context.current();
      const resumeAt = typeof ctx.info.heartbeatDetails === 'number' ? ctx.info.heartbeatDetails : 0;
      const staged = input.stagingKey ? stagedViews.get(input.stagingKey) : undefined;
      // What an earlier attempt wrote is not known here.
      if (staged && resumeAt > 0) staged.spoiled = true;

      // Heartbeat the length of the finished prefix, so a retry skips exactly what is known done.
      const finished = new Array<boolean>(files.length).fill(false);
      let prefix = resumeAt;
      const beat = progressHeartbeat(() => prefix, heartbeatIntervalMs, ctx);
      // After a failure no new file starts, but the uploads under way finish and count, and the
      // prefix is reported before the attempt fails: a retry resumes there, not at the last
      // timed beat (the SDK sends at most one per 80% of the heartbeat timeout). Without this,
      // attempts that each failed within seconds on a flaky store all restarted from zero.
      let failure: { err: unknown } | undefined;
      const copied = { files: 0, bytes: 0 };
      try {
        await pMap(
          files.slice(resumeAt),
          async (file, i) => {
            if (failure) return;
            try {
              ctx.cancellationSignal.throwIfAborted();
              const copy = copies?.get(file.path);
              if (copy && (await copyInstead(deps.storage, input.app, file, copy, input.cacheMaxAge, createOnly, deps.warn, beat.advanced))) {
                copied.files++;
                copied.bytes += file.size;
              } else if (!(await upload(input.app, tree, file, input.cacheMaxAge, { ifAbsent: createOnly, onProgress: beat.advanced })) && staged) {
                // Another publish created this key first, maybe with other bytes: the go-live step must look.
                staged.spoiled = true;
              }
            } catch (err) {
              failure ??= { err };
              return;
            }
            finished[resumeAt + i] = true;
            while (prefix < files.length && finished[prefix]) prefix++;
            beat.advanced();
          },
          { concurrency: input.uploadConcurrency },
        );
      } finally {
        beat.stop();
      }
      if (failure) {
        if (staged) staged.spoiled = true;
        ctx.heartbeat(prefix);
        throw failure.err;
      }
      staged?.batchesDone.add(input.batchIndex);
      const done = { files: files.length, bytes: files.reduce((sum, f) => sum + f.size, 0) };
      return copies ? { ...done, copied: copied.files, copiedBytes: copied.bytes } : done;
    },

    /**
     * Copies the build's entry files under pushcache's key space, where later builds do not
     * overwrite them, so a rollback can restore them. Runs before the manifest is written: a
     * build that has a manifest has its copies. Rewriting a copy on a retry is harmless.
     */
    async keepEntryCopies(input: KeepEntryCopiesInput): Promise<UploadResult> {
      const tree = await stagedTree(input.sourceDir, input.listDigest);
      const entries = tree.files.filter((f) => isEntryFile(f.path));
      await pMap(entries, (f) => upload(input.app, tree, f, input.cacheMaxAge, {}, buildCopyKey(input.app, input.publishId, f.path)), { concurrency: 4 });
      return { files: entries.length, bytes: entries.reduce((sum, f) => sum + f.size, 0) };
    },

    /** Uploads fed-mods.json; the workflow calls it only after every batch is done. */
    async uploadEntryPoint(input: UploadEntryPointInput): Promise<UploadResult> {
      const tree = await stagedTree(input.sourceDir, input.listDigest);
      const entry = tree.files.find((f) => f.path === ENTRY_POINT);
      if (!entry) return { files: 0, bytes: 0 };
      await upload(input.app, tree, entry, input.cacheMaxAge);
      return { files: 1, bytes: entry.size };
    },

    ...createGoLiveActivities({ storage: deps.storage, stagedTree, upload, heartbeatIntervalMs, stagedListing, stagingRecords, now }),

    ...createReferenceGateActivities({ storage: deps.storage, stagedTree }),

    /** Removes the staging record of a publish that gave up, so its files become collectable. */
    async discardStaging(input: DiscardStagingInput): Promise<void> {
      stagingRecords.forget(input.stagingKey);
      await deps.storage.delete([input.stagingKey]);
    },
  });
}

export type FileActivities = ReturnType<typeof createFileActivities>;

export interface KeepEntryCopiesInput extends UploadEntryPointInput {
  /** The publish's run ID, which its manifest records: the copies are kept under it. */
  publishId: string;
}

/** An early view a publish staged from, kept for its go-live step. */
interface StagedView {
  view: EarlyView;
  /** The files the batches create. */
  created: readonly FileRecord[];
  batchCount: number;
  /** Batches this process ran from their first file to their last, creating every object. */
  batchesDone: Set<number>;
  /** Something happened that the view cannot account for: the go-live step lists the app. */
  spoiled: boolean;
}

interface BatchedUploads {
  files: FileRecord[];
  /** Batches may only create objects; replacing one is the go-live step's. */
  createOnly: boolean;
  /** Files copied server-side from another key instead of uploaded; absent when copying is off. */
  copies?: ReadonlyMap<string, CopyDecision>;
}

/**
 * The files the upload batches carry: new files only; skipped, held-back and short-cache files
 * are not, and go up in the go-live step. Publishes staged before that step existed (no
 * `deferred` in their record) batch everything but fed-mods.json, as they did. Stage and a
 * restarted Job both derive the batches from this one function.
 */
function batchedUploads(tree: ScannedSource, record: StagingRecord | undefined, copying: boolean): BatchedUploads {
  const skipped = new Set(record?.skipped ?? []);
  if (record?.deferred === undefined) return { files: tree.files.filter((f) => f.path !== ENTRY_POINT && !skipped.has(f.path)), createOnly: false };
  const deferred = new Set(record.deferred);
  const copies = copying && record.copies ? new Map(Object.entries(record.copies)) : undefined;
  return { files: tree.files.filter((f) => !skipped.has(f.path) && !deferred.has(f.path) && !isGoLiveFile(f.path)), createOnly: true, ...(copies ? { copies } : {}) };
}

function readStagedFile(buffers: ReadBuffers, abs: string, file: FileRecord): PooledRead {
  try {
    return buffers.read(abs, file.size);
  } catch (err) {
    throw new SourceChangedError(`${file.path} can no longer be read (${(err as NodeJS.ErrnoException).code}) since this publish staged it`);
  }
}

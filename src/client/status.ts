import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { listGoLive } from '../bucket/go-live-records';
import { listAppNames, listBuildCopies, listDataObjects } from '../bucket/listings';
import { readLiveReferences } from '../bucket/live-references';
import { readManifests, type StoredManifest } from '../bucket/manifests';
import { listPrunePlans } from '../bucket/plan-records';
import { listStagingRecords, readInFlight } from '../bucket/staging';
import { buildCopiesPrefix, dataKey, ENTRY_POINT } from '../contract/keys';
import { oneLine } from '../errors';
import { isStaleRecord, planPrune } from '../prune/plan';
import { planRestore } from '../rollback/target';
import type { DataObject, RetentionRule, StoredObject } from '../prune/retention';
import type { PruneTarget } from '../config';
import type { Storage } from '../storage/storage';
import { appLockWorkflowId, lockStateQuery, type LockMode } from '../workflows/app-lock-api';
import { describeLastAudit, LastAudits, type LastAudit } from './last-audit';
import { formatBytes } from './populate';

/** One retained build, newest first in a status. */
export interface BuildStatus {
  manifestKey: string;
  timestamp: number;
  ageSeconds: number;
  image: string;
  files: number;
  /** Unknown for builds whose manifest records no sizes (valpop's). */
  bytes: number | null;
  live: boolean;
  /** Set on a build a rollback wrote: the timestamp of the build it brought back. */
  rollbackOf?: number;
  /** The Temporal run (publish or rollback) that wrote the manifest; absent on valpop's builds. */
  runId?: string;
  /** What the next prune with the given rule does to it, and why. */
  nextPrune: { action: 'keep' | 'delete'; reason: string };
  /**
   * Whether `pushcache rollback --to <timestamp>` can bring it back now: how many files that
   * would write (entry files always, others that differ from what is live), or why not.
   */
  rollback?: { possible: true; restores: number } | { possible: false; reason: string };
}

/** What data/<app>/fed-mods.json holds now, and which build that is. */
export type LiveState =
  | { state: 'build'; timestamp: number }
  | { state: 'none' }
  /** A fed-mods.json no retained build recorded (valpop's builds record no sha256). */
  | { state: 'unknown' };

export interface RunInFlight {
  workflowId: string;
  mode: LockMode;
  /** Holding the app lock, or waiting for it. */
  holding: boolean;
}

export interface AppStatus {
  app: string;
  builds: BuildStatus[];
  live: LiveState;
  /** What a prune with the given rule would delete now (orphans included, as the scheduled prune does). */
  nextPrune: { builds: number; objects: number; orphans: number; copies: number; recentlyWritten: number };
  inFlight: RunInFlight[];
  /** The latest audit that covered the app (issue 17). */
  lastAudit?: LastAudit;
}

/** An app whose manifests could not be read: its status cannot be told, as it cannot be pruned. */
export interface BrokenApp {
  app: string;
  error: string;
}

export interface StatusDeps {
  storage: Storage;
  client: Client;
  bucket: string;
  /** Unix seconds; defaults to now. */
  now?: () => number;
}

/** How long to wait for the app lock's answer before saying the runs are unknown. */
const LOCK_QUERY_TIMEOUT_MS = 10_000;

/** Reads the bucket (never writes) and asks Temporal which runs hold the apps' locks. */
export async function status(target: PruneTarget, rule: RetentionRule, deps: StatusDeps): Promise<Array<AppStatus | BrokenApp>> {
  const apps = 'app' in target ? [target.app] : await statusAppNames(deps.storage);
  const audits = new LastAudits(deps.client, deps.bucket);
  const out: Array<AppStatus | BrokenApp> = [];
  for (const app of apps) {
    try {
      out.push(await appStatusWithAudit(app, rule, deps, audits));
    } catch (err) {
      if (!('all' in target)) throw err;
      out.push({ app, error: oneLine(err) });
    }
  }
  return out;
}

/** The apps `status --all` shows: those with a manifests/<app>/ or data/<app>/ prefix. */
export async function statusAppNames(storage: Storage): Promise<string[]> {
  return (await listAppNames(storage)).apps;
}

/**
 * One app's status and the outcome of its last audit: what `status` prints and the status page
 * shows. Several apps read together share `audits`, which looks the bucket's audits up once.
 */
export async function appStatusWithAudit(app: string, rule: RetentionRule, deps: StatusDeps, audits = new LastAudits(deps.client, deps.bucket)): Promise<AppStatus> {
  const [s, audit] = await Promise.all([appStatus(app, rule, deps), audits.of(app)]);
  return { ...s, lastAudit: audit };
}

/** The status of one app as the bucket and the app lock tell it, without the audit. */
export async function appStatus(app: string, rule: RetentionRule, deps: StatusDeps): Promise<AppStatus> {
  const { storage } = deps;
  const now = deps.now?.() ?? Math.floor(Date.now() / 1000);
  // What the prune reads, read the same way, so that `summarize` decides what the prune would.
  const [manifests, objects, copies, staging, planRecords, goLive, live, entryPoint, inFlightRuns] = await Promise.all([
    readManifests(storage, app),
    listDataObjects(storage, app),
    listBuildCopies(storage, app),
    listStagingRecords(storage, app),
    listPrunePlans(storage, app),
    listGoLive(storage, app),
    readLiveReferences(storage, app),
    storage.get(dataKey(app, ENTRY_POINT)),
    runsInFlight(deps.client, deps.bucket, app),
  ]);
  const inFlight = await readInFlight(storage, staging.filter((o) => !isStaleRecord(o, now, rule)));
  return summarize({
    app,
    now,
    rule,
    manifests,
    objects,
    copies,
    inFlight,
    records: { staging, planRecords, goLive },
    live,
    liveSha256: entryPoint && createHash('sha256').update(entryPoint).digest('hex'),
    inFlightRuns,
  });
}

export interface StatusInput {
  app: string;
  now: number;
  rule: RetentionRule;
  manifests: readonly StoredManifest[];
  objects: readonly DataObject[];
  copies: readonly StoredObject[];
  /** What the staging records that are not stale name. */
  inFlight: { paths: Iterable<string>; builds: Iterable<string> };
  /** pushcache's own records, listed: the prune deletes those left by runs long gone. */
  records: { staging: readonly StoredObject[]; planRecords: readonly StoredObject[]; goLive: readonly StoredObject[] };
  /** What the live entry files load, which the prune keeps. */
  live: { keys: ReadonlySet<string>; problems: readonly string[] };
  /** sha256 of data/<app>/fed-mods.json, undefined when there is none. */
  liveSha256: string | undefined;
  inFlightRuns: RunInFlight[];
}

/** The status of one app from what was read: pure, so it is unit-tested without a bucket. */
export function summarize(input: StatusInput): AppStatus {
  // The scheduled prune's decision (orphans included), as `prune --dry-run` would make it.
  const step = planPrune({
    app: input.app,
    rule: input.rule,
    now: input.now,
    collectOrphans: true,
    listLimit: Infinity,
    dryRun: true,
    manifests: input.manifests,
    inFlight: input.inFlight,
    ...input.records,
    ownPlanKey: '',
    listing: { objects: input.objects, copies: input.copies },
    live: input.live,
  });
  // Given the listing and the live references, the plan asks for nothing more.
  if (!('plan' in step)) throw new Error(`the prune plan of ${input.app} asked for ${step.need}, which status had read`);
  const { summary: plan, copiesDeleted } = step.plan;
  const byKey = new Map(input.manifests.map((m) => [m.key, m]));
  // Builds with the same fed-mods.json (a rollback and the build it restored) all match; the
  // newest of them is the one that wrote it last.
  const live = plan.manifests.find((d) => input.liveSha256 !== undefined && byKey.get(d.key)!.manifest.sha256?.[ENTRY_POINT] === input.liveSha256);
  const objects = new Map(input.objects.map((o) => [o.relpath, { size: o.size ?? -1, etag: o.etag }]));
  const copiesPrefix = buildCopiesPrefix(input.app);
  const copies = new Map(input.copies.map((c) => [c.key.slice(copiesPrefix.length), { size: c.size ?? -1, etag: c.etag }]));
  const builds = plan.manifests.map((d): BuildStatus => {
    const m = byKey.get(d.key)!.manifest;
    const restore = planRestore(input.app, byKey.get(d.key)!, input.manifests, objects, copies);
    return {
      manifestKey: d.key,
      timestamp: d.timestamp,
      ageSeconds: d.ageSeconds,
      image: m.image,
      files: m.files.length,
      bytes: m.sizes ? m.files.reduce((sum, p) => sum + (m.sizes![p] ?? 0), 0) : null,
      live: d === live,
      ...(m.rollbackOf !== undefined ? { rollbackOf: m.rollbackOf } : {}),
      ...(m.publishId !== undefined ? { runId: m.publishId } : {}),
      nextPrune: { action: d.action, reason: d.reason },
      rollback: 'refused' in restore ? { possible: false, reason: restore.refused } : { possible: true, restores: restore.restore.length },
    };
  });
  return {
    app: input.app,
    builds,
    live: input.liveSha256 === undefined ? { state: 'none' } : live ? { state: 'build', timestamp: live.timestamp } : { state: 'unknown' },
    nextPrune: {
      builds: plan.manifestsDeleted,
      objects: plan.objectsDeleted,
      orphans: plan.orphansDeleted,
      copies: copiesDeleted,
      recentlyWritten: plan.recentlyWritten,
    },
    inFlight: input.inFlightRuns,
  };
}

/** The publishes, prunes and rollbacks holding or waiting for the app's lock: every one of them takes it. */
async function runsInFlight(client: Client, bucket: string, app: string): Promise<RunInFlight[]> {
  const handle = client.workflow.getHandle(appLockWorkflowId(bucket, app));
  try {
    // An idle lock workflow ends after a few minutes; a closed one holds nothing.
    if ((await handle.describe()).status.name !== 'RUNNING') return [];
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return [];
    throw err;
  }
  const state = await client.withDeadline(Date.now() + LOCK_QUERY_TIMEOUT_MS, () => handle.query(lockStateQuery));
  return [
    ...state.holders.map((r) => ({ workflowId: r.owner.workflowId, mode: r.mode, holding: true })),
    ...state.waiting.map((r) => ({ workflowId: r.owner.workflowId, mode: r.mode, holding: false })),
  ];
}

/** Readable text: one block per app. */
export function describeStatus(statuses: ReadonlyArray<AppStatus | BrokenApp>): string[] {
  const lines: string[] = [];
  for (const s of statuses) {
    if ('error' in s) {
      lines.push(`${s.app}: cannot be read: ${s.error}`);
      continue;
    }
    const live = s.live.state === 'build' ? `build ${s.live.timestamp} is live` : s.live.state === 'none' ? `no ${ENTRY_POINT}, nothing is live` : `the live ${ENTRY_POINT} matches no retained build`;
    lines.push(`${s.app}: ${s.builds.length} builds retained, ${live}`);
    for (const b of s.builds) {
      lines.push(
        `  ${b.live ? '*' : ' '} ${b.timestamp}  ${formatAge(b.ageSeconds).padStart(7)}  ${String(b.files).padStart(6)} files  ` +
          `${(b.bytes === null ? '?' : formatBytes(b.bytes)).padStart(10)}  ${b.image || '(no image)'}` +
          (b.rollbackOf !== undefined ? `  rollback to ${b.rollbackOf}` : '') +
          (b.nextPrune.action === 'delete' ? '  [next prune deletes it]' : ''),
      );
    }
    const rollbacks = s.builds.filter((b) => !b.live && b.rollback);
    if (rollbacks.length > 0) {
      const each = rollbacks.map((b) => (b.rollback!.possible ? `${b.timestamp} restores ${b.rollback!.restores} files` : `${b.timestamp} cannot be`));
      lines.push(`  rollback: ${each.join(', ')}`);
    }
    const p = s.nextPrune;
    lines.push(
      p.builds + p.objects + p.orphans + p.copies === 0
        ? '  next prune: deletes nothing'
        : `  next prune: deletes ${p.builds} builds, ${p.objects} objects of those builds, ${p.orphans} unreferenced objects and ${p.copies} entry-file copies` +
            (p.recentlyWritten ? ` (keeps ${p.recentlyWritten} written within the grace period)` : ''),
    );
    lines.push(
      s.inFlight.length === 0
        ? '  in flight: nothing'
        : `  in flight: ${s.inFlight.map((r) => `${r.workflowId} (${r.holding ? 'holds' : 'waits for'} the app lock, ${r.mode})`).join(', ')}`,
    );
    lines.push(describeLastAudit(s.lastAudit));
  }
  return lines;
}

export function formatAge(seconds: number): string {
  if (seconds < 0) return 'future';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

import { copyBuildId, dataKey, ENTRY_POINT } from '../contract/keys';

/**
 * The contract's retention rule, as a pure function of what the bucket holds: no I/O, so every
 * boundary is unit-tested and the activity that runs it only gathers inputs and deletes.
 */

export interface RetentionRule {
  /** The newest this-many builds are kept whatever their age (valpop's -n). */
  minAssetRecords: number;
  /** A build older than this many seconds may be deleted (valpop's -t). */
  timeoutSeconds: number;
  /**
   * Objects written more recently than this are never deleted, and unreferenced objects are
   * garbage only once older than this. Never less than `timeoutSeconds`.
   */
  graceSeconds: number;
}

export interface ManifestEntry {
  key: string;
  /** The key's last segment: the build's start time in unix seconds. */
  timestamp: number;
  files: readonly string[];
  /** The run that wrote the build, which names its entry-file copies; absent for valpop's builds. */
  publishId?: string;
}

export interface DataObject {
  /** Path below `data/<app>/`. */
  relpath: string;
  lastModified: Date;
  /** As listed; read by status to tell what a rollback would restore, not by retention. */
  size?: number;
  etag?: string;
}

export interface RetentionInput {
  app: string;
  manifests: readonly ManifestEntry[];
  /** Paths that publishes still in progress rely on. */
  inFlight: Iterable<string>;
  /** Every object under `data/<app>/`. */
  objects: readonly DataObject[];
  /** Unix seconds. */
  now: number;
  /** Every object under `pushcache/builds/<app>/`: the entry-file copies of builds. */
  copies?: readonly StoredObject[];
  /** Run IDs of publishes in progress; their copies exist before their manifest does. */
  inFlightBuilds?: Iterable<string>;
}

export interface StoredObject {
  key: string;
  lastModified: Date;
  /** As listed; read by status to tell what a rollback would restore, not by retention. */
  size?: number;
  etag?: string;
}

export interface ManifestDecision {
  key: string;
  timestamp: number;
  ageSeconds: number;
  action: 'keep' | 'delete';
  reason: string;
}

export type DeleteReason = 'aged-out' | 'orphan';

export interface ObjectDeletion {
  key: string;
  reason: DeleteReason;
}

export interface RetentionPlan {
  /** Newest first. */
  manifests: ManifestDecision[];
  /** Data objects to delete; manifests to delete are in `manifests`. */
  objects: ObjectDeletion[];
  /** Data objects that stay. */
  objectsKept: number;
  /** Objects a deleted build named that were left because something wrote them recently. */
  recentlyWritten: number;
  /** Entry-file copies to delete: those of deleted builds ('aged-out') and those of no build ('orphan'). */
  copies: ObjectDeletion[];
}

export function effectiveGrace(rule: Pick<RetentionRule, 'timeoutSeconds' | 'graceSeconds'>): number {
  return Math.max(rule.timeoutSeconds, rule.graceSeconds);
}

/**
 * The retention rule's decisions once the manifests are read: which builds go, and a verdict per
 * object or entry-file copy, so a caller can take the objects one listing page at a time
 * (the prune activity) or as one array (`planRetention`, for status and dry runs).
 */
export interface RetentionDecider {
  /** Newest first. */
  manifests: ManifestDecision[];
  /** Distinct paths any manifest names. */
  namedCount: number;
  /** A deletion, or why the object stays: a kept build or a publish in progress names it, or it was written within the grace period. */
  object(o: Pick<DataObject, 'relpath' | 'lastModified'>): ObjectDeletion | 'kept' | 'recent' | 'recently-written';
  /** A deletion, or undefined when the copy stays. */
  copy(c: StoredObject): ObjectDeletion | undefined;
}

/**
 * The rule's verdict on each build, newest first, from the manifests' keys alone: which builds
 * go depends on their order and age, never on what they name.
 */
export function manifestDecisions(manifests: ReadonlyArray<Pick<ManifestEntry, 'key' | 'timestamp'>>, now: number, rule: Pick<RetentionRule, 'minAssetRecords' | 'timeoutSeconds'>): ManifestDecision[] {
  const newestFirst = [...manifests].sort((a, b) => b.timestamp - a.timestamp || (a.key < b.key ? 1 : -1));
  return newestFirst.map((m, index): ManifestDecision => {
    const ageSeconds = now - m.timestamp;
    const base = { key: m.key, timestamp: m.timestamp, ageSeconds };
    if (index < rule.minAssetRecords) {
      return { ...base, action: 'keep', reason: `one of the newest ${rule.minAssetRecords} builds` };
    }
    if (ageSeconds <= rule.timeoutSeconds) {
      return { ...base, action: 'keep', reason: `${ageSeconds}s old, not older than the ${rule.timeoutSeconds}s timeout` };
    }
    return {
      ...base,
      action: 'delete',
      reason: `build ${index + 1} by age and ${ageSeconds}s old, older than the ${rule.timeoutSeconds}s timeout`,
    };
  });
}

export function retentionDecider(input: Omit<RetentionInput, 'objects' | 'copies'>, rule: RetentionRule): RetentionDecider {
  const grace = effectiveGrace(rule);
  const newestFirst = [...input.manifests].sort((a, b) => b.timestamp - a.timestamp || (a.key < b.key ? 1 : -1));
  const manifests = manifestDecisions(newestFirst, input.now, rule);

  const kept = new Set<string>(input.inFlight);
  const named = new Set<string>();
  newestFirst.forEach((m, i) => {
    for (const f of m.files) {
      named.add(f);
      if (manifests[i].action === 'keep') kept.add(f);
    }
  });
  // The entry point is the app's live index; a newer build always overwrites it in place.
  kept.add(ENTRY_POINT);
  const copy = copyDecider(input, newestFirst, manifests, grace);

  return {
    manifests,
    namedCount: named.size,
    copy,
    object(o) {
      if (kept.has(o.relpath)) return 'kept';
      const idleSeconds = input.now - Math.floor(o.lastModified.getTime() / 1000);
      // A writer that takes no lock (valpop, or a publish of an older pushcache) may be about to
      // name this object in a manifest; only objects nobody touched for the grace period go.
      if (idleSeconds <= grace) return named.has(o.relpath) ? 'recently-written' : 'recent';
      return { key: dataKey(input.app, o.relpath), reason: named.has(o.relpath) ? 'aged-out' : 'orphan' };
    },
  };
}

export function planRetention(input: RetentionInput, rule: RetentionRule): RetentionPlan {
  const decide = retentionDecider(input, rule);
  const objects: ObjectDeletion[] = [];
  let recentlyWritten = 0;
  for (const o of input.objects) {
    const verdict = decide.object(o);
    if (verdict === 'recently-written') recentlyWritten++;
    else if (typeof verdict === 'object') objects.push(verdict);
  }
  const copies: ObjectDeletion[] = [];
  for (const c of input.copies ?? []) {
    const d = decide.copy(c);
    if (d) copies.push(d);
  }
  return { manifests: decide.manifests, objects, objectsKept: input.objects.length - objects.length, recentlyWritten, copies };
}

/**
 * A build's entry-file copies live and die with it: kept with a kept build or a publish in
 * progress, deleted with a deleted build. Copies of no build (a publish that failed before its
 * manifest, a rollback that stopped half-way) are orphans, collected after the grace period.
 */
function copyDecider(
  input: Pick<RetentionInput, 'app' | 'now' | 'inFlightBuilds'>,
  newestFirst: readonly ManifestEntry[],
  decisions: readonly ManifestDecision[],
  grace: number,
): (c: StoredObject) => ObjectDeletion | undefined {
  const kept = new Set(input.inFlightBuilds ?? []);
  const deleted = new Set<string>();
  newestFirst.forEach((m, i) => {
    if (m.publishId !== undefined) (decisions[i].action === 'keep' ? kept : deleted).add(m.publishId);
  });
  return (c) => {
    const build = copyBuildId(input.app, c.key);
    if (build !== undefined && kept.has(build)) return undefined;
    if (build !== undefined && deleted.has(build)) return { key: c.key, reason: 'aged-out' };
    if (input.now - Math.floor(c.lastModified.getTime() / 1000) > grace) return { key: c.key, reason: 'orphan' };
    return undefined;
  };
}

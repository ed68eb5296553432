/** Inputs and results of prune activities and workflows. They travel through history: counts, not lists. */

import type { Duration } from '@temporalio/common';
import type { DeleteReason, ManifestDecision, RetentionRule } from './retention';

export interface PlanPruneInput {
  bucket: string;
  app: string;
  rule: RetentionRule;
  /** Unix seconds, from the workflow clock so a retried plan ages builds the same way. */
  now: number;
  /** Names the plan record; the prune's run ID. */
  planId: string;
  /** A dry run writes no plan record and returns the keys it would delete (up to `listLimit`). */
  dryRun: boolean;
  listLimit: number;
  /** Delete objects that no build names; the prune after a publish leaves them to the scheduled one. */
  collectOrphans: boolean;
}

export interface PruneCounts {
  manifestsKept: number;
  manifestsDeleted: number;
  /** Data objects of aged-out builds. */
  objectsDeleted: number;
  /** Data objects no build and no publish in progress names. */
  orphansDeleted: number;
  objectsKept: number;
  /** pushcache's own objects: entry-file copies of deleted (or no) builds, staging records of publishes that never finished, stale plans. */
  recordsDeleted: number;
  /**
   * Objects the retention rule would delete that the live fed-mods.json or index.html loads:
   * kept (and counted in objectsKept), because deleting them breaks the app. Absent in results
   * of older versions.
   */
  conflicts?: number;
}

/** What a prune kept against the manifests' word, and what it could not read in the live entry files. */
export interface PruneConflicts {
  /** Up to CONFLICT_LIST_LIMIT of the kept keys. */
  conflictKeys?: string[];
  /** Up to CONFLICT_LIST_LIMIT problems found reading the live fed-mods.json and index.html. */
  referenceProblems?: string[];
}

export interface PrunePlanSummary extends PruneCounts, PruneConflicts {
  /** Every key the plan deletes, manifests included. */
  deleteCount: number;
  /** Where the keys are listed; absent when there is nothing to delete or on a dry run. */
  planKey?: string;
  /** Newest first; cut at `listLimit`. */
  manifests: ManifestDecision[];
  /** Only on dry runs; cut at `listLimit`. */
  objects?: Array<{ key: string; reason: DeleteReason | 'stale-record' }>;
  recentlyWritten: number;
}

export interface DeletePlannedInput {
  bucket: string;
  planKey: string;
}

export interface ListAppsInput {
  bucket: string;
}

export interface ListAppsResult {
  apps: string[];
  /** Prefixes in the bucket that are not valid app names; never pruned. */
  ignored: string[];
}

export interface PruneOptions {
  bucket: string;
  timeout: number;
  minAssetRecords: number;
  orphanGrace: number;
  dryRun: boolean;
  /** Fail instead of deleting more than this many objects in one app; undefined = no limit. */
  maxDelete?: number;
  /** Default true; false skips listing the app's objects when no build is deleted. */
  collectOrphans?: boolean;
  /** How long to wait for publishes of the app to finish before reporting it busy. */
  lockWaitSeconds: number;
  /** A plan or delete silent this long is taken for dead and retried (resumed, for a delete) elsewhere. */
  heartbeatTimeout: Duration;
  maxAttempts: number;
  /**
   * Where the prune's activities (list, plan, delete, discard) run; default the workflow's own
   * queue (the shared worker). A Job passes its per-publish queue so its prune uses the store
   * the Job was given.
   */
  activityTaskQueue?: string;
  /** With `activityTaskQueue`: how long an activity may wait for that queue's worker before the prune fails (a Job that is gone). */
  activityScheduleToStartTimeout?: Duration;
}

export type PruneInput = PruneOptions & ({ app: string; all?: undefined } | { all: true; app?: undefined; appParallelism: number });

export type AppPruneStatus = 'pruned' | 'dry-run' | 'busy';

export interface AppPruneResult extends PruneCounts, PruneConflicts {
  app: string;
  status: AppPruneStatus;
  deleteCount: number;
  manifests: ManifestDecision[];
  objects?: PrunePlanSummary['objects'];
  recentlyWritten: number;
}

export interface PruneAllResult {
  apps: number;
  pruned: number;
  busy: string[];
  failed: Array<{ app: string; reason: string }>;
  ignored: string[];
  totals: PruneCounts;
}

export type PruneResult = AppPruneResult | PruneAllResult;

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
}

export interface PrunePlanSummary extends PruneCounts {
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
  /** A delete silent this long is taken for dead and resumed elsewhere. */
  heartbeatTimeout: Duration;
  maxAttempts: number;
}

export type PruneInput = PruneOptions & ({ app: string; all?: undefined } | { all: true; app?: undefined; appParallelism: number });

export type AppPruneStatus = 'pruned' | 'dry-run' | 'busy';

export interface AppPruneResult extends PruneCounts {
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

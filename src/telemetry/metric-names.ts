/**
 * pushcache's own metrics, exported next to the Temporal SDK's on the worker's Prometheus
 * endpoint. Counters get the exporter's `_total` suffix. Shared by the workflow interceptor that
 * records them and the runtime that configures their histogram buckets, so this file imports
 * nothing (it is bundled into workflow code).
 */
export const METRICS = {
  publishes: { name: 'pushcache_publishes', description: 'Publishes that ended, by app and outcome (completed, failed, cancelled)' },
  publishedFiles: { name: 'pushcache_published_files', description: 'Files of completed publishes, unchanged files included' },
  publishedBytes: { name: 'pushcache_published_bytes', description: 'Bytes of completed publishes, unchanged files included' },
  skippedFiles: { name: 'pushcache_skipped_files', description: 'Files of completed publishes that the bucket already held with the same bytes and headers' },
  copiedFiles: { name: 'pushcache_copied_files', description: 'Files of completed publishes copied server-side from another key holding the same bytes, instead of uploaded' },
  publishDuration: { name: 'pushcache_publish_duration', unit: 'seconds', description: 'Publish runs from start to end (lock wait, upload, manifest and the prune after it), by outcome' },
  prunes: { name: 'pushcache_prunes', description: 'Prunes of one app that ended, by app and status (pruned, busy, dry-run, failed, cancelled)' },
  prunedManifests: { name: 'pushcache_pruned_manifests', description: 'Manifests deleted by prunes' },
  prunedObjects: { name: 'pushcache_pruned_objects', description: 'Data objects deleted by prunes, by reason (aged-out: named only by deleted builds; orphan: named by no build)' },
  pruneDuration: { name: 'pushcache_prune_duration', unit: 'seconds', description: 'Prunes of one app from start to end (lock wait included), by status' },
  audits: { name: 'pushcache_audits', description: 'Audits of one app that ended, by app and status (ok, problems, failed)' },
  auditMissing: { name: 'pushcache_audit_missing_objects', description: 'Objects a retained build names that an audit found missing, by app' },
  auditMismatched: { name: 'pushcache_audit_mismatched_objects', description: 'Objects an audit found with another size or ETag than their build recorded, by app' },
  auditUnreadable: { name: 'pushcache_audit_unreadable_manifests', description: 'Manifests an audit could not read, by app' },
  auditLiveMismatches: { name: 'pushcache_audit_live_mismatches', description: "Audits that found an app's live fed-mods.json not its newest build's, by app" },
} as const;

/**
 * Bucket boundaries in seconds. A publish of a large build takes minutes; its prune waits up to
 * --lock-wait (60 s after a publish, 600 s scheduled) before it gives up.
 */
export const DURATION_BUCKETS: Record<string, number[]> = {
  [METRICS.publishDuration.name]: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600],
  [METRICS.pruneDuration.name]: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200],
};

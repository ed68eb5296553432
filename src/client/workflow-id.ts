/**
 * A publish's workflow ID is derived from what it publishes and where, so a Job that is killed
 * and run again attaches to the run already in progress instead of starting over. The bucket is
 * part of it: two Jobs publishing one image to two buckets through one namespace (a staging and
 * a production bucket) would otherwise join one run, and the second bucket would get nothing.
 */
export function publishWorkflowId(bucket: string, app: string, image: string, listDigest?: string): string {
  const build = image || (listDigest && `tree-${listDigest.slice(0, 16)}`);
  if (!build) throw new Error('a publish without an image is named by its tree digest, and none was given');
  return `${publishWorkflowIdPrefix(bucket, app)}${build}`;
}

/** What the ID of every publish of `app` to `bucket` starts with (and only those: neither names may hold a `/`). */
export const publishWorkflowIdPrefix = (bucket: string, app: string): string => `publish/${bucket}/${app}/`;

/** What the ID of every prune of `app` in `bucket` started by `pushcache prune --prefix` starts with. */
export const pruneWorkflowIdPrefix = (bucket: string, app: string, dryRun = false): string => `${pruneKind(dryRun)}/${bucket}/${app}/`;

/**
 * What the ID of every prune of all apps in `bucket` starts with: the Schedule adds `-<time>`,
 * `pushcache prune --all` adds `/<time>`, and their children add `/<app>`.
 */
export const pruneAllWorkflowIdPrefix = (bucket: string, dryRun = false): string => `${pruneKind(dryRun)}-all/${bucket}`;

const pruneKind = (dryRun: boolean) => (dryRun ? 'prune-dry-run' : 'prune');

/** Link to a run in the Temporal Web UI. */
export function runUrl(uiUrl: string, namespace: string, workflowId: string, runId: string): string {
  const base = uiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

/**
 * A publish's workflow ID is derived from what it publishes, so a Job that is killed and run
 * again attaches to the run already in progress instead of starting over.
 */
export function publishWorkflowId(app: string, image: string, listDigest: string): string {
  return image ? `publish/${app}/${image}` : `publish/${app}/tree-${listDigest.slice(0, 16)}`;
}

/** Link to a run in the Temporal Web UI. */
export function runUrl(uiUrl: string, namespace: string, workflowId: string, runId: string): string {
  const base = uiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

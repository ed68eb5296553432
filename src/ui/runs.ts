import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { publishWorkflowIdPrefix, pruneAllWorkflowIdPrefix, pruneWorkflowIdPrefix } from '../client/workflow-id';

/**
 * What Temporal's visibility says about an app's runs: the last publish and prune, and which run
 * wrote each build. Workflow IDs carry the bucket and the app (`publish/<bucket>/<app>/...`,
 * `prune/<bucket>/<app>/...`, `<publish>/prune`, `prune-all/<bucket>.../<app>`), so prefix
 * queries find them without the PushcacheApp search attribute, which a namespace may lack, and
 * never answer with the runs of an app of the same name in another bucket.
 */

/** One run, as the page shows and links it. */
export interface RunSummary {
  workflowId: string;
  runId: string;
  type: string;
  /** Temporal's status, lower case: running, completed, failed, terminated, timed_out, canceled, ... */
  status: string;
  startTime: string;
  closeTime?: string;
}

export interface AppRuns {
  lastPublish?: RunSummary;
  lastPrune?: RunSummary;
}

/** How many prune-all runs are looked through for one app's child before giving up. */
const PRUNE_ALL_SCAN = 200;

/** App names and bucket names are validated (no quotes), but a query is never built from raw text. */
const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function summary(w: WorkflowExecutionInfo): RunSummary {
  return {
    workflowId: w.workflowId,
    runId: w.runId,
    type: w.type,
    status: w.status.name.toLowerCase(),
    startTime: w.startTime.toISOString(),
    ...(w.closeTime ? { closeTime: w.closeTime.toISOString() } : {}),
  };
}

/** The first run the query lists that `accept` takes, looking at most `limit` runs. */
async function firstRun(client: Client, query: string, accept: (w: WorkflowExecutionInfo) => boolean = () => true, limit = 1): Promise<RunSummary | undefined> {
  let seen = 0;
  // Visibility lists running runs first, then the most recently closed: the first is the last run.
  for await (const w of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    if (accept(w)) return summary(w);
    if (++seen >= limit) break;
  }
  return undefined;
}

/** `<bucket>` (prune --all) or `<bucket>-<scheduled time>` (the Schedule), not another bucket sharing the prefix. */
const ofBucket = (segment: string, bucket: string) => segment === bucket || (segment.startsWith(bucket) && /^-\d{4}-/.test(segment.slice(bucket.length)));

const newer = (a: RunSummary | undefined, b: RunSummary | undefined) => (!a ? b : !b ? a : a.startTime >= b.startTime ? a : b);

export async function appRuns(client: Client, bucket: string, app: string): Promise<AppRuns> {
  const [lastPublish, ownPrune, scheduledPrune] = await Promise.all([
    firstRun(client, `WorkflowType = 'PublishWorkflow' AND WorkflowId STARTS_WITH ${quote(publishWorkflowIdPrefix(bucket, app))}`),
    // `prune/<bucket>/<app>/...` from the CLI, `publish/<bucket>/<app>/.../prune` after a publish; dry runs are not prunes.
    firstRun(
      client,
      `WorkflowType = 'PruneWorkflow' AND (WorkflowId STARTS_WITH ${quote(pruneWorkflowIdPrefix(bucket, app))} OR WorkflowId STARTS_WITH ${quote(publishWorkflowIdPrefix(bucket, app))})`,
    ),
    // The children of `prune --all` and of the Schedule: `prune-all/<bucket>[-<time>|/<stamp>]/<app>`.
    firstRun(
      client,
      `WorkflowType = 'PruneWorkflow' AND WorkflowId STARTS_WITH ${quote(pruneAllWorkflowIdPrefix(bucket))}`,
      (w) => w.workflowId.endsWith(`/${app}`) && /^prune-all\/[^/]+(\/[^/]+)?\/[^/]+$/.test(w.workflowId) && ofBucket(w.workflowId.split('/')[1], bucket),
      PRUNE_ALL_SCAN,
    ),
  ]);
  const lastPrune = newer(ownPrune, scheduledPrune);
  return { ...(lastPublish ? { lastPublish } : {}), ...(lastPrune ? { lastPrune } : {}) };
}

/** The workflow ID of each run that wrote one of these builds (publishes and rollbacks), by run ID. */
export async function workflowIdsOfRuns(client: Client, runIds: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const ids = [...new Set(runIds)];
  for (let i = 0; i < ids.length; i += 50) {
    const chunk = ids.slice(i, i + 50);
    for await (const w of client.workflow.list({ query: `RunId IN (${chunk.map(quote).join(', ')})`, pageSize: 100 })) out[w.runId] = w.workflowId;
  }
  return out;
}

import pMap from 'p-map';
import { LastAudits, type LastAudit } from '../client/last-audit';
import { appStatusWithAudit, statusAppNames, type AppStatus, type BrokenApp, type StatusDeps } from '../client/status';
import { oneLine } from '../errors';
import type { RetentionRule } from '../prune/retention';
import { appRuns, workflowIdsOfRuns, type AppRuns } from './runs';

/**
 * What the status page shows, gathered with `status`'s own functions (so the builds, the live
 * one and the next prune's decisions are the ones `pushcache status` and `prune --dry-run` give)
 * plus what Temporal's visibility says about the app's runs. The JSON API serves these documents
 * as they are: `bucket` and `apps` are what `pushcache status --json` prints.
 */

/** The last audit that covered an app (issue 17), as the page shows it; absent before any audit. */
export interface AuditSummary {
  /** e.g. 'ok', 'problems', 'running'. */
  state: string;
  /** One line a person reads. */
  summary: string;
  run?: { workflowId: string; runId: string };
}

export interface AppActivity extends AppRuns {
  /** Set when Temporal's visibility could not be asked: the last runs are unknown, not absent. */
  runsError?: string;
  audit?: AuditSummary;
}

export interface OverviewData {
  bucket: string;
  /** Unix seconds: when the bucket was read (listings are cached briefly). */
  generatedAt: number;
  apps: Array<AppStatus | BrokenApp>;
  activity: Record<string, AppActivity>;
}

export interface AppData {
  bucket: string;
  generatedAt: number;
  /** One element, as `pushcache status --prefix APP --json` prints. */
  apps: [AppStatus];
  activity: Record<string, AppActivity>;
  /** The workflow ID of the run that wrote each build, by the build's run ID, for links. */
  buildRuns: Record<string, string>;
}

export interface StatusDataDeps extends StatusDeps {
  rule: RetentionRule;
}

/** Apps read at once for the overview: a bucket with dozens of apps is read in a few rounds. */
const APP_PARALLELISM = 4;

export const nowSeconds = (deps: Pick<StatusDeps, 'now'>) => deps.now?.() ?? Math.floor(Date.now() / 1000);

/** The apps the page knows: the same list as `status --all`. */
export function listApps(deps: StatusDataDeps): Promise<string[]> {
  return statusAppNames(deps.storage);
}

export async function overviewData(deps: StatusDataDeps): Promise<OverviewData> {
  const names = await listApps(deps);
  const audits = new LastAudits(deps.client, deps.bucket);
  const rows = await pMap(
    names,
    async (app): Promise<[AppStatus | BrokenApp, AppActivity]> => {
      const [s, activity] = await Promise.all([
        // As `status --all`: an app that cannot be read is shown as such, the others still are.
        appStatusWithAudit(app, deps.rule, deps, audits).catch((err: unknown): BrokenApp => ({ app, error: oneLine(err) })),
        activityOf(app, deps),
      ]);
      return [s, withAudit(activity, 'error' in s ? undefined : s.lastAudit)];
    },
    { concurrency: APP_PARALLELISM },
  );
  return { bucket: deps.bucket, generatedAt: nowSeconds(deps), apps: rows.map((r) => r[0]), activity: Object.fromEntries(rows.map((r) => [r[0].app, r[1]])) };
}

export async function appData(app: string, deps: StatusDataDeps): Promise<AppData> {
  const [s, runs] = await Promise.all([appStatusWithAudit(app, deps.rule, deps), activityOf(app, deps)]);
  const activity = withAudit(runs, s.lastAudit);
  const runIds = s.builds.flatMap((b) => (b.runId ? [b.runId] : []));
  // Links are a convenience: a visibility store that cannot answer leaves the builds unlinked.
  const buildRuns = await workflowIdsOfRuns(deps.client, runIds).catch(() => ({}));
  return { bucket: deps.bucket, generatedAt: nowSeconds(deps), apps: [s], activity: { [app]: activity }, buildRuns };
}

/** The app's runs. Visibility failing must not hide the bucket's state. */
async function activityOf(app: string, deps: StatusDataDeps): Promise<AppActivity> {
  return appRuns(deps.client, deps.bucket, app).catch((err: unknown): AppActivity => ({ runsError: oneLine(err) }));
}

function withAudit(activity: AppActivity, audit: LastAudit | undefined): AppActivity {
  return audit ? { ...activity, audit: auditSummary(audit) } : activity;
}

/** The status line's facts about the last audit, as one badge and one short phrase. */
export function auditSummary(a: LastAudit): AuditSummary {
  const found = a.status === 'problems' ? `${a.missing ?? 0} missing, ${a.mismatched ?? 0} mismatched, ${a.unreadable ?? 0} unreadable manifests` + (a.keys?.length ? `: ${a.keys.join(', ')}` : '') + (a.live ? `; ${a.live}` : '') : undefined;
  const summary = found ?? (a.status === 'ok' ? `clean at ${a.at}` : `${a.reason ?? 'outcome unknown'} (${a.at})`);
  return { state: a.status, summary, run: { workflowId: a.workflowId, runId: a.runId } };
}

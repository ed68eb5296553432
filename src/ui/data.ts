import pMap from 'p-map';
import { appStatus, statusAppNames, type AppStatus, type BrokenApp, type StatusDeps } from '../client/status';
import { oneLine } from '../errors';
import type { RetentionRule } from '../prune/retention';
import { appRuns, workflowIdsOfRuns, type AppRuns } from './runs';

/**
 * What the status page shows, gathered with `status`'s own functions (so the builds, the live
 * one and the next prune's decisions are the ones `pushcache status` and `prune --dry-run` give)
 * plus what Temporal's visibility says about the app's runs. The JSON API serves these documents
 * as they are: `bucket` and `apps` are what `pushcache status --json` prints.
 */

/**
 * AUDIT SLOT (issue 17). The audit workflow's last verdict for an app, when a source of it is
 * wired in (`StatusSource.audit`); without one, nothing about audits is gathered or shown.
 */
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
  /** AUDIT SLOT (issue 17): the last audit of an app, or undefined. Leave unset until audits exist. */
  audit?: (app: string) => Promise<AuditSummary | undefined>;
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
  const rows = await pMap(
    names,
    async (app): Promise<[AppStatus | BrokenApp, AppActivity]> => {
      const [s, activity] = await Promise.all([
        // As `status --all`: an app that cannot be read is shown as such, the others still are.
        appStatus(app, deps.rule, deps).catch((err: unknown): BrokenApp => ({ app, error: oneLine(err) })),
        activityOf(app, deps),
      ]);
      return [s, activity];
    },
    { concurrency: APP_PARALLELISM },
  );
  return { bucket: deps.bucket, generatedAt: nowSeconds(deps), apps: rows.map((r) => r[0]), activity: Object.fromEntries(rows.map((r) => [r[0].app, r[1]])) };
}

export async function appData(app: string, deps: StatusDataDeps): Promise<AppData> {
  const [s, activity] = await Promise.all([appStatus(app, deps.rule, deps), activityOf(app, deps)]);
  const runIds = s.builds.flatMap((b) => (b.runId ? [b.runId] : []));
  // Links are a convenience: a visibility store that cannot answer leaves the builds unlinked.
  const buildRuns = await workflowIdsOfRuns(deps.client, runIds).catch(() => ({}));
  return { bucket: deps.bucket, generatedAt: nowSeconds(deps), apps: [s], activity: { [app]: activity }, buildRuns };
}

/** The app's runs and, when wired in, its audit. Visibility failing must not hide the bucket's state. */
async function activityOf(app: string, deps: StatusDataDeps): Promise<AppActivity> {
  const [runs, audit] = await Promise.all([
    appRuns(deps.client, deps.bucket, app).catch((err: unknown): AppActivity => ({ runsError: oneLine(err) })),
    deps.audit ? deps.audit(app).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  return { ...runs, ...(audit ? { audit } : {}) };
}

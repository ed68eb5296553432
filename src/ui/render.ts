import type { AppStatus, BrokenApp, BuildStatus, RunInFlight } from '../client/status';
import { formatAge } from '../client/status';
import { formatBytes } from '../client/populate';
import { runUrl } from '../client/workflow-id';
import { ENTRY_POINT } from '../contract/keys';
import { bytesChart } from './chart';
import { Html, html, page, safeHref } from './html';
import type { AppActivity, AppData, AuditSummary, OverviewData } from './data';
import type { RunSummary } from './runs';

/** Pure functions from the gathered data to HTML: unit-tested with hostile names, no server needed. */

export interface RenderContext {
  /** Base URL of the Temporal Web UI; without it runs are named, not linked. */
  temporalUiUrl?: string;
  namespace: string;
}

/** The page's own URLs; app names are validated, and encoded all the same. */
export const appPath = (app: string) => `/apps/${encodeURIComponent(app)}`;
export const appApiPath = (app: string) => `/api/v1/apps/${encodeURIComponent(app)}`;
export const OVERVIEW_API_PATH = '/api/v1/apps';

function runHref(ctx: RenderContext, workflowId: string, runId: string): string | undefined {
  return ctx.temporalUiUrl ? safeHref(runUrl(ctx.temporalUiUrl, ctx.namespace, workflowId, runId)) : undefined;
}

/** A run known only by its workflow ID (a lock holder): the UI's list of runs with that ID. */
function workflowHref(ctx: RenderContext, workflowId: string): string | undefined {
  if (!ctx.temporalUiUrl) return undefined;
  const base = ctx.temporalUiUrl.replace(/\/+$/, '');
  return safeHref(`${base}/namespaces/${encodeURIComponent(ctx.namespace)}/workflows?query=${encodeURIComponent(`WorkflowId="${workflowId}"`)}`);
}

const link = (href: string | undefined, text: Html | string, cls = 'run') =>
  href ? html`<a class="${cls}" href="${href}" rel="noreferrer noopener" target="_blank">${text}</a>` : html`<span class="mono">${text}</span>`;

const utc = (seconds: number) => new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const isoUtc = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const bytes = (n: number | null) => (n === null ? '?' : formatBytes(n));

function statusBadge(status: string): Html {
  const cls = status === 'completed' ? 'b-ok' : status === 'running' ? 'b-run' : 'b-bad';
  return html`<span class="badge ${cls}">${status.replace(/_/g, ' ')}</span>`;
}

function runCell(ctx: RenderContext, run: RunSummary | undefined, activity: AppActivity): Html {
  if (activity.runsError !== undefined) return html`<span class="muted" title="${activity.runsError}">unknown (Temporal visibility did not answer)</span>`;
  if (!run) return html`<span class="muted">none found</span>`;
  return html`${statusBadge(run.status)} ${link(runHref(ctx, run.workflowId, run.runId), html`<span class="nowrap">${isoUtc(run.closeTime ?? run.startTime)}</span>`)}`;
}

/** AUDIT SLOT (issue 17): renders nothing until an audit source is wired in. */
function auditCell(ctx: RenderContext, audit: AuditSummary | undefined): Html {
  if (!audit) return html`<span class="muted">–</span>`;
  const cls = audit.state === 'ok' ? 'b-ok' : audit.state === 'running' ? 'b-run' : 'b-bad';
  const badge = html`<span class="badge ${cls}">${audit.state}</span>`;
  return html`${badge} ${audit.run ? link(runHref(ctx, audit.run.workflowId, audit.run.runId), audit.summary) : audit.summary}`;
}

function liveBuild(s: AppStatus): BuildStatus | undefined {
  return s.builds.find((b) => b.live);
}

function liveCell(s: AppStatus): Html {
  const b = liveBuild(s);
  if (b) {
    return html`<span class="badge b-live">live</span> <code class="image">${b.image || '(no image)'}</code><br><span class="muted"><span class="nowrap">${utc(b.timestamp)}</span> · <span class="nowrap">${b.files} files · ${bytes(b.bytes)}</span></span>`;
  }
  return s.live.state === 'none'
    ? html`<span class="muted">nothing live (no ${ENTRY_POINT})</span>`
    : html`<span class="badge b-bad">unknown</span> <span class="muted">the live ${ENTRY_POINT} matches no retained build</span>`;
}

function headerOf(title: Html, bucket: string, generatedAt: number): Html {
  return html`<h1>${title}</h1><span class="meta">bucket <code>${bucket}</code> · read ${utc(generatedAt)}</span>`;
}

function footerOf(api: string): Html {
  return html`pushcache status page (read-only) · the same data as JSON: <a href="${api}">${api}</a>`;
}

export function renderOverview(data: OverviewData, ctx: RenderContext): string {
  const withAudit = data.apps.some((a) => data.activity[a.app]?.audit !== undefined);
  const rows = data.apps.map((a) => {
    const activity: AppActivity = data.activity[a.app] ?? {};
    const name = html`<a class="app" href="${appPath(a.app)}">${a.app}</a>`;
    if ('error' in a) {
      return html`<tr class="app-row" data-app="${a.app}"><td>${name}</td><td colspan="4"><span class="badge b-bad">cannot be read</span> ${(a as BrokenApp).error}</td><td>${runCell(ctx, activity.lastPublish, activity)}</td><td>${runCell(ctx, activity.lastPrune, activity)}</td>${withAudit ? html`<td>${auditCell(ctx, activity.audit)}</td>` : ''}</tr>`;
    }
    const total = a.builds.every((b) => b.bytes === null) ? null : a.builds.reduce((sum, b) => sum + (b.bytes ?? 0), 0);
    const deleting = a.nextPrune.builds;
    return html`<tr class="app-row" data-app="${a.app}"><td>${name}</td><td class="live-cell">${liveCell(a)}</td><td class="num">${a.builds.length}</td><td class="num">${bytes(total)}</td><td>${deleting ? html`<span class="badge b-del">${plural(deleting, 'build')}</span>` : html`<span class="muted">nothing</span>`}</td><td>${runCell(ctx, activity.lastPublish, activity)}</td><td>${runCell(ctx, activity.lastPrune, activity)}</td>${withAudit ? html`<td>${auditCell(ctx, activity.audit)}</td>` : ''}</tr>`;
  });
  const table =
    data.apps.length === 0
      ? html`<p class="box muted">No apps in this bucket yet.</p>`
      : html`<table id="apps"><thead><tr><th>App</th><th>Live build</th><th class="num">Retained</th><th class="num">Total bytes</th><th>Next prune deletes</th><th>Last publish</th><th>Last prune</th>${withAudit ? html`<th>Last audit</th>` : ''}</tr></thead><tbody>${rows}</tbody></table>`;
  return page(
    `pushcache · ${data.bucket}`,
    headerOf(html`pushcache status`, data.bucket, data.generatedAt),
    html`<h2>${plural(data.apps.length, 'app')}</h2>${table}`,
    footerOf(OVERVIEW_API_PATH),
  );
}

function holderRow(ctx: RenderContext, r: RunInFlight): Html {
  return html`<li>${link(workflowHref(ctx, r.workflowId), r.workflowId)} <span class="badge ${r.holding ? 'b-run' : 'b-keep'}">${r.holding ? 'holds' : 'waits for'} the lock, ${r.mode}</span></li>`;
}

export function renderAppPage(data: AppData, ctx: RenderContext): string {
  const s = data.apps[0];
  const activity: AppActivity = data.activity[s.app] ?? {};
  const p = s.nextPrune;
  const deletes = s.builds.filter((b) => b.nextPrune.action === 'delete');
  const rows = s.builds.map((b) => {
    const workflowId = b.runId ? data.buildRuns[b.runId] : undefined;
    const run = b.runId ? link(workflowId ? runHref(ctx, workflowId, b.runId) : undefined, workflowId ?? b.runId) : html`<span class="muted">not recorded</span>`;
    const action = b.nextPrune.action === 'delete' ? html`<span class="badge b-del">deleted next</span>` : html`<span class="badge b-keep">kept</span>`;
    return html`<tr class="build${b.live ? ' live' : ''}${b.nextPrune.action === 'delete' ? ' del' : ''}" data-timestamp="${b.timestamp}"><td class="mono nowrap">${b.timestamp}${b.live ? html` <span class="badge b-live">live</span>` : ''}</td><td><span class="nowrap">${utc(b.timestamp)}</span><br><span class="muted">${formatAge(b.ageSeconds)} ago</span></td><td><code class="image">${b.image || '(no image)'}</code>${b.rollbackOf !== undefined ? html`<br><span class="muted">rollback to ${b.rollbackOf}</span>` : ''}</td><td class="num">${b.files}</td><td class="num">${bytes(b.bytes)}</td><td>${action}<br><span class="reason">${b.nextPrune.reason}</span></td><td class="run-cell">${run}</td></tr>`;
  });
  const summary =
    p.builds + p.objects + p.orphans + p.copies === 0
      ? html`<p class="box" id="next-prune">The next prune deletes <strong>nothing</strong>.</p>`
      : html`<div class="box" id="next-prune"><p>The next prune deletes <strong>${plural(p.builds, 'build')}</strong>, ${plural(p.objects, 'object')} of those builds, ${plural(p.orphans, 'unreferenced object')} and ${plural(p.copies, 'entry-file copy', 'entry-file copies')}${p.recentlyWritten ? html` (and keeps ${p.recentlyWritten} written within the grace period)` : ''}.</p>${deletes.length ? html`<ul id="deletions">${deletes.map((b) => html`<li><span class="mono">${b.timestamp}</span> <code>${b.image || '(no image)'}</code>: ${b.nextPrune.reason}</li>`)}</ul>` : ''}</div>`;
  const live =
    s.live.state === 'build'
      ? html`build <span class="mono">${s.live.timestamp}</span> is live`
      : s.live.state === 'none'
        ? html`nothing is live (no ${ENTRY_POINT})`
        : html`<span class="badge b-bad">the live ${ENTRY_POINT} matches no retained build</span>`;
  const body = html`<p><a href="/">← all apps</a></p>
<div class="box">${plural(s.builds.length, 'build')} retained, ${live}. Last publish: ${runCell(ctx, activity.lastPublish, activity)} · last prune: ${runCell(ctx, activity.lastPrune, activity)}${activity.audit ? html` · last audit: ${auditCell(ctx, activity.audit)}` : ''}</div>
<h2>Bytes per build</h2><div class="chart">${bytesChart(s.builds)}</div>
<h2>Next prune</h2>${summary}
<h2>Retained builds, newest first</h2>
<table id="builds"><thead><tr><th>Build</th><th>Written</th><th>Image</th><th class="num">Files</th><th class="num">Bytes</th><th>Next prune, and why</th><th>Run</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Runs holding or waiting for the app lock</h2>${s.inFlight.length ? html`<ul id="lock-holders">${s.inFlight.map((r) => holderRow(ctx, r))}</ul>` : html`<p class="muted" id="lock-holders">none</p>`}`;
  return page(`${s.app} · pushcache`, headerOf(html`<a href="/">pushcache status</a> / ${s.app}`, data.bucket, data.generatedAt), body, footerOf(appApiPath(s.app)));
}

/** A short page for 401, 404 and 5xx: the message is escaped like everything else. */
export function renderMessage(title: string, message: string): string {
  return page(`${title} · pushcache`, html`<h1>${title}</h1>`, html`<p class="error">${message}</p><p><a href="/">all apps</a></p>`, html`pushcache status page`);
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AppStatus, BuildStatus } from '../../src/client/status';
import { ConfigError } from '../../src/errors';
import { bearerMatches } from '../../src/ui/auth';
import { TtlCache } from '../../src/ui/cache';
import { bytesChart } from '../../src/ui/chart';
import { auditSummary, type AppData, type OverviewData } from '../../src/ui/data';
import { esc, html, safeHref } from '../../src/ui/html';
import { renderAppPage, renderMessage, renderOverview } from '../../src/ui/render';
import { route } from '../../src/ui/router';
import { isLoopbackHost } from '../../src/ui/auth';
import { startStatusServer, statusHandler, type StatusSource } from '../../src/ui/server';
import { resolveStatusPageSettings } from '../../src/ui/settings';

const EVIL = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;
const CTX = { temporalUiUrl: 'http://ui.test:8233/', namespace: 'default' };

function build(timestamp: number, overrides: Partial<BuildStatus> = {}): BuildStatus {
  return {
    manifestKey: `manifests/app/${timestamp}`,
    timestamp,
    ageSeconds: 60,
    image: `img:${timestamp}`,
    files: 5,
    bytes: 1000,
    live: false,
    runId: `run-${timestamp}`,
    nextPrune: { action: 'keep', reason: 'one of the newest 3 builds' },
    ...overrides,
  };
}

function appStatus(app: string, builds: BuildStatus[]): AppStatus {
  return {
    app,
    builds,
    live: { state: 'build', timestamp: builds[0].timestamp },
    nextPrune: { builds: 1, objects: 2, orphans: 0, copies: 3, recentlyWritten: 0 },
    inFlight: [{ workflowId: `publish/${app}/${EVIL}`, mode: 'shared', holding: true }],
  };
}

const hostile = appStatus('app', [
  build(300, { image: EVIL, live: true }),
  build(200, { nextPrune: { action: 'delete', reason: `old ${EVIL}` } }),
  build(100, { bytes: null, runId: undefined }),
]);

const overview: OverviewData = {
  bucket: 'frontend',
  generatedAt: 1_700_000_000,
  apps: [hostile, { app: 'broken', error: `object manifests/broken/1 is corrupt: ${EVIL}` }],
  activity: {
    app: {
      lastPublish: { workflowId: `publish/app/${EVIL}`, runId: 'r1', type: 'PublishWorkflow', status: 'completed', startTime: '2026-01-01T00:00:00.000Z', closeTime: '2026-01-01T00:01:00.000Z' },
    },
  },
};

const appPage: AppData = { bucket: 'frontend', generatedAt: 1_700_000_000, apps: [hostile], activity: { app: {} }, buildRuns: { 'run-300': `publish/app/${EVIL}` } };

/** Every tag the page may hold: nothing the data brought in becomes markup. */
function tags(page: string): string[] {
  return [...new Set([...page.matchAll(/<([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1].toLowerCase()))].sort();
}
const ALLOWED = ['a', 'body', 'br', 'code', 'div', 'footer', 'h1', 'h2', 'head', 'header', 'html', 'li', 'line', 'link', 'main', 'meta', 'p', 'rect', 'span', 'strong', 'style', 'svg', 'table', 'tbody', 'td', 'text', 'th', 'thead', 'title', 'tr', 'ul'];

describe('status page rendering', () => {
  it('escapes every character that could leave text or an attribute', () => {
    expect(esc(`<a href="x" onclick='y'>&\``)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;');
    expect(html`<p title="${EVIL}">${EVIL}</p>`.value).not.toContain('<script');
    expect(html`<p>${[html`<b>ok</b>`, '<i>']}</p>`.value).toBe('<p><b>ok</b>&lt;i&gt;</p>');
  });

  it('renders hostile images, reasons, errors and workflow IDs as text', () => {
    for (const page of [renderOverview(overview, CTX), renderAppPage(appPage, CTX), renderMessage('Not found', EVIL)]) {
      expect(page).not.toContain('<script');
      expect(page).not.toContain('<img');
      expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(tags(page).filter((t) => !ALLOWED.includes(t))).toEqual([]);
    }
  });

  it('escapes an app name even though the CLI schema never lets such a name in', () => {
    const page = renderOverview({ ...overview, apps: [appStatus('<b>x</b>', [build(1, { live: true })])], activity: {} }, CTX);
    expect(page).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(page).toContain('href="/apps/%3Cb%3Ex%3C%2Fb%3E"');
    expect(page).not.toContain('<b>x');
  });

  it('links each build and run to its page in the Temporal Web UI, encoded', () => {
    const page = renderAppPage(appPage, CTX);
    expect(page).toContain(`href="http://ui.test:8233/namespaces/default/workflows/${encodeURIComponent(`publish/app/${EVIL}`)}/run-300/history"`);
    // Build 100 records no run: no link, a word instead.
    expect(page).toContain('not recorded');
    // Without a UI URL runs are named, never linked.
    expect(renderAppPage(appPage, { namespace: 'default' })).not.toContain('ui.test');
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
    expect(renderAppPage(appPage, { temporalUiUrl: 'javascript:alert(1)//', namespace: 'default' })).not.toContain('javascript:');
  });

  it('shows the overview columns, the broken app, and no audit column until audits exist', () => {
    const page = renderOverview(overview, CTX);
    expect(page).toContain('cannot be read');
    expect(page).not.toContain('Last audit');
    const withAudit = renderOverview({ ...overview, activity: { app: { audit: { state: 'ok', summary: 'all objects present' } } } }, CTX);
    expect(withAudit).toContain('Last audit');
    expect(withAudit).toContain('all objects present');
    // Visibility that did not answer is told apart from runs that do not exist.
    const unknown = renderOverview({ ...overview, activity: { app: { runsError: `deadline exceeded ${EVIL}` } } }, CTX);
    expect(unknown).toContain('unknown (Temporal visibility did not answer)');
    expect(unknown).not.toContain('<script');
  });

  it("shows the last audit's findings with its keys and a link to its run", () => {
    const base = { workflowId: 'audit-all/b/1', runId: 'r-1', at: '2026-12-01T00:00:00.000Z' };
    expect(auditSummary({ ...base, status: 'ok' })).toEqual({ state: 'ok', summary: 'clean at 2026-12-01T00:00:00.000Z', run: { workflowId: 'audit-all/b/1', runId: 'r-1' } });
    const problems = auditSummary({ ...base, status: 'problems', missing: 2, mismatched: 1, unreadable: 0, keys: ['js/a.js', `${EVIL}.js`] });
    expect(problems.summary).toBe(`2 missing, 1 mismatched, 0 unreadable manifests: js/a.js, ${EVIL}.js`);
    const page = renderOverview({ ...overview, activity: { app: { audit: problems } } }, CTX);
    expect(page).toContain('problems');
    expect(page).toContain('js/a.js');
    expect(page).toContain('/workflows/audit-all%2Fb%2F1/r-1');
    expect(page).not.toContain('<script>alert(1)');
  });

  it('charts one bar per build with a known size, oldest left, live and deleted marked', () => {
    const svg = bytesChart(hostile.builds).value;
    const rects = [...svg.matchAll(/<rect class="(\w+)" x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="([\d.]+)"/g)].map((m) => [m[1], Number(m[2]), Number(m[3])] as const);
    expect(rects.map((r) => r[0])).toEqual(['keep', 'del', 'live']);
    expect(rects[0][1]).toBeLessThan(rects[1][1]);
    expect(rects[0][2]).toBe(0); // size unknown
    expect(svg).not.toContain('<script');
  });
});

describe('status page routing', () => {
  it.each([
    ['/', { page: 'overview', format: 'html' }],
    ['/?refresh=1', { page: 'overview', format: 'html' }],
    ['/apps/shop', { page: 'app', app: 'shop', format: 'html' }],
    ['/apps/shop/', { page: 'app', app: 'shop', format: 'html' }],
    ['/apps/my.app_v2-x', { page: 'app', app: 'my.app_v2-x', format: 'html' }],
    ['/api/v1/apps', { page: 'overview', format: 'json' }],
    ['/api/v1/apps/shop', { page: 'app', app: 'shop', format: 'json' }],
  ])('GET %s', (url, expected) => expect(route('GET', url)).toEqual(expected));

  it.each(['/apps/..', '/apps/%2e%2e', '/apps/..%2Fetc', '/apps/a%2Fb', '/apps/a/b', '/apps/%zz', '/apps/', '/apps/-x', '/apps/a%00', '/api/v1/apps/a/b', '/api/v2/apps', '/favicon.ico', '/apps/a..b'])(
    'refuses %s',
    (url) => expect(route('GET', url)).toEqual({ page: 'not-found' }),
  );

  it('is read-only', () => {
    expect(route('HEAD', '/')).toEqual({ page: 'overview', format: 'html' });
    for (const m of ['POST', 'PUT', 'DELETE', undefined]) expect(route(m, '/')).toEqual({ page: 'bad-method' });
  });
});

describe('status page auth', () => {
  const token = 'a-token-of-24-characters';
  it('takes only the exact bearer token', () => {
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    for (const h of [undefined, '', token, `Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`, 'Bearer ', `Bearer ${token} extra`]) {
      expect(bearerMatches(h, token)).toBe(false);
    }
  });

  it('reads the token from a file or the environment, refuses a short one, and is off without --ui-port', () => {
    expect(resolveStatusPageSettings({}, { PUSHCACHE_UI_TOKEN: token })).toBeUndefined();
    expect(resolveStatusPageSettings({ uiPort: '8234' }, {})).toEqual({ listen: { host: '127.0.0.1', port: 8234 }, allowedHosts: [], cacheMs: 5000 });
    expect(resolveStatusPageSettings({ uiPort: '8234', uiAllowedHosts: ' Status.Example.com, ops.example.com ,' }, {})).toMatchObject({ allowedHosts: ['status.example.com', 'ops.example.com'] });
    expect(() => resolveStatusPageSettings({ uiPort: '8234', uiAllowedHosts: 'status.example.com:443' }, {})).toThrow(/--ui-allowed-hosts takes host names/);
    expect(resolveStatusPageSettings({ uiPort: '0', uiCacheSeconds: '2' }, { PUSHCACHE_UI_TOKEN: token })).toMatchObject({ token, cacheMs: 2000 });
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ui-token-')), 'token');
    writeFileSync(file, `${token}-from-file\n`);
    expect(resolveStatusPageSettings({ uiPort: '1', uiTokenFile: file, uiHost: '0.0.0.0' }, { PUSHCACHE_UI_TOKEN: token })).toMatchObject({ listen: { host: '0.0.0.0' }, token: `${token}-from-file` });
    expect(() => resolveStatusPageSettings({ uiPort: '1' }, { PUSHCACHE_UI_TOKEN: 'short' })).toThrow(ConfigError);
    expect(() => resolveStatusPageSettings({ uiPort: '70000' }, {})).toThrow(/--ui-port must be <= 65535/);
    expect(() => resolveStatusPageSettings({ uiPort: '1', uiTokenFile: '/nonexistent/token' }, {})).toThrow(/--ui-token-file: cannot read/);
  });
});

describe('status page open on loopback without a token', () => {
  it('answers only to loopback names in Host, so a rebound domain cannot read it from a browser here', async () => {
    const handler = statusHandler({ source: { apps: async () => ['app'], overview: async () => overview, app: async () => appPage }, render: CTX, cacheMs: 60_000, allowedHosts: ['status.example.com'] });
    const s = http.createServer(handler);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as AddressInfo).port;
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => http.get({ host: '127.0.0.1', port, path: '/api/v1/apps', headers: { host } }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject));
    try {
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `status.localhost:${port}`, `[::1]:${port}`, '127.1.2.3', 'status.example.com', 'Status.Example.com:443']) expect([host, await status(host)]).toEqual([host, 200]);
      for (const host of [`evil.example:${port}`, 'evil.example', '127.0.0.1.evil.example', 'localhost.evil.example', `10.0.0.5:${port}`, 'example.com', 'x.status.example.com']) expect([host, await status(host)]).toEqual([host, 403]);
    } finally {
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  it('is what the server does on a loopback address without a token, and only then', async () => {
    expect(['127.0.0.1', 'localhost', '::1', '[::1]', '127.0.0.2'].map(isLoopbackHost)).toEqual([true, true, true, true, true]);
    expect(['0.0.0.0', '10.1.2.3', '::', 'pushcache.example'].map(isLoopbackHost)).toEqual([false, false, false, false]);
    const source: StatusSource = { apps: async () => ['app'], overview: async () => overview, app: async () => appPage };
    const token = 'the-token-is-long-enough';
    for (const [options, expected] of [[{}, 403], [{ allowedHosts: ['evil.example'] }, 200], [{ token }, 200]] as const) {
      const server = await startStatusServer({ listen: { host: '127.0.0.1', port: 0 }, source, render: CTX, cacheMs: 0, ...options });
      try {
        const status = await new Promise<number>((resolve, reject) =>
          http
            .get({ host: '127.0.0.1', port: server.address.port, path: '/api/v1/apps', headers: { host: 'evil.example', authorization: `Bearer ${token}` } }, (res) => (res.resume(), resolve(res.statusCode!)))
            .on('error', reject),
        );
        expect([options, status]).toEqual([options, expected]);
      } finally {
        await server.close();
      }
    }
  });
});

describe('status page server', () => {
  let server: http.Server;
  let base: string;
  const calls = { apps: 0, overview: 0, app: 0 };
  let failing = false;
  const source: StatusSource = {
    apps: async () => (calls.apps++, ['app']),
    overview: async () => {
      calls.overview++;
      if (failing) throw new Error('the bucket frontend cannot be listed');
      return overview;
    },
    app: async () => (calls.app++, appPage),
  };
  const token = 'the-token-is-long-enough';

  beforeAll(async () => {
    server = http.createServer(statusHandler({ source, render: CTX, token, cacheMs: 60_000 }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (p: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }) => fetch(`${base}${p}`, { headers });

  it('answers 401 without the token, before telling whether an app exists', async () => {
    const before = { ...calls };
    for (const p of ['/', '/apps/app', '/apps/nope', '/api/v1/apps', '/nothing']) {
      const res = await get(p, {});
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="pushcache"');
    }
    expect((await get('/api/v1/apps', { authorization: 'Bearer nope' })).status).toBe(401);
    expect(calls).toEqual(before);
  });

  it('serves HTML and JSON with a strict Content-Security-Policy, 404 for unknown apps, and caches listings', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await (await get('/api/v1/apps')).json()).toEqual(overview);
    expect(await (await get('/api/v1/apps/app')).json()).toEqual(appPage);
    expect((await get('/apps/app')).status).toBe(200);
    expect((await get('/apps/nope')).status).toBe(404);
    expect((await get('/api/v1/apps/nope')).status).toBe(404);
    // Within the TTL the bucket is read once per kind, however often the page is loaded.
    expect(calls).toEqual({ apps: 1, overview: 1, app: 1 });
  });

  it('answers 502 with the reason when the bucket cannot be read, and does not keep the failure', async () => {
    const handler = statusHandler({ source: { ...source, overview: async () => { if (failing) throw new Error('the bucket frontend cannot be listed'); return overview; } }, render: CTX, cacheMs: 60_000 });
    const s = http.createServer(handler);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    try {
      failing = true;
      const res = await fetch(`${url}/`);
      expect(res.status).toBe(502);
      expect(await res.text()).toContain('the bucket frontend cannot be listed');
      failing = false;
      expect((await fetch(`${url}/`)).status).toBe(200);
    } finally {
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });
});

describe('TtlCache', () => {
  it('reuses a value within the TTL, reads again after it, and forgets failures', async () => {
    let now = 0;
    const cache = new TtlCache<number>(1000, () => now);
    let reads = 0;
    const load = async () => ++reads;
    expect(await cache.get('k', load)).toBe(1);
    now = 999;
    expect(await cache.get('k', load)).toBe(1);
    now = 1000;
    expect(await cache.get('k', load)).toBe(2);
    await expect(cache.get('f', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(await cache.get('f', load)).toBe(3);
  });
});

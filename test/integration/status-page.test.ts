import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { resolvePruneSettings, resolvePublishSettings } from '../../src/config';
import { populate } from '../../src/client/populate';
import { prune } from '../../src/client/prune';
import type { AppStatus, BrokenApp } from '../../src/client/status';
import { runUrl } from '../../src/client/workflow-id';
import { launchChromium, openPage } from '../helpers/browser';
import { buildTree, publishBuilds, type PublishedBuild } from '../helpers/builds';
import { runCli, startCli } from '../helpers/cli';
import { startHeldPublish } from '../helpers/held-publish';
import { jobEnv, newBucket, populateDeps, startHarness, testServers, type Harness } from '../helpers/servers';

/**
 * The worker's status page (issue 19) in a real browser (Debian's chromium, driven by
 * playwright-core) against a real worker process, MinIO and Temporal, after publishes of three
 * apps (one with a hostile image name) and a prune.
 */

jest.setTimeout(300_000);

const SCREENSHOT = path.resolve(__dirname, '..', '..', '.pushcache', 'artifacts', 'status-page.png');
// Links only: the test checks where they point, it never follows them.
const TEMPORAL_UI = 'http://temporal-ui.test:8233';
const HOSTILE_IMAGE = `registry.test/evil:"><img src=x onerror=alert(1)><script>alert('x')</script>`;
// The rule the worker's page predicts with, given to `status` alike.
const RULE_FLAGS = ['-n', '1', '-t', '1', '--orphan-grace', '1'];

const suffix = randomUUID().slice(0, 6);
const SHOP = `shop-${suffix}`;
const CART = `cart-${suffix}`;
const EVIL = `evil.app_${suffix}`;

let harness: Harness;
let bucket: string;
let shop: PublishedBuild[];
let cart: PublishedBuild[];
let evil: PublishedBuild;
let pruneRun: { workflowId: string; runId: string };
let cartPrune: { workflowId: string; runId: string };
let token: string;
let pageUrl: string;
let worker: ReturnType<typeof startCli>;
let browser: Browser;

beforeAll(async () => {
  harness = await startHarness();
  bucket = await newBucket('ui');
  shop = await publishBuilds(harness, bucket, SHOP, 3);
  cart = await publishBuilds(harness, bucket, CART, 2);
  const dir = buildTree(7);
  const outcome = await populate(resolvePublishSettings({ source: dir, prefix: EVIL, image: HOSTILE_IMAGE, prune: false }), populateDeps(harness, bucket));
  evil = { dir, outcome, timestamp: outcome.timestamp };
  await sleep(1100); // the oldest builds are past the 1 s timeout
  const started = (run: { workflowId: string; runId: string }[]) => ({
    client: harness.client,
    bucket,
    temporal: harness.temporal,
    report: (_line: string, event?: { event: string; [k: string]: unknown }) => {
      if (event?.event === 'prune-started') run.push({ workflowId: String(event.workflowId), runId: String(event.runId) });
    },
  });
  // A prune of every app, as the Schedule runs, keeping three builds: it deletes nothing, and is
  // the last prune of cart, found as the child `prune-all/<bucket>/<stamp>/<cart>`.
  const all: Array<{ workflowId: string; runId: string }> = [];
  await prune(resolvePruneSettings({ minAssetRecords: '3', timeout: '1', orphanGrace: '1' }), { all: true }, started(all));
  const child = await harness.client.workflow.getHandle(`${all[0].workflowId}/${CART}`).describe();
  cartPrune = { workflowId: child.workflowId, runId: child.runId };
  // Then a prune of shop alone, keeping two builds: build 1 goes.
  const own: Array<{ workflowId: string; runId: string }> = [];
  await prune(resolvePruneSettings({ minAssetRecords: '2', timeout: '1', orphanGrace: '1' }), { app: SHOP }, started(own));
  pruneRun = own[0];

  token = `tok-${randomUUID()}`;
  const tokenDir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-ui-'));
  writeFileSync(path.join(tokenDir, 'token'), `${token}\n`);
  worker = startCli(
    ['worker', '--ui-port', '0', '--ui-token-file', path.join(tokenDir, 'token'), '--metrics-address', 'off', '--health-address', 'off', '--temporal-ui-url', TEMPORAL_UI, ...RULE_FLAGS],
    jobEnv(harness.taskQueue, bucket),
  );
  pageUrl = await new Promise<string>((resolve, reject) => {
    worker.onLine((line) => {
      const m = /status page (http:\/\/\S+\/)/.exec(line);
      if (m) resolve(m[1]);
    });
    void worker.result.then((r) => reject(new Error(`the worker exited (${r.code}): ${r.stderr}`)));
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.result;
  }
  await harness?.close();
});

const auth = () => ({ authorization: `Bearer ${token}` });
const strip = (apps: Array<AppStatus | BrokenApp>) =>
  // Ages move with the clock (also in the reasons); everything else must be identical.
  apps.map((a) =>
    'builds' in a
      ? { ...a, builds: a.builds.map(({ ageSeconds: _age, ...b }) => ({ ...b, nextPrune: { ...b.nextPrune, reason: b.nextPrune.reason.replace(/\d+s old/, 'Ns old') } })) }
      : a,
  );

/** A GET of `rawPath` exactly as written: fetch() would resolve `%2e%2e` before sending it. */
function rawGet(rawPath: string, headers: Record<string, string>): Promise<number> {
  const url = new URL(pageUrl);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path: rawPath, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

async function open(url: string): Promise<{ page: Page; problems: string[] }> {
  const opened = await openPage(browser, url, auth());
  expect(opened.status).toBe(200);
  return opened;
}

describe('status page in a browser', () => {
  it('lists every app with its live image, last publish and last prune, linked to their runs', async () => {
    const { page, problems } = await open(pageUrl);
    const rows = page.locator('tr.app-row');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-app')))).toEqual([CART, EVIL, SHOP]);
    const liveImage = (app: string) => page.locator(`tr.app-row[data-app="${app}"] .live-cell code.image`).textContent();
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    expect(await liveImage(SHOP)).toBe('img:3');
    expect(await liveImage(CART)).toBe('img:2');
    // The hostile image is text, not markup: no <img>, no script, no dialog.
    expect(await liveImage(EVIL)).toBe(HOSTILE_IMAGE);
    expect(await page.locator('main img, main script').count()).toBe(0);

    const shopRow = page.locator(`tr.app-row[data-app="${SHOP}"]`);
    const hrefs = await shopRow.locator('a.run').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    const last = shop[2].outcome;
    expect(hrefs).toEqual([runUrl(TEMPORAL_UI, 'default', last.workflowId, last.runId), runUrl(TEMPORAL_UI, 'default', pruneRun.workflowId, pruneRun.runId)]);
    expect(await shopRow.locator('.badge.b-ok').count()).toBe(2); // both completed
    // Cart's last prune is its child of the prune of every app.
    const cartRow = page.locator(`tr.app-row[data-app="${CART}"]`);
    expect(await cartRow.locator('a.run').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual([
      runUrl(TEMPORAL_UI, 'default', cart[1].outcome.workflowId, cart[1].outcome.runId),
      runUrl(TEMPORAL_UI, 'default', cartPrune.workflowId, cartPrune.runId),
    ]);
    await page.screenshot({ path: SCREENSHOT.replace('status-page', 'status-overview'), fullPage: true });
    // The app link leads to its page.
    await shopRow.locator('a.app').click();
    await page.waitForURL(`${pageUrl}apps/${SHOP}`);
    expect(problems).toEqual([]);
  });

  it("shows an app's builds newest first, why each is kept, what the next prune deletes, and each build's run", async () => {
    const { page, problems } = await open(`${pageUrl}apps/${SHOP}`);
    const rows = page.locator('tr.build');
    // Build 1 was pruned; builds 3 and 2 remain, newest first.
    expect(await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-timestamp'))))).toEqual([shop[2].timestamp, shop[1].timestamp]);
    expect(await rows.nth(0).locator('.badge.b-live').count()).toBe(1);
    expect(await rows.nth(0).locator('.reason').textContent()).toMatch(/newest 1 builds/);
    // With -n 1 -t 1, the next prune deletes build 2.
    expect(await rows.nth(1).getAttribute('class')).toContain('del');
    expect(await page.locator('#deletions li').allTextContents()).toEqual([expect.stringContaining(String(shop[1].timestamp))]);
    expect(await page.locator('#next-prune').textContent()).toMatch(/deletes 1 build, 1 object of those builds/);
    const runLinks = await rows.locator('td.run-cell a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(runLinks).toEqual([2, 1].map((i) => runUrl(TEMPORAL_UI, 'default', shop[i].outcome.workflowId, shop[i].outcome.runId)));
    // The chart has a bar per build, the live one green.
    expect(await page.locator('.chart svg rect').count()).toBe(2);
    expect(await page.locator('.chart svg rect.live').count()).toBe(1);
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows the hostile app page without running anything from it', async () => {
    const { page, problems } = await open(`${pageUrl}apps/${EVIL}`);
    expect(await page.locator('tr.build code.image').allTextContents()).toEqual([HOSTILE_IMAGE]);
    // Its workflow ID holds the image: the link is encoded, and still the run's.
    expect(await page.locator('tr.build td.run-cell a').getAttribute('href')).toBe(runUrl(TEMPORAL_UI, 'default', evil.outcome.workflowId, evil.outcome.runId));
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.screenshot({ path: SCREENSHOT.replace('.png', '-hostile.png'), fullPage: true });
  });
});

describe('status page over HTTP', () => {
  it('serves the JSON `pushcache status --json` prints for the same app and rule', async () => {
    const env = jobEnv(harness.taskQueue, bucket);
    for (const [api, args] of [
      [`api/v1/apps/${SHOP}`, ['--prefix', SHOP]],
      ['api/v1/apps', ['--all']],
    ] as const) {
      const res = await fetch(`${pageUrl}${api}`, { headers: auth() });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const served = (await res.json()) as { bucket: string; apps: Array<AppStatus | BrokenApp> };
      const cli = await runCli(['status', ...args, '--json', ...RULE_FLAGS], env);
      expect(cli.code).toBe(0);
      const printed = JSON.parse(cli.stdout) as { bucket: string; apps: Array<AppStatus | BrokenApp> };
      expect({ bucket: served.bucket, apps: strip(served.apps) }).toEqual({ bucket: printed.bucket, apps: strip(printed.apps) });
    }
  });

  it('answers 401 without the token, 404 for unknown apps and names --prefix would refuse, and never shows a credential', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-of-some-length' }, { authorization: token }]) {
      for (const p of ['', `apps/${SHOP}`, `api/v1/apps/${SHOP}`, 'api/v1/apps', 'apps/no-such-app']) {
        const res = await fetch(`${pageUrl}${p}`, { headers });
        expect([p, res.status]).toEqual([p, 401]);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(await res.text()).not.toContain(SHOP);
      }
    }
    for (const p of ['apps/no-such-app', 'api/v1/apps/no-such-app', 'apps/..%2F..%2Fetc', 'apps/%2e%2e', 'apps/..', 'apps/a%2Fb', `apps/${SHOP}%00`, 'api/v1/apps/x/y', 'nothing-here']) {
      expect([p, await rawGet(`/${p}`, auth())]).toEqual([p, 404]);
    }
    expect((await fetch(pageUrl, { method: 'POST', headers: auth() })).status).toBe(405);

    const { credentials } = testServers();
    for (const p of ['', `apps/${SHOP}`, `apps/${CART}`, `apps/${EVIL}`, 'api/v1/apps', `api/v1/apps/${SHOP}`, 'apps/no-such-app']) {
      const body = await (await fetch(`${pageUrl}${p}`, { headers: auth() })).text();
      expect(body).not.toContain(credentials.secretAccessKey);
      expect(body).not.toContain(token);
    }
  });
});

// Last: a terminated publish runs no code to release the lock, so it stays listed a while.
describe('status page and the app lock', () => {
  it("lists the runs holding an app's lock, linked to them in the Temporal Web UI", async () => {
    // A publish whose Job never comes holds the lock shared while it waits for its files.
    const handle = await startHeldPublish(harness, bucket, CART);
    const { workflowId } = handle;
    try {
      // The page read before the publish started is kept for --ui-cache-seconds (5): reload until
      // the cache lets the holder through.
      const { page, problems } = await open(`${pageUrl}apps/${CART}`);
      const holder = page.locator('#lock-holders li');
      for (let i = 0; i < 120 && (await holder.count()) === 0; i++) {
        await sleep(500);
        await page.reload();
      }
      expect(await holder.count()).toBe(1);
      expect(await holder.textContent()).toContain('holds the lock, shared');
      expect(await holder.locator('a').getAttribute('href')).toBe(`${TEMPORAL_UI}/namespaces/default/workflows?query=${encodeURIComponent(`WorkflowId="${workflowId}"`)}`);
      expect(problems).toEqual([]);
    } finally {
      await handle.terminate('test over');
    }
  });
});

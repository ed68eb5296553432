import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { runUrl } from '../../src/client/workflow-id';
import { freePort } from '../../src/dev/process';
import { launchChromium, openPage } from '../helpers/browser';
import { startCli } from '../helpers/cli';

/**
 * Issue 19's "done": `pushcache demo` (what `npm run demo` runs) prints the status page's URL,
 * and that page shows the demo's bucket in a real browser. The demo starts its own Temporal
 * (with the Web UI) and MinIO on free ports, in a state directory of its own.
 */

jest.setTimeout(300_000);

const SCREENSHOT = path.resolve(__dirname, '..', '..', '.pushcache', 'artifacts', 'status-page-demo.png');

let demo: ReturnType<typeof startCli>;
let stateDir: string;
let browser: Browser;
const lines: string[] = [];

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-demo-'));
  const [temporalPort, uiPort, minioPort, minioConsolePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  demo = startCli(
    [
      'demo',
      '--state-dir', stateDir,
      '--temporal-port', String(temporalPort),
      '--ui-port', String(uiPort),
      '--minio-port', String(minioPort),
      '--minio-console-port', String(minioConsolePort),
      '--status-port', '0',
      '-b', 'demo-bucket',
    ],
    {},
  );
  demo.onLine((line) => lines.push(line));
  await new Promise<void>((resolve, reject) => {
    demo.onLine((line) => {
      if (line.includes('Press Ctrl-C to stop')) resolve();
    });
    void demo.result.then((r) => reject(new Error(`the demo exited (${r.code}): ${r.stdout}\n${r.stderr}`)));
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (demo && demo.child.exitCode === null) {
    demo.child.kill('SIGINT');
    await demo.result;
  }
  rmSync(stateDir, { recursive: true, force: true });
});

const printed = (label: string) => {
  const line = lines.find((l) => l.trimStart().startsWith(label));
  return line?.trim().slice(label.length).trim().split(/\s+/)[0];
};

it('prints the status page and shows the published example in a browser, linked to its run', async () => {
  const overviewUrl = printed('status page');
  const appUrl = lines.filter((l) => l.trimStart().startsWith('status page')).map((l) => l.trim().split(/\s+/)[2])[1];
  const temporalUi = printed('Temporal Web UI')!;
  const runLink = printed('the run')!;
  expect(overviewUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  expect(appUrl).toBe(`${overviewUrl}apps/example-app`);

  const overview = await openPage(browser, overviewUrl!);
  expect(overview.status).toBe(200);
  expect(await overview.page.locator('header').textContent()).toContain('demo-bucket');
  expect(await overview.page.locator('tr.app-row').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-app')))).toEqual(['example-app']);
  expect(await overview.page.locator('tr.app-row .live-cell code.image').textContent()).toBe('example.local/example-app:demo');
  expect(overview.problems).toEqual([]);

  const app = await openPage(browser, appUrl);
  expect(app.status).toBe(200);
  expect(await app.page.locator('tr.build').count()).toBe(1);
  expect(await app.page.locator('tr.build .badge.b-live').count()).toBe(1);
  // The build links to the run the demo printed, in the demo's Temporal Web UI.
  const href = await app.page.locator('tr.build td.run-cell a').getAttribute('href');
  expect(href).toBe(runLink);
  expect(href!.startsWith(temporalUi)).toBe(true);
  const [, workflowId, runId] = /\/workflows\/([^/]+)\/([^/]+)\/history$/.exec(href!)!;
  expect(runUrl(temporalUi, 'default', decodeURIComponent(workflowId), runId)).toBe(runLink);
  await app.page.screenshot({ path: SCREENSHOT, fullPage: true });
  expect(app.problems).toEqual([]);
});

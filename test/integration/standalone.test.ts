import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { contentType } from '../../src/contract/headers';
import { findBinary } from '../../src/dev/binaries';
import { freePort } from '../../src/dev/process';
import { CLI, type CliResult } from '../helpers/cli';
import { listKeys, newBucket, openTestStorage, testServers } from '../helpers/servers';
import { copyExample, generatedTree, readObject } from '../helpers/trees';

/**
 * The operator's Job as it is: `/bin/bash -c "valpop populate …"`, no env, no envFrom, so no
 * Temporal configured. pushcache then runs standalone: its own Temporal dev server and worker.
 */
jest.setTimeout(300_000);

let bucket: string;
let bin: string;
beforeAll(async () => {
  bucket = await newBucket('standalone');
  // The image puts `valpop` (pushcache's CLI) and `temporal` on PATH.
  bin = mkdtempSync(path.join(os.tmpdir(), 'pushcache-bin-'));
  chmodSync(CLI, 0o755);
  symlinkSync(CLI, path.join(bin, 'valpop'));
  symlinkSync(findBinary('temporal'), path.join(bin, 'temporal'));
});

interface Job {
  pid: number;
  tmp: string;
  result: Promise<CliResult>;
  kill(signal: NodeJS.Signals): void;
}

/** A pod's environment: PATH, an empty HOME, its own TMPDIR, and nothing else but `extra`. */
function jobEnvironment(extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; tmp: string } {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pushcache-pod-'));
  const home = path.join(tmp, 'home');
  const scratch = path.join(tmp, 'tmp');
  mkdirSync(home);
  mkdirSync(scratch);
  const env = {
    PATH: [bin, path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: home,
    TMPDIR: scratch,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
  return { env, tmp: scratch };
}

function runBash(command: string, extraEnv: Record<string, string> = {}): Job {
  const { env, tmp } = jobEnvironment(extraEnv);
  const child = spawn('/bin/bash', ['-c', command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const result = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { pid: child.pid!, tmp, result, kill: (signal) => child.kill(signal) };
}

/** The operator's command line, word for word (reconcile.go), with the test's MinIO. */
function operatorCommand(app: string, source: string, image: string): string {
  const { credentials, minioEndpoint } = testServers();
  const port = new URL(minioEndpoint).port;
  return (
    `valpop populate -r ${app} -s ${source} -i ${image} --valpop-image quay.io/cloudservices/pushcache:1 --timeout 172800 ` +
    `--bucket ${bucket} --hostname 127.0.0.1 --port ${port} --username ${credentials.accessKeyId} --password ${credentials.secretAccessKey}`
  );
}

/** Processes whose command line names `dir`: the dev server and its watchdog of a run. */
function processesUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`not true after ${timeoutMs / 1000}s: ${what}`);
}

function walk(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? walk(dir, rel) : [rel];
  });
}

const CONTRACT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'application/javascript',
  woff2: 'font/woff2',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  json: 'application/json',
};
const SHORT_LIVED = /(index\.html|fed-mods\.json|app-info\.json|app-info\.deps\.json)$/;

/** Every file's bytes and headers, and a manifest naming exactly the tree with this image. */
async function verifyBuild(app: string, source: string, image: string, maxAge = 86400): Promise<void> {
  const files = walk(source).sort();
  for (const rel of files) {
    const object = await readObject(bucket, `data/${app}/${rel}`);
    expect({ rel, equal: object.body.equals(readFileSync(path.join(source, rel))) }).toEqual({ rel, equal: true });
    const ext = rel.slice(rel.lastIndexOf('.') + 1);
    expect({ rel, type: object.contentType }).toEqual({ rel, type: CONTRACT_TYPES[ext] ?? contentType(rel) });
    expect({ rel, cache: object.cacheControl }).toEqual({
      rel,
      cache: SHORT_LIVED.test(rel) ? 'public, max-age=60, stale-while-revalidate=300' : `public, max-age=${maxAge}`,
    });
  }
  const manifests = await listKeys(openTestStorage(bucket), `manifests/${app}/`);
  const newest = JSON.parse((await openTestStorage(bucket).get(manifests.at(-1)!))!.toString());
  expect(newest).toMatchObject({ image, valpopImage: 'quay.io/cloudservices/pushcache:1', timestamp: Number(manifests.at(-1)!.split('/').pop()) });
  expect([...newest.files].sort()).toEqual(files);
}

const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';

describe("the operator's Job, unchanged, with no Temporal configured", () => {
  it('publishes standalone through /bin/bash -c "valpop populate …", exit 0; the same image again writes nothing; a new image adds a second manifest', async () => {
    const source = copyExample();
    const first = runBash(operatorCommand('op-app', source, 'quay.io/app:1'));
    const r = await first.result;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(r.stderr.match(/running standalone/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/running standalone: no Temporal is configured .*TEMPORAL_ADDRESS/);
    expect(r.stdout + r.stderr).not.toContain(testServers().credentials.secretAccessKey);
    expect(lastLine(r.stdout)).toMatch(/^pushcache: published op-app: 22 files .* manifest manifests\/op-app\/\d+$/);
    await verifyBuild('op-app', source, 'quay.io/app:1');
    // Everything it started is gone, its scratch directory too.
    await eventually('no process of the run is left', () => processesUnder(first.tmp).length === 0, 30_000);
    expect(readdirSync(first.tmp)).toEqual([]);

    // The operator re-creates the Job for the same build: no second manifest, exit 0.
    await sleep(1000);
    const again = await runBash(operatorCommand('op-app', source, 'quay.io/app:1')).result;
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(lastLine(again.stdout)).toMatch(/^pushcache: nothing to publish for op-app: its newest build manifests\/op-app\/\d+ is quay.io\/app:1 with all 22 files in place; wrote nothing$/);
    expect(await listKeys(openTestStorage(bucket), 'manifests/op-app/')).toHaveLength(1);

    // valpop's global flags, given only before the subcommand, and viper's hyphenated variable names.
    await sleep(1000);
    const { credentials, minioEndpoint } = testServers();
    const globals = `-b ${bucket} -a 127.0.0.1 -p ${new URL(minioEndpoint).port} -u ${credentials.accessKeyId} -c ${credentials.secretAccessKey}`;
    const second = runBash(`valpop ${globals} populate -r op-app -s ${source} -i quay.io/app:2`, {
      'VALPOP_CACHE-MAX-AGE': '600',
      'VALPOP_VALPOP-IMAGE': 'quay.io/cloudservices/pushcache:1',
      VALPOP_TIMEOUT: '172800',
    });
    const r2 = await second.result;
    expect({ code: r2.code, stderr: r2.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(await listKeys(openTestStorage(bucket), 'manifests/op-app/')).toHaveLength(2);
    await verifyBuild('op-app', source, 'quay.io/app:2', 600);
  });

  it('a Job SIGKILLed mid-upload leaves no Temporal behind, and the next Job finishes a valid build', async () => {
    const source = generatedTree(1500, 4096);
    const slow = '--batch-files 50 --batch-parallelism 1 --upload-concurrency 1 ';
    const first = runBash(`${operatorCommand('op-killed', source, 'quay.io/killed:1')} ${slow}`);
    const storage = openTestStorage(bucket);
    await eventually('the first Job uploads', async () => (await listKeys(storage, 'data/op-killed/')).length >= 50, 180_000);
    expect(processesUnder(first.tmp).length).toBeGreaterThan(0);
    // bash exec'd the CLI (one simple command), so the shell's pid is the Job's.
    process.kill(first.pid, 'SIGKILL');
    expect((await first.result).code).toBeNull();
    expect(await listKeys(storage, 'manifests/op-killed/')).toEqual([]);
    expect((await listKeys(storage, 'data/op-killed/')).length).toBeLessThan(1502);
    await eventually('the dev server and its watchdog stop', () => processesUnder(first.tmp).length === 0, 60_000);

    const second = runBash(operatorCommand('op-killed', source, 'quay.io/killed:1'));
    const r = await second.result;
    expect(r.code).toBe(0);
    await verifyBuild('op-killed', source, 'quay.io/killed:1');
  });

  it('SIGTERM stops the Job with 130 and stops its Temporal', async () => {
    const source = generatedTree(600, 4096);
    const job = runBash(`${operatorCommand('op-term', source, 'quay.io/term:1')} --batch-files 20 --batch-parallelism 1 --upload-concurrency 1`);
    await eventually('the Job uploads', async () => (await listKeys(openTestStorage(bucket), 'data/op-term/')).length > 0, 180_000);
    job.kill('SIGTERM');
    const r = await job.result;
    expect(r.code).toBe(130);
    expect(lastLine(r.stdout + r.stderr)).toMatch(/stopped by SIGTERM/);
    await eventually('no process of the run is left', () => processesUnder(job.tmp).length === 0, 30_000);
    await eventually('its scratch directory is removed', () => readdirSync(job.tmp).length === 0, 30_000);
  });

  it('--log-format json: every line on stdout and stderr is JSON, the dev server\'s own output included', async () => {
    const job = runBash(`${operatorCommand('op-json', copyExample(), 'quay.io/json:1')} --log-format json`);
    const r = await job.result;
    expect(r.code).toBe(0);
    const lines = (r.stdout + r.stderr).split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    const events = lines.map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'standalone')).toHaveLength(1);
    expect(JSON.parse(lastLine(r.stdout))).toMatchObject({ event: 'published' });
  });
});

describe('a configured Temporal is never replaced by a standalone one', () => {
  it('fails fast when it cannot be reached, naming what configured it, and starts no dev server', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const job = runBash(operatorCommand('op-unreachable', copyExample(), 'quay.io/u:1'), { TEMPORAL_ADDRESS: address });
    const r = await job.result;
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(new RegExp(`^pushcache: error: cannot reach Temporal at ${address}.*configured by TEMPORAL_ADDRESS`));
    expect(r.stdout + r.stderr).not.toMatch(/standalone:/);
    expect(readdirSync(job.tmp)).toEqual([]);
    expect(await listKeys(openTestStorage(bucket), 'manifests/op-unreachable/')).toEqual([]);
  });
});

describe('standalone without a temporal binary', () => {
  it('exits 1 with one line saying what to install or configure', async () => {
    const job = runBash(operatorCommand('op-nobin', copyExample(), 'quay.io/n:1'), { PUSHCACHE_TEMPORAL_BIN: '/nonexistent/temporal' });
    const r = await job.result;
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/^pushcache: error: PUSHCACHE_TEMPORAL_BIN=\/nonexistent\/temporal is not an executable file/);
    expect(readdirSync(job.tmp)).toEqual([]);
  });
});

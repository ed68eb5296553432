import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/dev/process';
import { CLI, runCli } from '../helpers/cli';
import { listKeys, newBucket, openTestStorage, startHarness, testServers, type Harness } from '../helpers/servers';
import { copyExample } from '../helpers/trees';

jest.setTimeout(120_000);

let harness: Harness;
let bucket: string;
beforeAll(async () => {
  harness = await startHarness();
  bucket = await newBucket('cli');
});
afterAll(async () => harness?.close());

function connection(): Record<string, string> {
  const { temporalAddress } = testServers();
  return { TEMPORAL_ADDRESS: temporalAddress, PUSHCACHE_TASK_QUEUE: harness.taskQueue };
}

function credentialsEnv(): Record<string, string> {
  const { credentials, minioEndpoint } = testServers();
  return {
    PUSHCACHE_AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    PUSHCACHE_AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    PUSHCACHE_AWS_ENDPOINT: minioEndpoint,
    PUSHCACHE_AWS_BUCKET_NAME: bucket,
  };
}

const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';

describe('pushcache populate (the Job)', () => {
  it('publishes with PUSHCACHE_AWS_* credentials and exits 0 with a summary line', async () => {
    const r = await runCli(['populate', '-s', copyExample(), '-r', 'cli-env', '-i', 'quay.io/x/app:1', '--temporal-ui-url', 'http://127.0.0.1:8233'], {
      ...connection(),
      ...credentialsEnv(),
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/started publish of cli-env \(22 files/);
    expect(r.stdout).toContain(`follow it at http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(`publish/${bucket}/cli-env/quay.io/x/app:1`)}/`);
    expect(lastLine(r.stdout)).toMatch(/^pushcache: published cli-env: 22 files .* manifest manifests\/cli-env\/\d+$/);
    expect(await listKeys(openTestStorage(bucket), 'manifests/cli-env/')).toHaveLength(1);
  });

  it("accepts valpop's command line as the operator runs it, and never echoes the secret", async () => {
    const { credentials, minioEndpoint } = testServers();
    const port = new URL(minioEndpoint).port;
    const args = ['populate', '-r', 'cli-valpop', '-s', copyExample(), '-i', 'img:2', '--valpop-image', 'pc:1', '--timeout', '172800',
      '--bucket', bucket, '--hostname', '127.0.0.1', '--port', port, '--username', credentials.accessKeyId, '--password', credentials.secretAccessKey];
    const r = await runCli(args, connection());
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/credentials given on the command line are visible in process listings/);
    expect(r.stdout + r.stderr).not.toContain(credentials.secretAccessKey);
    const [manifest] = await listKeys(openTestStorage(bucket), 'manifests/cli-valpop/');
    const body = JSON.parse((await openTestStorage(bucket).get(manifest))!.toString());
    expect(body).toMatchObject({ image: 'img:2', valpopImage: 'pc:1' });
  });

  it('takes every flag from VALPOP_* variables', async () => {
    const { credentials, minioEndpoint } = testServers();
    const r = await runCli(['populate'], {
      ...connection(),
      VALPOP_SOURCE: copyExample(),
      VALPOP_PREFIX: 'cli-valpop-env',
      VALPOP_IMAGE: 'img:3',
      VALPOP_HOSTNAME: '127.0.0.1',
      VALPOP_PORT: new URL(minioEndpoint).port,
      VALPOP_BUCKET: bucket,
      VALPOP_USERNAME: credentials.accessKeyId,
      VALPOP_PASSWORD: credentials.secretAccessKey,
      VALPOP_CACHE_MAX_AGE: '3600',
    });
    expect(r.code).toBe(0);
    const object = await openTestStorage(bucket).get('data/cli-valpop-env/js/main.8a3d91fe.js');
    expect(object).toBeDefined();
  });

  it.each([
    [['-r', '../x'], /not allowed/],
    [['-r', ''], /empty/],
    [['-r', 'a/b'], /not allowed/],
  ])('exits 2 with one line for app name %j', async (flags, message) => {
    const r = await runCli(['populate', '-s', copyExample(), ...flags], { ...connection(), ...credentialsEnv() });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it('exits 2 for a missing source directory', async () => {
    const r = await runCli(['populate', '-s', '/no/such/dir', '-r', 'x'], { ...connection(), ...credentialsEnv() });
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe('pushcache: error: source directory /no/such/dir does not exist (ENOENT)');
  });

  it('exits 1 naming the fix for wrong credentials, without the secret', async () => {
    const r = await runCli(['populate', '-s', copyExample(), '-r', 'x'], {
      ...connection(),
      ...credentialsEnv(),
      PUSHCACHE_AWS_SECRET_ACCESS_KEY: 'definitely-wrong-secret',
    });
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/^pushcache: error: check bucket s3:\/\/cli-\S+ at http:\/\/127\.0\.0\.1:\d+ failed: the credentials were refused/);
    expect(r.stdout + r.stderr).not.toContain('definitely-wrong-secret');
  });

  it('exits 1 for a missing bucket', async () => {
    const r = await runCli(['populate', '-s', copyExample(), '-r', 'x'], { ...connection(), ...credentialsEnv(), PUSHCACHE_AWS_BUCKET_NAME: 'missing-bucket' });
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/the bucket does not exist/);
  });

  it('exits 1 when Temporal cannot be reached', async () => {
    const r = await runCli(['populate', '-s', copyExample(), '-r', 'x'], {
      ...credentialsEnv(),
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    });
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/^pushcache: error: cannot reach Temporal at 127\.0\.0\.1:\d+/);
  });

  it('prints the version in package.json with --version', async () => {
    const r = await runCli(['--version'], {});
    expect(r).toMatchObject({ code: 0, stdout: `${JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version}\n` });
  });

  it('prints usage for an unknown flag', async () => {
    const r = await runCli(['populate', '--no-such-flag'], {});
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown option/);
    expect(CLI).toMatch(/main\.js$/);
  });
});

describe('pushcache worker', () => {
  it('polls its task queue and stops gracefully on SIGTERM', async () => {
    const { startCli } = await import('../helpers/cli');
    const worker = startCli(['worker', '--task-queue', `cli-worker-${Date.now()}`, '--metrics-address', 'off', '--health-address', 'off'], { ...connection(), ...credentialsEnv() });
    await new Promise<void>((resolve) => worker.onLine((line) => line.includes('worker polling') && resolve()));
    worker.child.kill('SIGTERM');
    const r = await worker.result;
    expect(r.code).toBe(0);
    expect(lastLine(r.stdout)).toBe('pushcache: worker stopped');
    expect(r.stdout + r.stderr).not.toContain(testServers().credentials.secretAccessKey);
  });
});

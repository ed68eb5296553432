import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../src/dev/process';
import { IMAGE, ROOT, describeDocker, docker, dockerOk, ensureImage, filesUnder, healthOf, readRel, sha256, waitFor } from '../helpers/docker';

const EXAMPLE = path.join(ROOT, 'example');
const BUCKET = 'frontend';
const ACCESS_KEY = 'pushcache';
const SECRET_KEY = 'pushcache-dev-secret';
const MINUTE = 60_000;

/**
 * docker-compose.yml up for real, then the operator's Job as its pod would run it and the worker
 * container on their own, all against that one stack. Containers reach each other on the compose
 * network; the test reaches them through ports published on 127.0.0.1 (free ones).
 */
describeDocker('the compose stack, the operator\'s Job and the worker container', () => {
  const project = `pushcache-test-${process.pid}`;
  const network = `${project}_default`;
  const ports: Record<string, number> = {};
  const cleanup: Array<() => void> = [];
  let env: NodeJS.ProcessEnv;
  let s3: S3Client;
  let composeSeconds = 0;

  const compose = (args: string[], timeoutMs = 5 * MINUTE) => {
    const r = spawnSync('docker-compose', ['-p', project, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: timeoutMs });
    if (r.error) throw new Error(`docker-compose ${args.join(' ')}: ${r.error.message}`);
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const containerOf = (service: string) => compose(['ps', '-q', service]).stdout.trim();
  const logsOf = (service: string) => compose(['logs', '--no-color', '--tail', '60', service]).stdout;
  const state = (container: string) => dockerOk(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', container]).trim();

  /** Every file of example/ is in the bucket under data/<app>/, byte for byte, and a manifest names the build. */
  async function expectPublished(app: string): Promise<void> {
    const files = filesUnder(EXAMPLE);
    const differing: string[] = [];
    for (const rel of files) {
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `data/${app}/${rel}` }));
      const body = Buffer.from(await got.Body!.transformToByteArray());
      if (sha256(body) !== sha256(readRel(EXAMPLE, rel))) differing.push(rel);
    }
    expect({ app, differing }).toEqual({ app, differing: [] });
    const manifests = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `manifests/${app}/` }));
    expect(manifests.KeyCount).toBeGreaterThanOrEqual(1);
  }

  /** A host directory any user may write, as a pod's emptyDir is. */
  function sharedDir(name: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), `pushcache-${name}-`));
    chmodSync(dir, 0o777);
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /**
   * The operator's Job pod: the init container copies the build into /assets (`cp -r /srv/dist/*
   * /assets/`), then the pushcache container runs the operator's command line, with
   * /opt/pushcache-volume mounted and no environment of its own.
   */
  function operatorJob(image: string, app: string): { status: number; output: string; env: string[] } {
    const assets = sharedDir(`${app}-assets`);
    const volume = sharedDir(`${app}-volume`);
    const init = docker(['run', '--rm', '--network', 'none', '-v', `${EXAMPLE}:/srv/dist:ro`, '-v', `${assets}:/assets`, '--entrypoint', '/bin/bash', IMAGE, '-c', 'cp -r /srv/dist/* /assets/']);
    expect(init).toMatchObject({ status: 0 });
    const command = [
      `valpop populate -r ${app} -s /assets -i quay.io/cloudservices/${app}:0a1b2c3`,
      '--valpop-image quay.io/cloudservices/valpop:5e6f7a8 --timeout 172800',
      `--bucket ${BUCKET} --hostname minio --port 9000 --username ${ACCESS_KEY} --password ${SECRET_KEY}`,
    ].join(' ');
    const name = `${project}-job-${app}`;
    const r = docker(['run', '--name', name, '--network', network, '-v', `${assets}:/assets`, '-v', `${volume}:/opt/pushcache-volume`, '--entrypoint', '/bin/bash', image, '-c', command], { timeoutMs: 10 * MINUTE });
    const jobEnv = JSON.parse(dockerOk(['inspect', '-f', '{{json .Config.Env}}', name])) as string[];
    docker(['rm', '-f', name]);
    return { status: r.status, output: `${r.stdout}\n${r.stderr}`, env: jobEnv };
  }

  beforeAll(async () => {
    ensureImage();
    const bases = spawnSync('bash', [path.join(ROOT, 'scripts', 'stand-in-images.sh')], { encoding: 'utf8', timeout: 20 * MINUTE });
    if (bases.status !== 0) throw new Error(`stand-in images: ${bases.stdout}\n${bases.stderr}`);
    for (const name of ['TEMPORAL', 'TEMPORAL_UI', 'MINIO', 'MINIO_CONSOLE', 'METRICS', 'PROBES']) ports[name] = await freePort();
    env = { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [`PUSHCACHE_${k}_PORT`, String(v)])) };
    s3 = new S3Client({ endpoint: `http://127.0.0.1:${ports.MINIO}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });
    compose(['down', '-v', '--remove-orphans']);
    const started = Date.now();
    // `up -d` returns once every container started in dependency order (health and completion included).
    const up = compose(['up', '-d', '--no-build'], 10 * MINUTE);
    if (up.status !== 0) throw new Error(`docker-compose up failed:\n${up.stdout}\n${up.stderr}`);
    const publish = containerOf('publish-example');
    await waitFor('the example publish service exits', () => (state(publish).startsWith('exited') ? true : undefined), 10 * MINUTE, () => logsOf('publish-example'));
    composeSeconds = (Date.now() - started) / 1000;
    process.stdout.write(`compose: up to the example published in ${composeSeconds.toFixed(1)} s\n`);
  }, 30 * MINUTE);

  afterAll(() => {
    s3?.destroy();
    for (const c of [`${project}-ro-worker`]) docker(['rm', '-f', c]);
    docker(['rmi', `${project}-job:temporal`]);
    if (env) compose(['down', '-v', '--remove-orphans']);
    for (const fn of cleanup) fn();
  }, 5 * MINUTE);

  it('publishes example/ with the publish service, which exits 0, and the bucket holds it byte for byte', async () => {
    expect({ state: state(containerOf('publish-example')), logs: '' }).toEqual({ state: 'exited 0', logs: '' });
    await expectPublished('example-app');
  });

  it('has a healthy worker, a Web UI that answers, and the prune Schedule', async () => {
    expect(healthOf(containerOf('worker'))).toBe('healthy');
    const ui = await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI}/`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/<html/i);
    expect(state(containerOf('prune-schedule'))).toBe('exited 0');
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.TEMPORAL}` });
    try {
      const schedule = await new Client({ connection }).schedule.getHandle(`pushcache-prune/${BUCKET}`).describe();
      expect(schedule.action.type).toBe('startWorkflow');
      expect(schedule.spec.intervals?.[0]?.every).toBe(60 * MINUTE);
    } finally {
      await connection.close();
    }
  });

  it('runs the operator\'s Job from an image derived with ENV TEMPORAL_ADDRESS, against the stack\'s Temporal, worker and MinIO', async () => {
    const derived = `${project}-job:temporal`;
    dockerOk(['build', '-t', derived, '-'], { input: `FROM ${IMAGE}\nENV TEMPORAL_ADDRESS=temporal:7233\n` });
    const job = operatorJob(derived, 'job-app');
    expect({ status: job.status, output: job.status === 0 ? '' : job.output }).toEqual({ status: 0, output: '' });
    // Nothing but what the image sets: the pod gives the container no environment.
    expect(job.env.map((e) => e.split('=')[0]).sort()).toEqual(['NODE_ENV', 'NODE_VERSION', 'PATH', 'TEMPORAL_ADDRESS']);
    await expectPublished('job-app');
  });

  it(
    'runs the operator\'s Job with no environment at all (standalone mode: its own Temporal from the image) against the stack\'s MinIO',
    async () => {
      const job = operatorJob(IMAGE, 'standalone-app');
      expect({ status: job.status, output: job.status === 0 ? '' : job.output }).toEqual({ status: 0, output: '' });
      expect(job.env.map((e) => e.split('=')[0]).sort()).toEqual(['NODE_ENV', 'NODE_VERSION', 'PATH']);
      await expectPublished('standalone-app');
    },
  );

  describe('the worker container on its own (read-only root filesystem, /tmp a 64 MiB tmpfs, no capabilities)', () => {
    const worker = `${project}-ro-worker`;

    beforeAll(async () => {
      // Only this worker polls the shared task queue from here on.
      expect(compose(['stop', 'worker']).status).toBe(0);
      dockerOk([
        // As deploy/worker-deployment.yaml runs it: read-only root, a 64 MiB /tmp, no capabilities.
        'run', '-d', '--name', worker, '--network', network, '--read-only', '--tmpfs', '/tmp:size=64m',
        '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
        '--health-interval', '2s', '--health-timeout', '5s', '--health-retries', '3', '--health-start-period', '60s',
        '-e', 'TEMPORAL_ADDRESS=temporal:7233', '-e', 'PUSHCACHE_AWS_ENDPOINT=minio', '-e', 'PUSHCACHE_AWS_PORT=9000',
        '-e', `PUSHCACHE_AWS_BUCKET_NAME=${BUCKET}`, '-e', `PUSHCACHE_AWS_ACCESS_KEY_ID=${ACCESS_KEY}`, '-e', `PUSHCACHE_AWS_SECRET_ACCESS_KEY=${SECRET_KEY}`,
        IMAGE, 'worker',
      ]);
      await waitFor('the read-only worker turns healthy', () => (healthOf(worker) === 'healthy' ? true : undefined), 3 * MINUTE, () => docker(['logs', '--tail', '40', worker]).stderr);
    }, 5 * MINUTE);

    it('runs publishes: a Job\'s workflow goes through it', async () => {
      const job = operatorJob(`${project}-job:temporal`, 'ro-worker-app');
      expect({ status: job.status, output: job.status === 0 ? '' : job.output }).toEqual({ status: 0, output: '' });
      await expectPublished('ro-worker-app');
      expect(docker(['logs', worker]).stdout + docker(['logs', worker]).stderr).not.toMatch(/EROFS|read-only file system/i);
    });

    it('turns unhealthy when it stops answering, and healthy again when it answers', async () => {
      // SIGSTOP freezes the worker without ending it: /livez stops answering. The engine sends it
      // (a namespace's init ignores SIGSTOP sent from inside its own namespace).
      dockerOk(['kill', '--signal', 'STOP', worker]);
      await waitFor('the frozen worker turns unhealthy', () => (healthOf(worker) === 'unhealthy' ? true : undefined), 2 * MINUTE);
      dockerOk(['kill', '--signal', 'CONT', worker]);
      await waitFor('the thawed worker turns healthy again', () => (healthOf(worker) === 'healthy' ? true : undefined), 2 * MINUTE);
    });

    it('stops cleanly on SIGTERM within the grace period', () => {
      const grace = 60; // the compose file's stop_grace_period; Kubernetes gives it 300 s
      const r = docker(['stop', '-t', String(grace), worker], { timeoutMs: (grace + 30) * 1000 });
      expect(r.status).toBe(0);
      // 0, not 137: it exited by itself after SIGTERM rather than being killed when the grace ran out.
      expect(dockerOk(['inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', worker]).trim()).toBe('0 false');
      const logs = docker(['logs', worker]);
      expect(logs.stdout + logs.stderr).toMatch(/worker stopped/);
      docker(['rm', '-f', worker]);
    });
  });

  it('leaves nothing behind after `docker-compose down -v`', () => {
    const down = compose(['down', '-v', '--remove-orphans']);
    expect(down.status).toBe(0);
    const label = `label=com.docker.compose.project=${project}`;
    expect(dockerOk(['ps', '-aq', '--filter', label]).trim()).toBe('');
    expect(dockerOk(['volume', 'ls', '-q', '--filter', label]).trim()).toBe('');
    expect(dockerOk(['network', 'ls', '-q', '--filter', label]).trim()).toBe('');
    expect(composeSeconds).toBeGreaterThan(0);
  });
});

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { resolveWorkerSettings } from '../../src/config';

const root = path.resolve(__dirname, '..', '..');

describe('container packaging', () => {
  it('has a valid docker-compose.yml with the whole local stack', () => {
    // docker-compose 1.x checks the file without an engine; .ci/run installs it.
    const out = execFileSync('docker-compose', ['config', '--services'], { cwd: root, encoding: 'utf8' });
    expect(out.trim().split('\n').sort()).toEqual(['bucket', 'minio', 'prune-schedule', 'publish-example', 'temporal', 'worker']);
    execFileSync('docker-compose', ['config', '-q'], { cwd: root });
  });

  it('builds a multi-stage, non-root image on a current LTS Node', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const stages = (dockerfile.match(/^FROM\s+(\S+)/gm) ?? []).filter((from) => !from.includes('temporalio/temporal:'));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const from of stages) expect(from).toMatch(/node:24\b/);
    // The standalone mode's Temporal comes from the same image tag the compose file runs.
    const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'));
    expect(dockerfile).toMatch(new RegExp(`^FROM ${compose.services.temporal.image.replace(/\./g, '\\.')} AS temporal$`, 'm'));
    expect(dockerfile).toMatch(/^COPY --from=temporal \/temporal \/usr\/local\/bin\/temporal$/m);
    expect(dockerfile).toMatch(/^USER\s+(?!root)\w+/m);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });

  // The ports the worker listens on when nothing else is said (the image sets nothing else).
  const defaults = resolveWorkerSettings({});
  const workerPorts = [defaults.metricsAddress!.port, defaults.healthAddress!.port];

  it("exposes the worker's default metrics and health ports and checks its liveness", () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    // Numeric, so Kubernetes' runAsNonRoot can verify it without a runAsUser.
    expect(dockerfile).toMatch(/^USER\s+[1-9]\d*(:\d+)?\s*$/m);
    const exposed = /^EXPOSE\s+(.+)$/m.exec(dockerfile)?.[1].split(/\s+/).map(Number);
    expect(exposed?.sort()).toEqual([...workerPorts].sort());
    const healthcheck = /^HEALTHCHECK\s+(.*)\bCMD\s+(\[.*\])\s*$/m.exec(dockerfile);
    expect(healthcheck).not.toBeNull();
    const command = JSON.parse(healthcheck![2]) as string[];
    expect(command.slice(0, 2)).toEqual(['node', '/app/dist/worker/healthcheck.js']);
    // The image copies dist/ to /app/dist: the script must be something the build writes.
    expect(existsSync(path.join(root, 'src', 'worker', 'healthcheck.ts'))).toBe(true);
  });

  it('gives the compose worker its ports and a readiness health check that the example publish waits for', () => {
    const config = parse(execFileSync('docker-compose', ['config'], { cwd: root, encoding: 'utf8' }));
    const worker = config.services.worker;
    // Published on loopback only ("127.0.0.1:HOST:CONTAINER/tcp" as docker-compose 1.x prints them).
    const published = (service: { ports?: string[] }) => (service.ports ?? []).map((p) => /^127\.0\.0\.1:\d+:(\d+)\/tcp$/.exec(p)?.[1] ?? p);
    expect(published(worker).map(Number).sort()).toEqual([...workerPorts].sort());
    for (const service of Object.values(config.services) as Array<{ ports?: string[] }>) {
      for (const port of published(service)) expect(port).toMatch(/^\d+$/);
    }
    expect(worker.healthcheck.test).toEqual(['CMD', 'node', '/app/dist/worker/healthcheck.js', '--ready']);
    expect(config.services['publish-example'].depends_on.worker).toEqual({ condition: 'service_healthy' });
    // The compose worker keeps the defaults, which listen on every interface, so the published ports reach it.
    expect(Object.keys(worker.environment)).not.toEqual(expect.arrayContaining(['PUSHCACHE_METRICS_ADDRESS']));
    expect(Object.keys(worker.environment)).not.toEqual(expect.arrayContaining(['PUSHCACHE_HEALTH_ADDRESS']));
    expect([defaults.metricsAddress!.host, defaults.healthAddress!.host]).toEqual(['0.0.0.0', '0.0.0.0']);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigMap, Secret } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { parseAllDocuments } from 'yaml';
import { populateCommand } from '../../src/cli/populate-command';
import { scheduleCommand } from '../../src/cli/schedule-command';
import { workerCommand } from '../../src/cli/worker-command';
import {
  resolvePruneSettings,
  resolvePublishSettings,
  resolveStorageSettings,
  resolveWorkerSettings,
  WORKER_DEFAULTS,
  type RawOptions,
} from '../../src/config';

const DEPLOY = path.resolve(__dirname, '..', '..', 'deploy');

/** Parsed YAML: the schema test checks its shape, so the other assertions read it loosely. */
type Loose = any;

interface Manifest {
  file: string;
  object: Loose;
}

/** Every document of every YAML file under deploy/, parsed strictly (duplicate keys, bad syntax). */
function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(path.join(DEPLOY, file), 'utf8'), { uniqueKeys: true })) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      out.push({ file, object: doc.toJS() });
    }
  }
  return out;
}

const MODELS: Record<string, new (data: Loose) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
};

const kubernetesObjects = () => manifests().filter((m) => m.object.kind !== 'Kustomization');
const find = (file: string) => manifests().find((m) => m.file === file)!.object;

describe('deploy/ Kubernetes manifests', () => {
  it.each(kubernetesObjects().map((m) => [m.file, m.object.kind, m] as const))('%s: %s is valid against the Kubernetes schema', (_file, _kind, m) => {
    const Model = MODELS[`${m.object.apiVersion}/${m.object.kind}`];
    expect(Model).toBeDefined();
    expect(() => new Model(m.object).validate()).not.toThrow();
  });

  it('lists every file in kustomization.yaml except the per-build Job template', () => {
    const kustomization = find('kustomization.yaml');
    const files = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'job.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    const images = kubernetesObjects().flatMap((m) => containers(m.object).map((c) => c.image.split(':')[0]));
    expect(images).toContain(kustomization.images[0].name);
  });

  it('runs every container as non-root and with resource requests and limits', () => {
    for (const m of kubernetesObjects().filter((o) => podSpec(o.object))) {
      const pod = podSpec(m.object)!;
      expect({ file: m.file, runAsNonRoot: pod.securityContext?.runAsNonRoot }).toEqual({ file: m.file, runAsNonRoot: true });
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect({ file: m.file, container: c.name, limits: Boolean(c.resources?.limits?.memory && c.resources?.requests?.cpu) }).toEqual({
          file: m.file,
          container: c.name,
          limits: true,
        });
      }
    }
  });

  it("runs the operator's Job: init container copying /srv/dist into an emptyDir, credentials from the Secret", () => {
    const job = find('job.yaml');
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    expect(pod.volumes).toContainEqual({ name: 'assets', emptyDir: {} });
    expect(pod.initContainers[0].command.join(' ')).toContain('cp -r /srv/dist/* /assets/');
    const main = pod.containers[0];
    expect(main.volumeMounts).toContainEqual(expect.objectContaining({ name: 'assets', mountPath: '/assets' }));
    const env = Object.fromEntries(main.env.map((e: { name: string; valueFrom?: unknown }) => [e.name, e.valueFrom]));
    expect(env.PUSHCACHE_AWS_ACCESS_KEY_ID).toEqual({ secretKeyRef: { name: 'pushcache-credentials', key: 'PUSHCACHE_AWS_ACCESS_KEY_ID' } });
    expect(env.PUSHCACHE_AWS_SECRET_ACCESS_KEY).toEqual({ secretKeyRef: { name: 'pushcache-credentials', key: 'PUSHCACHE_AWS_SECRET_ACCESS_KEY' } });
    expect(env.TEMPORAL_ADDRESS).toEqual({ configMapKeyRef: { name: 'pushcache-config', key: 'TEMPORAL_ADDRESS' } });
    // Exactly the operator's command line, credentials aside.
    expect(main.args).toEqual([
      'populate', '-r', expect.any(String), '-s', '/assets', '-i', expect.any(String), '--valpop-image', expect.any(String),
      '--timeout', '172800', '--bucket', expect.any(String), '--hostname', expect.any(String), '--port', expect.any(String),
    ]);
    // Bad input (exit code 2) fails the Job at once instead of retrying.
    expect(job.spec.podFailurePolicy.rules).toContainEqual(
      expect.objectContaining({ action: 'FailJob', onExitCodes: { containerName: main.name, operator: 'In', values: [2] } }),
    );
  });

  it("gives the worker probes on its health endpoints, its metrics port, and time to drain", () => {
    const deployment = find('worker-deployment.yaml');
    const pod = deployment.spec.template.spec;
    const worker = pod.containers[0];
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
    const ports = Object.fromEntries(worker.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    const env = envOf(worker);
    const settings = resolveWorkerSettings({ metricsAddress: env.PUSHCACHE_METRICS_ADDRESS, healthAddress: env.PUSHCACHE_HEALTH_ADDRESS });
    expect(ports).toEqual({ metrics: settings.metricsAddress!.port, health: settings.healthAddress!.port });
    expect(worker.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(worker.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'health' });
    expect(deployment.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(ports.metrics),
      'prometheus.io/path': '/metrics',
    });
    expect(worker.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });
});

describe("deploy/ command lines, parsed by pushcache's own commands", () => {
  const configMap = () => find('configmap.yaml').data as Record<string, string>;
  /** Stand-ins for the Secret's values: pushcache must accept them from the environment. */
  const secret = { PUSHCACHE_AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', PUSHCACHE_AWS_SECRET_ACCESS_KEY: 'example-secret' };

  it("parses the operator's Job into valid publish and storage settings", () => {
    const main = find('job.yaml').spec.template.spec.containers[0];
    const env = { ...containerEnv(main, configMap()), ...secret };
    const { command, options } = parseArgs(main.args, env);
    expect(command).toBe('populate');
    const publish = resolvePublishSettings(options);
    expect(publish).toMatchObject({ source: '/assets', timeout: 172800, app: main.args[2], image: main.args[6] });
    // The credentials come from the Secret, not from -u/-c on the command line.
    const storage = resolveStorageSettings(options, env);
    expect(storage).toMatchObject({ bucket: main.args[12], credentialSource: 'PUSHCACHE_AWS_* environment', credentials: { accessKeyId: secret.PUSHCACHE_AWS_ACCESS_KEY_ID } });
    expect(storage.endpoint).toBe(`http://${main.args[14]}:${main.args[16]}`);
  });

  it('parses the schedule Job into valid prune settings', () => {
    const container = find('schedule-job.yaml').spec.template.spec.containers[0];
    const env = containerEnv(container, configMap());
    const { command, options } = parseArgs(container.args, env);
    expect(command).toBe('apply');
    expect(resolvePruneSettings({ ...options, dryRun: false })).toMatchObject({ timeout: 172800, minAssetRecords: 3 });
    expect(resolveStorageSettings(options, env).bucket).toBe(configMap().PUSHCACHE_AWS_BUCKET_NAME);
  });

  it("parses the worker's arguments and tuning into valid worker settings", () => {
    const container = find('worker-deployment.yaml').spec.template.spec.containers[0];
    const { command, options } = parseArgs(container.args, { ...containerEnv(container, configMap()), ...secret });
    expect(command).toBe('worker');
    expect(resolveWorkerSettings(options)).toMatchObject({ maxActivities: Number(WORKER_DEFAULTS.maxActivities), maxCachedWorkflows: 100 });
  });

  it('rejects a misspelt flag, so the checks above can fail', () => {
    expect(() => parseArgs(['populate', '-r', 'app', '-s', '/assets', '--timout', '172800'], {})).toThrow(/unknown option '--timout'/);
    expect(() => parseArgs(['schedule', 'aply'], {})).toThrow(CommanderError);
  });
});

type Container = { name: string; image: string; command?: string[]; args?: string[]; env?: Loose[]; envFrom?: Loose[]; resources?: Loose };

function podSpec(object: Loose): { containers: Container[]; initContainers?: Container[]; securityContext?: Loose } | undefined {
  return object.spec?.template?.spec;
}

function containers(object: Loose): Container[] {
  const pod = podSpec(object);
  return pod ? [...(pod.initContainers ?? []), ...pod.containers] : [];
}

/** Literal env values of a container. */
function envOf(container: Container): Record<string, string> {
  return Object.fromEntries((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
}

/** The container's environment with its ConfigMap references resolved; Secret references left out. */
function containerEnv(container: Container, configMap: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) if (from.configMapRef?.name === 'pushcache-config') Object.assign(env, configMap);
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.configMapKeyRef?.name === 'pushcache-config' && configMap[e.valueFrom.configMapKeyRef.key] !== undefined) {
      env[e.name] = configMap[e.valueFrom.configMapKeyRef.key];
    }
  }
  return env;
}

/**
 * Parses `args` as the image's entry point would (`pushcache ...args`), with the commands'
 * actions replaced by one that records the options; commander reads its `.env()` variables
 * from process.env, so `env` stands in for it during the parse.
 */
function parseArgs(args: string[], env: Record<string, string>): { command: string; options: RawOptions } {
  const program = new Command('pushcache').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  for (const cmd of [populateCommand(), scheduleCommand(), workerCommand()]) program.addCommand(cmd);
  let parsed: { command: string; options: RawOptions } | undefined;
  const capture = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    if (cmd.commands.length > 0) cmd.commands.forEach(capture);
    else cmd.action((options: RawOptions) => void (parsed = { command: cmd.name(), options }));
  };
  program.commands.forEach(capture);
  const saved = process.env;
  process.env = { ...env };
  try {
    program.parse(args, { from: 'user' });
  } finally {
    process.env = saved;
  }
  if (!parsed) throw new Error(`no command ran for ${args.join(' ')}`);
  return parsed;
}

import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const IMAGE = process.env.PUSHCACHE_IMAGE ?? 'pushcache:dev';

/**
 * Whether a Docker engine answers (DOCKER_HOST is honoured). Without one the container tests are
 * skipped with the reason in their names and on stderr, except where Docker is required
 * (PUSHCACHE_REQUIRE_DOCKER=1, which .ci/run sets after starting its engine): there they fail.
 */
function probeDocker(): string | undefined {
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return `no docker CLI (${r.error.message})`;
  if (r.status !== 0) return `no Docker engine answers at ${process.env.DOCKER_HOST ?? 'the default socket'}: ${r.stderr.trim().split('\n')[0]}`;
  return undefined;
}
export const DOCKER_MISSING = probeDocker();
const required = process.env.PUSHCACHE_REQUIRE_DOCKER === '1';

/** `describe` for container tests: runs them, skips them naming the reason, or fails when Docker is required. */
export function describeDocker(name: string, fn: () => void): void {
  if (!DOCKER_MISSING) return describe(name, fn);
  if (required) {
    return describe(name, () => {
      it('needs Docker (PUSHCACHE_REQUIRE_DOCKER=1)', () => {
        throw new Error(`Docker is required here but ${DOCKER_MISSING}`);
      });
    });
  }
  process.stderr.write(`SKIPPED "${name}": Docker is missing (${DOCKER_MISSING}); see docs/operations.md "Containers"\n`);
  describe.skip(`${name} [skipped: Docker is missing: ${DOCKER_MISSING}]`, fn);
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs docker with a generous upper bound on hangs; returns what happened without throwing. */
export function docker(args: string[], options: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r: SpawnSyncReturns<string> = spawnSync('docker', args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    input: options.input,
    env: options.env ?? process.env,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`docker ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Like docker(), but throws with the output when the command fails. */
export function dockerOk(args: string[], options: { timeoutMs?: number; input?: string } = {}): string {
  const r = docker(args, options);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** What the image is built from: the label `npm run image` puts on it, to rebuild only when it changed. */
export function sourceDigest(): string {
  return execFileSync('node', [path.join(ROOT, 'scripts', 'image-source-digest.js')], { encoding: 'utf8' }).trim();
}

/**
 * Builds the image with `npm run image` (stand-in bases included) unless the image present was
 * built from these very sources. The first build takes minutes; later ones reuse the layers.
 */
export function ensureImage(): void {
  const digest = sourceDigest();
  const label = docker(['image', 'inspect', '-f', '{{ index .Config.Labels "org.pushcache.source" }}', IMAGE]).stdout.trim();
  if (label === digest) return;
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'image.sh')], { encoding: 'utf8', timeout: 20 * 60_000, env: { ...process.env, PUSHCACHE_IMAGE: IMAGE } });
  if (r.status !== 0) throw new Error(`npm run image failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  process.stdout.write(r.stdout);
}

/** Every file under dir, as paths relative to it, sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(path.relative(dir, p).split(path.sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export const readRel = (dir: string, rel: string): Buffer => readFileSync(path.join(dir, ...rel.split('/')));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until check() returns a value, or throws with what describe() says after timeoutMs. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, describe: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s\n${describe()}`);
    await sleep(1000);
  }
}

/** A container's health status ('starting', 'healthy', 'unhealthy') or its state when it has none. */
export function healthOf(container: string): string {
  return docker(['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}', container]).stdout.trim();
}

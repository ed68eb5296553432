import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findBinary, isExecutable } from '../src/dev/binaries';
import { parseGoModuleVersion } from './machine';

/**
 * Finds or installs the tools the bench compares, following scripts/provision.sh: Go tools are
 * built with `go install` into the shared tool cache and linked into the repo's .tools/bin;
 * aws-cli, rclone and GNU time come from Debian. A tool that cannot be had is reported with the
 * reason, never an error: the bench runs whatever is available.
 */

export type ToolName = 'pushcache' | 's5cmd' | 'aws' | 'rclone' | 'valpop';
export const TOOL_NAMES: ToolName[] = ['pushcache', 's5cmd', 'aws', 'rclone', 'valpop'];

export interface Peer {
  name: ToolName;
  bin?: string;
  version?: string;
  /** How it was found or installed. */
  origin?: string;
  /** Set when the tool is missing: why. */
  unavailable?: string;
}

export interface Peers {
  tools: Record<ToolName, Peer>;
  /** GNU time, for the peak RSS of each command; undefined if it cannot be had. */
  timeBin?: string;
  timeProblem?: string;
}

const S5CMD = { module: 'github.com/peak/s5cmd/v2', version: 'v2.3.0' };
/**
 * valpop has no release tags; this pseudo-version is its main branch at commit c159ac7
 * (2026-05-27). Override the binary with PUSHCACHE_BENCH_VALPOP_BIN.
 */
const VALPOP = { module: 'github.com/RedHatInsights/valpop', version: 'v0.0.0-20260527131538-c159ac7c627a' };

const exec = promisify(execFile);

interface Ran {
  ok: boolean;
  out: string;
}

async function run(bin: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  try {
    const { stdout, stderr } = await exec(bin, args, {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { ok: true, out: `${stdout}${stderr}`.trim() };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message };
  }
}

/** The first executable `name` on PATH, skipping the given directories. */
function onPath(name: string, skip: string[] = []): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    if (skip.includes(path.resolve(dir))) continue;
    const file = path.join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

/** The last line of a failed command that says something, for a one-line reason. */
function reason(out: string): string {
  const lines = out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.find((l) => /403|404|not available|refused|error|cannot|not found|fatal/i.test(l)) ?? lines[lines.length - 1] ?? 'failed').slice(0, 240);
}

/**
 * `go install module@version` into `toolsDir`. When the module proxy serves the version but not
 * the module's version list (go install looks up deprecations in it), the same version is built
 * through a throw-away module instead: `go get module@version` + `go install module`, which
 * resolves exactly the dependency versions the module's own go.mod asks for.
 */
async function goInstall(name: string, mod: { module: string; version: string }, toolsDir: string, log: (line: string) => void): Promise<string | undefined> {
  if (!onPath('go')) return 'Go is not installed, and it is needed to build it';
  const env = { GOBIN: toolsDir, CGO_ENABLED: '0' };
  log(`installing ${name}: go install ${mod.module}@${mod.version} (the first build takes a minute or two)`);
  const direct = await run('go', ['install', `${mod.module}@${mod.version}`], { env, timeoutMs: 15 * 60_000 });
  if (direct.ok) return undefined;
  const tmp = mkdtempSync(path.join(os.tmpdir(), `pushcache-bench-go-${name}-`));
  try {
    const steps: string[][] = [
      ['mod', 'init', `pushcache-bench/${name}`],
      ['get', `${mod.module}@${mod.version}`],
      ['install', mod.module],
    ];
    for (const args of steps) {
      const r = await run('go', args, { env, cwd: tmp, timeoutMs: 15 * 60_000 });
      if (!r.ok) return `go install ${mod.module}@${mod.version} failed: ${reason(r.out)}`;
    }
    return undefined;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Module path and version recorded in a Go binary. */
async function goModuleVersion(bin: string): Promise<string | undefined> {
  const r = await run('go', ['version', '-m', bin]);
  return r.ok ? parseGoModuleVersion(r.out) : undefined;
}

function linkIntoRepo(repo: string, file: string): void {
  const link = path.join(repo, '.tools', 'bin', path.basename(file));
  try {
    mkdirSync(path.dirname(link), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(file, link);
  } catch {
    // Only a convenience, as in provision.sh.
  }
}

async function goTool(name: 's5cmd' | 'valpop', mod: { module: string; version: string }, options: ProvisionOptions): Promise<Peer> {
  const explicit = name === 'valpop' ? process.env.PUSHCACHE_BENCH_VALPOP_BIN : process.env.PUSHCACHE_BENCH_S5CMD_BIN;
  let bin = explicit ?? path.join(options.toolsDir, name);
  let origin = explicit ? `from PUSHCACHE_BENCH_${name.toUpperCase()}_BIN` : `tool cache ${options.toolsDir}`;
  if (!isExecutable(bin)) {
    if (explicit) return { name, unavailable: `${explicit} (PUSHCACHE_BENCH_${name.toUpperCase()}_BIN) is not executable` };
    const problem = await goInstall(name, mod, options.toolsDir, options.log);
    if (problem) return { name, unavailable: problem };
    origin = `go install ${mod.module}@${mod.version}`;
    bin = path.join(options.toolsDir, name);
  }
  if (!explicit) linkIntoRepo(options.repo, bin);
  const version = (await goModuleVersion(bin)) ?? (name === 's5cmd' ? (await run(bin, ['version'])).out : undefined) ?? 'unknown';
  return { name, bin, version, origin };
}

async function debianPackageVersion(pkg: string): Promise<string | undefined> {
  const r = await run('dpkg-query', ['-W', '-f=${Status} ${Version}', pkg]);
  const m = /install ok installed (\S+)/.exec(r.out);
  return r.ok && m ? m[1] : undefined;
}

/** apt-get install of the missing Debian packages; refreshes the package lists once if the first try fails. */
async function aptInstall(pkgs: string[], log: (line: string) => void): Promise<string | undefined> {
  if (!pkgs.length) return undefined;
  if (process.getuid?.() !== 0) return `not installed, and installing Debian package ${pkgs.join(', ')} needs root`;
  if (!onPath('apt-get')) return `not installed, and apt-get is not available for Debian package ${pkgs.join(', ')}`;
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  log(`installing Debian packages: ${pkgs.join(' ')}`);
  const args = ['install', '-y', '-q', '--no-install-recommends', ...pkgs];
  if ((await run('apt-get', args, { env, timeoutMs: 15 * 60_000 })).ok) return undefined;
  await run('apt-get', ['update', '-q'], { env, timeoutMs: 10 * 60_000 });
  const second = await run('apt-get', args, { env, timeoutMs: 15 * 60_000 });
  return second.ok ? undefined : `apt-get install ${pkgs.join(' ')} failed: ${reason(second.out)}`;
}

async function debianTool(name: 'aws' | 'rclone', pkg: string, installProblem: string | undefined, versionArgs: string[]): Promise<Peer> {
  // Debian's own build first; then whatever else is on PATH (e.g. a pip install).
  const bin = [`/usr/bin/${name}`, onPath(name)].find((b): b is string => !!b && isExecutable(b));
  if (!bin) return { name, unavailable: installProblem ?? `${name} not found after installing ${pkg}` };
  const v = await run(bin, versionArgs);
  if (!v.ok) return { name, unavailable: `\`${name} ${versionArgs.join(' ')}\` failed: ${reason(v.out)}` };
  const deb = bin === `/usr/bin/${name}` ? await debianPackageVersion(pkg) : undefined;
  return { name, bin, version: v.out.split('\n')[0].trim(), origin: deb ? `Debian package ${pkg} ${deb}` : bin };
}

async function pushcacheTool(options: ProvisionOptions): Promise<Peer> {
  if (!existsSync(options.cliPath)) return { name: 'pushcache', unavailable: `${options.cliPath} is missing; run npm run build` };
  if (!existsSync(path.join(path.dirname(options.cliPath), '..', 'workflow-bundle.js'))) {
    return { name: 'pushcache', unavailable: 'dist/workflow-bundle.js is missing; run npm run build' };
  }
  try {
    findBinary('temporal');
  } catch (err) {
    return { name: 'pushcache', unavailable: (err as Error).message };
  }
  const pkg = JSON.parse(readFileSync(path.join(options.repo, 'package.json'), 'utf8')) as { version: string };
  const commit = await run('git', ['-C', options.repo, 'rev-parse', '--short', 'HEAD']);
  const dirty = await run('git', ['-C', options.repo, 'status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json']);
  const rev = commit.ok ? ` (commit ${commit.out}${dirty.ok && dirty.out ? ', with uncommitted changes in src/' : ''})` : '';
  return { name: 'pushcache', bin: options.cliPath, version: `${pkg.version}${rev}`, origin: `node ${process.version} ${path.relative(options.repo, options.cliPath)}` };
}

export interface ProvisionOptions {
  repo: string;
  toolsDir: string;
  cliPath: string;
  /** Only these tools are looked for; the others are reported as not selected. */
  selected: ToolName[];
  log: (line: string) => void;
}

export async function provisionPeers(options: ProvisionOptions): Promise<Peers> {
  mkdirSync(options.toolsDir, { recursive: true });
  const want = (t: ToolName) => options.selected.includes(t);
  const debs = [
    ...(want('aws') && !isExecutable('/usr/bin/aws') ? ['awscli'] : []),
    ...(want('rclone') && !onPath('rclone') ? ['rclone'] : []),
    ...(!isExecutable('/usr/bin/time') ? ['time'] : []),
  ];
  const aptProblem = await aptInstall(debs, options.log);
  const skip = (name: ToolName): Peer => ({ name, unavailable: 'not selected (--tools)' });
  const tools: Record<ToolName, Peer> = {
    pushcache: want('pushcache') ? await pushcacheTool(options) : skip('pushcache'),
    s5cmd: want('s5cmd') ? await goTool('s5cmd', S5CMD, options) : skip('s5cmd'),
    aws: want('aws') ? await debianTool('aws', 'awscli', aptProblem, ['--version']) : skip('aws'),
    rclone: want('rclone') ? await debianTool('rclone', 'rclone', aptProblem, ['version']) : skip('rclone'),
    valpop: want('valpop') ? await goTool('valpop', VALPOP, options) : skip('valpop'),
  };
  const timeBin = isExecutable('/usr/bin/time') ? '/usr/bin/time' : undefined;
  return { tools, timeBin, timeProblem: timeBin ? undefined : (aptProblem ?? 'GNU time (/usr/bin/time) not found') };
}

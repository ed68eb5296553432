import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { findBinary } from '../src/dev/binaries';

/** Facts about the machine and the servers, as the commands themselves report them. */

export interface MachineInfo {
  cpu: string;
  memory: string;
  os: string;
  node: string;
  go: string;
  minio: string;
  temporal: string;
  /** 1-minute load average when the bench started: other work on a shared machine shows here. */
  loadAtStart: string;
}

function firstLine(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }).split('\n')[0].trim();
  } catch {
    return 'not available';
  }
}

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    return `${pretty ?? os.type()}, kernel ${os.release()}`;
  } catch {
    return `${os.type()} ${os.release()}`;
  }
}

/** Module path and version a Go binary records (`go version -m`), e.g. `github.com/peak/s5cmd/v2 v2.3.0`. */
export function parseGoModuleVersion(text: string): string | undefined {
  const mod = /^\s*mod\s+(\S+)\s+(\S+)/m.exec(text);
  if (!mod) return undefined;
  const replaced = /^\s*=>\s+(\S+)/m.exec(text);
  return `${mod[1]} ${mod[2]}${replaced ? ` (built from ${replaced[1]})` : ''}`;
}

/** A server's own version line, plus the module version it was built from when it says only "DEV". */
function server(name: 'minio' | 'temporal'): string {
  let bin: string;
  try {
    bin = findBinary(name);
  } catch {
    return 'not available';
  }
  const own = firstLine(bin, ['--version']);
  let built: string | undefined;
  try {
    built = parseGoModuleVersion(execFileSync('go', ['version', '-m', bin], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 }));
  } catch {
    built = undefined;
  }
  return built ? `${own}; built from ${built}` : own;
}

export function loadAverage(): string {
  return os.loadavg()[0].toFixed(2);
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: osName(),
    node: process.version,
    go: firstLine('go', ['version']),
    minio: server('minio'),
    temporal: server('temporal'),
    loadAtStart: loadAverage(),
  };
}

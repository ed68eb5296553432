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

function server(name: 'minio' | 'temporal'): string {
  try {
    return firstLine(findBinary(name), ['--version']);
  } catch {
    return 'not available';
  }
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

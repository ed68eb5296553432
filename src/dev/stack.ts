import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createS3Client } from '../storage/s3';
import { ensureBucket, isLive, startMinio } from './minio-server';
import { isListening, type ServerProcess } from './process';
import { startTemporalDev } from './temporal-server';

export interface LocalStackOptions {
  /** Where runs, objects and logs are kept between starts. */
  stateDir: string;
  temporalPort: number;
  uiPort: number;
  minioPort: number;
  minioConsolePort: number;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface LocalStack {
  temporalAddress: string;
  temporalUiUrl: string;
  minioEndpoint: string;
  minioConsoleUrl: string;
  bucket: string;
  stateDir: string;
  /** Servers this process started (reused ones are left running). */
  started: string[];
  stop(): Promise<void>;
}

/** Development-only credentials of the local MinIO; printed on purpose. */
export const DEV_CREDENTIALS = { accessKeyId: 'pushcache', secretAccessKey: 'pushcache-dev-secret' } as const;

export function defaultStackOptions(cwd = process.cwd()): LocalStackOptions {
  return {
    stateDir: path.join(cwd, '.pushcache', 'dev'),
    temporalPort: 7233,
    uiPort: 8233,
    minioPort: 9000,
    minioConsolePort: 9001,
    bucket: 'frontend',
    ...DEV_CREDENTIALS,
  };
}

/** Starts (or reuses what already listens on the ports) a Temporal dev server with UI and a MinIO with the bucket. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const host = '127.0.0.1';
  mkdirSync(options.stateDir, { recursive: true });
  const processes: ServerProcess[] = [];
  const started: string[] = [];
  try {
    if (!(await isListening(host, options.temporalPort))) {
      const temporal = await startTemporalDev({
        host,
        port: options.temporalPort,
        uiPort: options.uiPort,
        dbFile: path.join(options.stateDir, 'temporal.db'),
        logDir: options.stateDir,
      });
      processes.push(temporal.process);
      started.push('temporal');
    }
    const minioEndpoint = `http://${host}:${options.minioPort}`;
    if (!(await isLive(minioEndpoint).catch(() => false))) {
      const minio = await startMinio({
        host,
        port: options.minioPort,
        consolePort: options.minioConsolePort,
        dataDir: path.join(options.stateDir, 'minio'),
        accessKeyId: options.accessKeyId,
        secretAccessKey: options.secretAccessKey,
        logDir: options.stateDir,
      });
      processes.push(minio.process);
      started.push('minio');
    }
    const s3 = createS3Client({
      endpoint: minioEndpoint,
      bucket: options.bucket,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    });
    await ensureBucket(s3, options.bucket);
    s3.destroy();
    return {
      temporalAddress: `${host}:${options.temporalPort}`,
      temporalUiUrl: `http://${host}:${options.uiPort}`,
      minioEndpoint,
      minioConsoleUrl: `http://${host}:${options.minioConsolePort}`,
      bucket: options.bucket,
      stateDir: options.stateDir,
      started,
      stop: () => stopAll(processes),
    };
  } catch (err) {
    await stopAll(processes);
    throw err;
  }
}

async function stopAll(processes: ServerProcess[]): Promise<void> {
  await Promise.all(processes.map((p) => p.stop()));
}

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { findBinary } from './binaries';
import { startProcess, waitUntil, type ServerProcess } from './process';

export interface MinioOptions {
  host?: string;
  port: number;
  consolePort: number;
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  logDir: string;
}

export interface MinioServer {
  endpoint: string;
  consoleUrl: string;
  process: ServerProcess;
}

export async function startMinio(options: MinioOptions): Promise<MinioServer> {
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dataDir, { recursive: true });
  const logFile = path.join(options.logDir, `minio-${options.port}.log`);
  const proc = startProcess(
    'minio',
    findBinary('minio'),
    ['server', options.dataDir, '--quiet', '--address', `${host}:${options.port}`, '--console-address', `${host}:${options.consolePort}`],
    {
      logFile,
      env: {
        MINIO_ROOT_USER: options.accessKeyId,
        MINIO_ROOT_PASSWORD: options.secretAccessKey,
        MINIO_BROWSER_REDIRECT: 'off',
        MINIO_UPDATE: 'off',
      },
    },
  );
  const endpoint = `http://${host}:${options.port}`;
  await waitUntil(`MinIO on ${host}:${options.port}`, () => isLive(endpoint), { timeoutMs: 60_000, process: proc, logFile });
  return { endpoint, consoleUrl: `http://${host}:${options.consolePort}`, process: proc };
}

export async function isLive(endpoint: string): Promise<boolean> {
  const res = await fetch(`${endpoint}/minio/health/live`, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  }
}

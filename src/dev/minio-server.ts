import { mkdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
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
  /** Serve https with `public.crt` and `private.key` from this directory; `ca` is then the PEM that signed them. */
  tls?: { certsDir: string; ca: string };
  /** More MinIO settings, e.g. MINIO_KMS_SECRET_KEY for server-side encryption. */
  env?: Record<string, string>;
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
    [
      'server',
      options.dataDir,
      '--quiet',
      '--address',
      `${host}:${options.port}`,
      '--console-address',
      `${host}:${options.consolePort}`,
      ...(options.tls ? ['--certs-dir', options.tls.certsDir] : []),
    ],
    {
      logFile,
      env: {
        MINIO_ROOT_USER: options.accessKeyId,
        MINIO_ROOT_PASSWORD: options.secretAccessKey,
        MINIO_BROWSER_REDIRECT: 'off',
        MINIO_UPDATE: 'off',
        ...options.env,
      },
    },
  );
  const endpoint = `${options.tls ? 'https' : 'http'}://${host}:${options.port}`;
  await waitUntil(`MinIO on ${host}:${options.port}`, () => isLive(endpoint, options.tls?.ca), { timeoutMs: 60_000, process: proc, logFile });
  return { endpoint, consoleUrl: `http://${host}:${options.consolePort}`, process: proc };
}

export function isLive(endpoint: string, ca?: string): Promise<boolean> {
  const url = `${endpoint}/minio/health/live`;
  // fetch() cannot be given a CA, so https health checks use the https module.
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? https : http).get(url, { timeout: 2000, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  }
}

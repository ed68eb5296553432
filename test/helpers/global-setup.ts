import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startMinio } from '../../src/dev/minio-server';
import { freePort } from '../../src/dev/process';
import { startTemporalDev } from '../../src/dev/temporal-server';
import { ENV_FILE, type TestServers } from './servers';

/** One Temporal dev server and one MinIO for the whole run, on free loopback ports. */
export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-test-'));
  const credentials = { accessKeyId: 'pushcache-test', secretAccessKey: 'test-secret-Zq81xK' };
  const [temporal, minio] = await Promise.all([
    startTemporalDev({ port: await freePort(), logDir: dir }),
    (async () =>
      startMinio({ port: await freePort(), consolePort: await freePort(), dataDir: path.join(dir, 'minio'), ...credentials, logDir: dir }))(),
  ]);
  const servers: TestServers = { dir, temporalAddress: temporal.address, minioEndpoint: minio.endpoint, credentials };
  writeFileSync(ENV_FILE, JSON.stringify(servers));
  process.env.PUSHCACHE_TEST_SERVERS_FILE = ENV_FILE;
  (globalThis as Record<string, unknown>).__pushcacheServers = [temporal.process, minio.process];
}

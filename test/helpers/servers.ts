import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { ensureBucket } from '../../src/dev/minio-server';
import { createS3Client, S3Storage } from '../../src/storage/s3';
import type { TemporalSettings } from '../../src/config';
import type { PopulateDeps } from '../../src/client/populate';
import type { Storage } from '../../src/storage/storage';
import { createSharedWorker } from '../../src/worker/shared-worker';

/** Written by `npm run build`, which the test command runs first. */
const WORKFLOW_BUNDLE = path.resolve(__dirname, '..', '..', 'dist', 'workflow-bundle.js');

export interface TestServers {
  dir: string;
  temporalAddress: string;
  minioEndpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Per jest run (globalSetup publishes it in the environment the test files inherit), so that two
 * runs at once in one tree neither share servers nor stop each other's.
 */
export const ENV_FILE = process.env.PUSHCACHE_TEST_SERVERS_FILE ?? path.join(os.tmpdir(), `pushcache-test-servers-${process.pid}.json`);

export function testServers(): TestServers {
  return JSON.parse(readFileSync(ENV_FILE, 'utf8')) as TestServers;
}

let runtimeInstalled = false;
/** Keeps the SDK quiet in test output; call before the first connection. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

/** A fresh bucket per test file, so tests never see each other's objects. */
export async function newBucket(prefix = 'test'): Promise<string> {
  const { minioEndpoint, credentials } = testServers();
  const bucket = `${prefix}-${randomUUID().slice(0, 8)}`;
  const client = createS3Client({ endpoint: minioEndpoint, bucket, credentials });
  await ensureBucket(client, bucket);
  client.destroy();
  return bucket;
}

export function openTestStorage(bucket: string, credentials = testServers().credentials): S3Storage {
  return S3Storage.open({ endpoint: testServers().minioEndpoint, bucket, credentials });
}

export interface Harness {
  connection: NativeConnection;
  client: Client;
  taskQueue: string;
  worker: Worker;
  running: Promise<void>;
  /** Temporal settings of a Job or prune client that goes through this harness's worker. */
  temporal: TemporalSettings;
  close(): Promise<void>;
}

/** What `populate` needs to publish to `bucket` through `harness`, quietly. */
export function populateDeps(harness: Harness, bucket: string, storage: Storage = openTestStorage(bucket)): PopulateDeps {
  return { client: harness.client, connection: harness.connection, storage, bucket, temporal: harness.temporal, report: () => undefined, progressIntervalMs: 100 };
}

/** Connects to the test Temporal and runs a shared worker on a task queue of its own. */
export async function startHarness(
  options: { openStorage?: (bucket: string) => Storage; taskQueue?: string; temporalAddress?: string; planPartKeys?: number } = {},
): Promise<Harness> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: options.temporalAddress ?? testServers().temporalAddress });
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const worker = await createSharedWorker({
    connection,
    namespace: 'default',
    taskQueue,
    openStorage: options.openStorage ?? ((bucket) => openTestStorage(bucket)),
    workflowBundlePath: WORKFLOW_BUNDLE,
    planPartKeys: options.planPartKeys,
  });
  const running = worker.run();
  return {
    connection,
    client: new Client({ connection, namespace: 'default' }),
    taskQueue,
    worker,
    running,
    temporal: { address: options.temporalAddress ?? testServers().temporalAddress, namespace: 'default', taskQueue },
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

export async function listKeys(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of storage.list(prefix)) keys.push(o.key);
  return keys.sort();
}

/** Environment of a child Job publishing to `bucket` through the shared worker on `taskQueue`. */
export function jobEnv(taskQueue: string, bucket: string, temporalAddress = testServers().temporalAddress): Record<string, string> {
  const { credentials, minioEndpoint } = testServers();
  return {
    TEMPORAL_ADDRESS: temporalAddress,
    PUSHCACHE_TASK_QUEUE: taskQueue,
    PUSHCACHE_AWS_ENDPOINT: minioEndpoint,
    PUSHCACHE_AWS_BUCKET_NAME: bucket,
    PUSHCACHE_AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    PUSHCACHE_AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  };
}

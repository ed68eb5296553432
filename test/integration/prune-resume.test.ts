import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { resolvePruneSettings } from '../../src/config';
import { pruneInput } from '../../src/client/prune';
import type { AppPruneResult } from '../../src/prune/types';
import type { PruneWorkflow } from '../../src/workflows/prune';
import { RecordingStorage } from '../helpers/recording-storage';
import { seedObjects } from '../helpers/seed';
import { jobEnv, listKeys, newBucket, openTestStorage, quietRuntime, startHarness, testServers } from '../helpers/servers';
import { killSlowWorkers, spawnSlowWorker } from '../helpers/worker-process';

jest.setTimeout(180_000);

const ORPHANS = 12_000; // twelve delete batches of 1,000 keys, four at a time
const DELETE_DELAY_MS = 8000;

/** Counts the keys each delete call of the replacement worker removes. */
class CountingDeletes extends RecordingStorage {
  static batches: number[] = [];
  override async delete(keys: readonly string[]): Promise<void> {
    if (keys.some((k) => k.startsWith('data/'))) CountingDeletes.batches.push(keys.length);
    return super.delete(keys);
  }
}

afterEach(killSlowWorkers);

describe('a prune whose worker is killed', () => {
  it('resumes on another worker after the last batch it reported, not from the start', async () => {
    quietRuntime();
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await seedObjects(storage, 'big', Array.from({ length: ORPHANS }, (_, i) => `orphan/${i}.js`));
    await sleep(2100);
    const taskQueue = `test-${randomUUID()}`;

    const { child, lines, seen } = spawnSlowWorker({ ...jobEnv(taskQueue, bucket), DELETE_DELAY_MS: String(DELETE_DELAY_MS) });
    await seen((l) => l === 'ready', 'printing ready');

    const connection = await NativeConnection.connect({ address: testServers().temporalAddress });
    const client = new Client({ connection, namespace: 'default' });
    const settings = resolvePruneSettings({ minAssetRecords: '1', timeout: '1', orphanGrace: '1', heartbeatTimeout: '3s' });
    const handle = await client.workflow.start<typeof PruneWorkflow>('PruneWorkflow', {
      workflowId: `prune/big/${randomUUID()}`,
      taskQueue,
      args: [pruneInput(settings, { app: 'big' }, bucket)],
    });

    // Kill the worker when the first wave of four batches is done and the second is half-way.
    // Heartbeats are throttled to 0.8 x the 3 s heartbeat timeout; the activity beats every
    // second, so 5 s after the wave the server has its progress.
    while (lines.filter((l) => l === 'deleted 1000').length < 4) await sleep(20);
    await sleep(5000);
    child.kill('SIGKILL');
    const left = (await listKeys(storage, 'data/big/')).length;
    expect(left).toBe(ORPHANS - 4000);

    const replacement = await startHarness({ taskQueue, openStorage: (b) => new CountingDeletes(openTestStorage(b)) });
    try {
      const result = (await handle.result()) as AppPruneResult;
      expect(result).toMatchObject({ status: 'pruned', orphansDeleted: ORPHANS });
      // The replacement resumed after the batches the killed worker reported, not from the start.
      const redone = CountingDeletes.batches.reduce((a, b) => a + b, 0);
      expect(redone).toBe(left);
      expect(await listKeys(storage, 'data/big/')).toEqual([]);
      expect(await listKeys(storage, 'pushcache/')).toEqual([]);
    } finally {
      await replacement.close();
      await connection.close();
    }
  });
});

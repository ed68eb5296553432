import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { createPruneActivities } from '../../src/activities/prune';
import { resolvePruneSettings } from '../../src/config';
import { dataKey } from '../../src/contract/keys';
import { pruneInput } from '../../src/client/prune';
import type { AppPruneResult, PruneInput } from '../../src/prune/types';
import type { ObjectInfo, Storage } from '../../src/storage/storage';
import type { PruneWorkflow } from '../../src/workflows/prune';
import { RecordingStorage } from '../helpers/recording-storage';
import { nowSeconds, seedManifest, seedObjects } from '../helpers/seed';
import { listKeys, newBucket, openTestStorage, startHarness, type Harness } from '../helpers/servers';

jest.setTimeout(180_000);

/** Counts every call that reaches the store through it. */
class CountingStorage extends RecordingStorage {
  calls = 0;
  override get(key: string): Promise<Buffer | undefined> {
    this.calls++;
    return super.get(key);
  }
  override list(prefix: string): AsyncIterable<ObjectInfo> {
    this.calls++;
    return super.list(prefix);
  }
  override delete(keys: readonly string[]): Promise<void> {
    this.calls++;
    return super.delete(keys);
  }
}

let harness: Harness;
let sharedStores: CountingStorage[] = [];
beforeAll(async () => {
  harness = await startHarness({
    openStorage: (bucket) => {
      const s = new CountingStorage(openTestStorage(bucket));
      sharedStores.push(s);
      return s;
    },
  });
});
afterAll(async () => harness?.close());
beforeEach(() => {
  sharedStores = [];
});

async function seedTwoBuilds(storage: Storage, app: string) {
  const t = nowSeconds();
  await seedManifest(storage, app, t - 5000, ['fed-mods.json', 'old.js']);
  const newest = await seedManifest(storage, app, t - 4000, ['fed-mods.json', 'new.js']);
  await seedObjects(storage, app, ['fed-mods.json', 'old.js', 'new.js']);
  await sleep(2100);
  return newest;
}

const settings = resolvePruneSettings({ minAssetRecords: '1', timeout: '1', orphanGrace: '1', heartbeatTimeout: '5s', maxAttempts: '3' });

describe('a prune with activityTaskQueue', () => {
  it("runs every activity on that queue's worker, with that worker's one store, and prunes as usual", async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const newest = await seedTwoBuilds(storage, 'routed');
    const workflowId = `publish/routed/${randomUUID()}/prune`;
    const activityTaskQueue = `pushcache-files/${workflowId}`;

    // As a Job's own worker does: prune activities on its queue, built from the single store it was given.
    const jobStore = new CountingStorage(openTestStorage(bucket));
    const jobWorker = await Worker.create({
      connection: harness.connection,
      namespace: 'default',
      taskQueue: activityTaskQueue,
      activities: createPruneActivities({ openStorage: () => jobStore }),
    });
    const running = jobWorker.run();
    try {
      const input: PruneInput = { ...pruneInput(settings, { app: 'routed' }, bucket), activityTaskQueue, activityScheduleToStartTimeout: '1m' };
      const result = (await harness.client.workflow.execute<typeof PruneWorkflow>('PruneWorkflow', { workflowId, taskQueue: harness.taskQueue, args: [input] })) as AppPruneResult;

      expect(result).toMatchObject({ status: 'pruned', manifestsDeleted: 1, objectsDeleted: 1 });
      expect(await listKeys(storage, 'manifests/routed/')).toEqual([newest]);
      expect(await listKeys(storage, 'data/routed/')).toEqual(['fed-mods.json', 'new.js'].map((f) => dataKey('routed', f)).sort());
      expect(jobStore.calls).toBeGreaterThan(0);
      expect(sharedStores.reduce((n, s) => n + s.calls, 0)).toBe(0);
    } finally {
      jobWorker.shutdown();
      await running;
    }
  });

  it('fails (and frees the app) when no worker polls that queue, rather than waiting', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    await seedTwoBuilds(storage, 'gone');
    const before = await listKeys(storage, '');
    const input: PruneInput = { ...pruneInput(settings, { app: 'gone' }, bucket), activityTaskQueue: `pushcache-files/nobody-${randomUUID()}`, activityScheduleToStartTimeout: '3s' };

    const err = await harness.client.workflow
      .execute<typeof PruneWorkflow>('PruneWorkflow', { workflowId: `prune/gone/${randomUUID()}`, taskQueue: harness.taskQueue, args: [input] })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(rootMessage(err)).toMatch(
      new RegExp(`^planning the prune of gone failed: no worker took it from task queue ${input.activityTaskQueue} within 3s \\(has the Job that polls that queue exited\\?\\)`),
    );
    expect(await listKeys(storage, '')).toEqual(before);

    // The app's lock was released: a prune on the shared worker's own queue runs at once.
    const after = (await harness.client.workflow.execute<typeof PruneWorkflow>('PruneWorkflow', {
      workflowId: `prune/gone/${randomUUID()}`,
      taskQueue: harness.taskQueue,
      args: [{ ...pruneInput(settings, { app: 'gone' }, bucket), lockWaitSeconds: 5 }],
    })) as AppPruneResult;
    expect(after.status).toBe('pruned');
  });
});

/** The innermost failure's message. */
function rootMessage(err: unknown): string | undefined {
  let e = err as { cause?: unknown; message?: string };
  while (e.cause) e = e.cause as typeof e;
  return e.message;
}

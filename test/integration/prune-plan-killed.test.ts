import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import { decodeTimeoutType } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { resolvePruneSettings, resolvePublishSettings } from '../../src/config';
import { populate } from '../../src/client/populate';
import { pruneInput } from '../../src/client/prune';
import type { AppPruneResult } from '../../src/prune/types';
import type { PruneWorkflow } from '../../src/workflows/prune';
import { nowSeconds, seedManifest, seedObjects } from '../helpers/seed';
import { jobEnv, listKeys, newBucket, openTestStorage, populateDeps, quietRuntime, startHarness, testServers } from '../helpers/servers';
import { generatedTree } from '../helpers/trees';
import { killSlowWorkers, spawnSlowWorker } from '../helpers/worker-process';

jest.setTimeout(240_000);

afterEach(killSlowWorkers);

describe('a worker killed while a prune plans', () => {
  it('costs the app a heartbeat timeout: the plan is retried elsewhere and a publish of the app then completes', async () => {
    quietRuntime();
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const t = nowSeconds();
    await seedManifest(storage, 'held', t - 5000, ['fed-mods.json', 'old.js']);
    const newest = await seedManifest(storage, 'held', t - 4000, ['fed-mods.json', 'new.js']);
    await seedObjects(storage, 'held', ['fed-mods.json', 'old.js', 'new.js']);
    await sleep(2100);
    const taskQueue = `test-${randomUUID()}`;

    // Its manifest reads never finish: planning makes no progress until the worker is gone.
    const { child, seen } = spawnSlowWorker({ ...jobEnv(taskQueue, bucket), READ_DELAY_MS: '600000' });
    await seen((l) => l === 'ready', 'starting');

    const connection = await NativeConnection.connect({ address: testServers().temporalAddress });
    const client = new Client({ connection, namespace: 'default' });
    const settings = resolvePruneSettings({ minAssetRecords: '1', timeout: '1', orphanGrace: '1', heartbeatTimeout: '5s' });
    const workflowId = `prune/held/${randomUUID()}`;
    const pruning = await client.workflow.start<typeof PruneWorkflow>('PruneWorkflow', { workflowId, taskQueue, args: [pruneInput(settings, { app: 'held' }, bucket)] });

    // The prune holds the app's exclusive lock and is stuck reading a manifest: kill its worker.
    await seen((l) => l.startsWith('reading manifests/held/'), 'the plan read a manifest');
    child.kill('SIGKILL');

    const replacement = await startHarness({ taskQueue });
    try {
      // A publish of the same app waits for the prune's lock, then completes.
      const published = await populate(
        resolvePublishSettings({ source: generatedTree(3), prefix: 'held', image: 'img:after-kill', minAssetRecords: '5', timeout: '100000', prune: false }),
        populateDeps(replacement, bucket),
      );
      expect(await listKeys(storage, 'manifests/held/')).toContain(published.manifestKey);

      const result = (await pruning.result()) as AppPruneResult;
      expect(result).toMatchObject({ status: 'pruned', manifestsDeleted: 1, objectsDeleted: 1 });
      expect(await listKeys(storage, 'manifests/held/')).toEqual(expect.arrayContaining([newest, published.manifestKey]));
      expect(await listKeys(storage, 'pushcache/prune-plans/')).toEqual([]);

      // The plan was retried after its heartbeat timed out, not after its 30-minute deadline.
      const { events } = await pruning.fetchHistory();
      const scheduled = new Set(
        events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'planAppPrune').map((e) => String(e.eventId)),
      );
      const started = events!.filter((e) => scheduled.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)));
      expect(started).toHaveLength(1);
      const attrs = started[0].activityTaskStartedEventAttributes!;
      expect(attrs.attempt).toBeGreaterThanOrEqual(2);
      expect(decodeTimeoutType(attrs.lastFailure?.timeoutFailureInfo?.timeoutType)).toBe('HEARTBEAT');
    } finally {
      await replacement.close();
      await connection.close();
    }
  });
});

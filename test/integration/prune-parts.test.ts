import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { resolvePruneSettings } from '../../src/config';
import { pruneInput } from '../../src/client/prune';
import { manifestKey, prunePlanPrefix } from '../../src/contract/keys';
import { PrunePlanHeadSchema } from '../../src/contract/prune-plan';
import type { AppPruneResult } from '../../src/prune/types';
import type { PruneWorkflow } from '../../src/workflows/prune';
import { RecordingStorage } from '../helpers/recording-storage';
import { nowSeconds, seedObjects } from '../helpers/seed';
import { jobEnv, listKeys, newBucket, openTestStorage, quietRuntime, startHarness, testServers } from '../helpers/servers';
import { killSlowWorkers, spawnSlowWorker } from '../helpers/worker-process';

jest.setTimeout(180_000);

const PART_KEYS = 2000;
const AGED = 4000; // named by an aged-out build
const ORPHANS = 3000;
const DELETE_DELAY_MS = 6000;

/** Records the keys the replacement worker deletes and the plan parts it reads. */
class Watching extends RecordingStorage {
  static deleted: string[] = [];
  static partsRead: string[] = [];
  override async delete(keys: readonly string[]): Promise<void> {
    Watching.deleted.push(...keys);
    return super.delete(keys);
  }
  override async get(key: string): Promise<Buffer | undefined> {
    if (/\/part-\d+\.json$/.test(key)) Watching.partsRead.push(key);
    return super.get(key);
  }
}

afterEach(killSlowWorkers);

describe('a prune plan written in parts', () => {
  it('is recorded as a head naming its parts, and resumed after a kill from the part it stopped in', async () => {
    quietRuntime();
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const aged = Array.from({ length: AGED }, (_, i) => `old/${i}.js`);
    await seedObjects(storage, 'parts', [...aged, ...Array.from({ length: ORPHANS }, (_, i) => `orphan/${i}.js`), 'fed-mods.json', 'new.js']);
    const TEXT = { contentType: 'application/json', cacheControl: 'no-cache' };
    await storage.put(manifestKey('parts', nowSeconds() - 7200), Buffer.from(JSON.stringify({ files: ['fed-mods.json', ...aged] })), TEXT);
    await storage.put(manifestKey('parts', nowSeconds() - 3600), Buffer.from(JSON.stringify({ files: ['fed-mods.json', 'new.js'] })), TEXT);
    await sleep(2100);
    const taskQueue = `test-${randomUUID()}`;

    const { child, lines, seen } = spawnSlowWorker({ ...jobEnv(taskQueue, bucket), DELETE_DELAY_MS: String(DELETE_DELAY_MS), PLAN_PART_KEYS: String(PART_KEYS) });
    await seen((l) => l === 'ready', 'printing ready');

    const connection = await NativeConnection.connect({ address: testServers().temporalAddress });
    const client = new Client({ connection, namespace: 'default' });
    const settings = resolvePruneSettings({ minAssetRecords: '1', timeout: '1', orphanGrace: '1', heartbeatTimeout: '3s' });
    const handle = await client.workflow.start<typeof PruneWorkflow>('PruneWorkflow', {
      workflowId: `prune/parts/${randomUUID()}`,
      taskQueue,
      args: [pruneInput(settings, { app: 'parts' }, bucket)],
    });

    // The manifest goes alone, then each part's objects two batches at once (a batch never
    // spans parts): kill the worker once parts 1 and 2 are done (4,000 keys) and part 3 is
    // half-way; the activity's progress reached the server by then.
    await seen((l) => l === 'deleted 1', 'deleting the manifest');
    while (lines.filter((l) => /^deleted \d{3,}$/.test(l)).length < 4) await sleep(20);
    const planKeys = (await listKeys(storage, prunePlanPrefix('parts'))).filter((k) => !k.includes('/part-'));
    expect(planKeys).toHaveLength(1);
    const head = PrunePlanHeadSchema.parse(JSON.parse((await storage.get(planKeys[0]))!.toString('utf8')));
    const total = 1 + AGED + ORPHANS;
    expect(head).toMatchObject({ version: 2, app: 'parts', total, manifests: 1 });
    expect(head.parts.map((p) => p.count)).toEqual([2000, 2000, 2000, 1001]);
    await sleep(5000);
    child.kill('SIGKILL');
    const left = await listKeys(storage, 'data/parts/');

    const replacement = await startHarness({ taskQueue, openStorage: (b) => new Watching(openTestStorage(b)), planPartKeys: PART_KEYS });
    try {
      const result = (await handle.result()) as AppPruneResult;
      expect(result).toMatchObject({ status: 'pruned', manifestsDeleted: 1, objectsDeleted: AGED, orphansDeleted: ORPHANS, deleteCount: total });
      // The replacement deleted what was left, starting in the part the killed worker stopped
      // in: the parts done before it were not read again.
      expect(new Set(Watching.deleted.filter((k) => k.startsWith('data/')))).toEqual(new Set(left.filter((k) => !k.endsWith('fed-mods.json') && !k.endsWith('new.js'))));
      expect(Watching.partsRead).not.toContain(head.parts[0].key);
      expect(Watching.partsRead).not.toContain(head.parts[1].key);
      expect(await listKeys(storage, 'data/parts/')).toEqual(['data/parts/fed-mods.json', 'data/parts/new.js']);
      // The plan's head and every part are gone.
      expect(await listKeys(storage, 'pushcache/')).toEqual([]);
    } finally {
      await replacement.close();
      await connection.close();
    }
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { createPruneActivities } from '../../src/activities/prune';
import { dataKey, manifestKey, prunePlanKey } from '../../src/contract/keys';
import type { PlanPruneInput } from '../../src/prune/types';
import { MemoryStorage } from '../../src/storage/memory';

const NOW = 1_800_000_000;
const OLD = new Date((NOW - 100_000) * 1000);

/** A bucket in memory whose objects are all old; `stall` makes reads of matching keys wait until `release` is called. */
class StallingStorage extends MemoryStorage {
  stall: (key: string) => boolean = () => false;
  private waiting: Array<() => void> = [];

  constructor() {
    super({ now: () => OLD });
  }
  override async get(key: string): Promise<Buffer | undefined> {
    if (this.stall(key)) await new Promise<void>((_, reject) => this.waiting.push(() => reject(new Error('released'))));
    return super.get(key);
  }
  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}

const TEXT = { contentType: 'text/plain', cacheControl: 'no-cache' };

async function seeded(objects: number): Promise<StallingStorage> {
  const storage = new StallingStorage();
  await storage.put(manifestKey('app', NOW - 5000), Buffer.from(JSON.stringify({ files: ['fed-mods.json', 'old.js'] })), TEXT);
  await storage.put(manifestKey('app', NOW - 4000), Buffer.from(JSON.stringify({ files: ['fed-mods.json', 'new.js'] })), TEXT);
  for (const f of ['fed-mods.json', 'old.js', 'new.js']) await storage.put(dataKey('app', f), Buffer.from(f), TEXT);
  for (let i = 0; i < objects; i++) await storage.put(dataKey('app', `orphan/${i}.js`), Buffer.from('x'), TEXT);
  return storage;
}

const input: PlanPruneInput = {
  bucket: 'b',
  app: 'app',
  rule: { minAssetRecords: 1, timeoutSeconds: 1, graceSeconds: 1 },
  now: NOW,
  planId: 'run-1',
  dryRun: false,
  listLimit: 10,
  collectOrphans: true,
};

describe('planning a prune', () => {
  it('heartbeats as it lists and reads, with the count of what it got through', async () => {
    const storage = await seeded(2500);
    const beats: number[] = [];
    const acts = createPruneActivities({ openStorage: () => storage, planHeartbeat: (read) => beats.push(read), abandoned: () => false });

    const plan = await acts.planAppPrune(input);

    expect(plan).toMatchObject({ manifestsDeleted: 1, objectsDeleted: 1, orphansDeleted: 2500, conflicts: 0 });
    // One beat at the start, one per manifest read, and one per 1,000 objects listed.
    expect(beats[0]).toBe(0);
    expect(beats.length).toBeGreaterThanOrEqual(1 + 2 + 2);
    expect(beats).toEqual([...beats].sort((a, b) => a - b));
    expect(beats.at(-1)).toBeGreaterThanOrEqual(2500);
  });

  it('stops heartbeating while a read makes no progress, so the server can retry it elsewhere', async () => {
    const storage = await seeded(10);
    storage.stall = (key) => key.startsWith('manifests/');
    const beats: number[] = [];
    const acts = createPruneActivities({ openStorage: () => storage, planHeartbeat: (read) => beats.push(read), abandoned: () => false });

    const planning = acts.planAppPrune(input).catch((err: Error) => err);
    await sleep(1500);
    const early = beats.length;
    await sleep(3000);
    // No beat on a timer alone: three seconds stuck, three seconds silent.
    expect(beats.length).toBe(early);
    storage.release();
    expect(await planning).toBeInstanceOf(Error);
  });

  it('writes no plan once the server has given the attempt up, and a retry overwrites its own plan', async () => {
    const storage = await seeded(3);
    const given = createPruneActivities({ openStorage: () => storage, planHeartbeat: () => undefined, abandoned: () => true });
    await expect(given.planAppPrune(input)).rejects.toThrow(/was given up by the server \(no heartbeat\); a retry plans again/);
    expect(await storage.get(prunePlanKey('app', 'run-1'))).toBeUndefined();

    const retry = createPruneActivities({ openStorage: () => storage, planHeartbeat: () => undefined, abandoned: () => false });
    const first = await retry.planAppPrune(input);
    const record = (await storage.get(first.planKey!))!.toString();
    const second = await retry.planAppPrune(input);
    expect(second).toEqual(first);
    expect((await storage.get(first.planKey!))!.toString()).toBe(record);
  });
});

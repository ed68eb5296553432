import { once, EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolvePruneSettings, resolvePublishSettings } from '../../src/config';
import { buildCopiesPrefix, dataPrefix, manifestPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { populate } from '../../src/client/populate';
import { prune } from '../../src/client/prune';
import type { AppPruneResult } from '../../src/prune/types';
import { appLockWorkflowId, lockStateQuery } from '../../src/workflows/app-lock';
import type { ObjectBody, Storage, WriteOptions } from '../../src/storage/storage';
import { RecordingStorage } from '../helpers/recording-storage';
import { listKeys, newBucket, openTestStorage, startHarness, type Harness, populateDeps } from '../helpers/servers';

jest.setTimeout(600_000);

const APP = 'race';
/** The shared worker announces when a prune lists the app's objects: the moment it plans. */
const planning = new EventEmitter();
/** How long the shared worker waits before deleting data: the window between a prune's plan and its delete. */
let deleteDelayMs = 0;

class SharedWorkerStorage extends RecordingStorage {
  override list(prefix: string) {
    if (prefix === dataPrefix(APP)) planning.emit('plan');
    return super.list(prefix);
  }
  override async delete(keys: readonly string[]): Promise<void> {
    if (keys.some((k) => k.startsWith('data/'))) await sleep(deleteDelayMs);
    return super.delete(keys);
  }
}

/** The Job's storage: slow uploads, and an optional pause just before the staging record is written. */
class JobStorage extends RecordingStorage {
  constructor(
    inner: Storage,
    private readonly beforeStaging?: () => Promise<void>,
  ) {
    super(inner, [], 20);
  }
  override async put(key: string, body: ObjectBody, options: WriteOptions): Promise<boolean> {
    if (key.startsWith('pushcache/staging/') && this.beforeStaging) await this.beforeStaging();
    return super.put(key, body, options);
  }
}

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ openStorage: (bucket) => new SharedWorkerStorage(openTestStorage(bucket)) });
});
afterAll(async () => harness?.close());

const ROUNDS = 6;
// The most aggressive rule there is: every build but the newest, and every object nobody names, goes.
const RULE = { minAssetRecords: '1', timeout: '0', orphanGrace: '0', lockWait: '30' };

function tree(name: string, files: string[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-race-'));
  for (const f of [...files, 'index.html', 'fed-mods.json']) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), `${name}: ${f}`);
  }
  return dir;
}

const own = (name: string, count: number) => Array.from({ length: count }, (_, k) => `own/${name}/chunk-${k}.js`);

async function publish(bucket: string, name: string, files: string[], options: { beforeStaging?: () => Promise<void>; prune?: boolean } = {}): Promise<number> {
  const storage = new JobStorage(openTestStorage(bucket), options.beforeStaging);
  const outcome = await populate(
    resolvePublishSettings({ source: tree(name, files), prefix: APP, image: `race:${name}`, uploadConcurrency: '4', batchFiles: '8', ...RULE, prune: options.prune ?? true }),
    populateDeps(harness, bucket, storage),
  );
  return outcome.prune?.manifestsDeleted ?? 0;
}

async function pruneNow(bucket: string): Promise<number> {
  const result = await prune(resolvePruneSettings(RULE), { app: APP }, { client: harness.client, bucket, temporal: harness.temporal, report: () => undefined });
  return (result as AppPruneResult).manifestsDeleted;
}

/** Every file of every manifest in the bucket exists: what the asset proxy needs of a published build. */
async function missingFiles(bucket: string): Promise<string[]> {
  const storage = openTestStorage(bucket);
  const present = new Set((await listKeys(storage, dataPrefix(APP))).map((k) => k.slice(dataPrefix(APP).length)));
  const missing: string[] = [];
  for (const key of await listKeys(storage, manifestPrefix(APP))) {
    const body = await storage.get(key);
    if (!body) continue;
    for (const f of parseManifest(key, body.toString('utf8')).files) if (!present.has(f)) missing.push(`${key} names missing ${f}`);
  }
  return missing;
}

const nextPlan = () => once(planning, 'plan');

async function pruneWaitingForLock(bucket: string): Promise<void> {
  for (;;) {
    const state = await harness.client.workflow
      .getHandle(appLockWorkflowId(bucket, APP))
      .query(lockStateQuery)
      .catch(() => undefined);
    if (state?.waiting.some((r) => r.mode === 'exclusive')) return;
    await sleep(50);
  }
}

describe('publishes and prunes of one app running at once', () => {
  /**
   * Each round forces one of the two dangerous interleavings instead of hoping for it:
   *  - publish first: build Z has started and is about to record its files when a prune plans;
   *  - prune first: a prune has planned and is about to delete when build Z starts.
   * In both, the prune's plan deletes shared.js (named only by an aged-out build) while Z is
   * about to upload it and name it in its manifest. Without the app lock, Z's manifest ends
   * up naming a deleted file; with it, one of the two waits for the other.
   */
  it('never leave a manifest naming a missing file', async () => {
    const bucket = await newBucket();
    let deleted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const shared = `a-shared-${round}.js`; // sorts first, so Z uploads it early
      deleteDelayMs = 0;
      await publish(bucket, `x${round}`, ['common.js', shared, ...own(`x${round}`, 3)], { prune: false });
      await publish(bucket, `y${round}`, ['common.js', ...own(`y${round}`, 3)], { prune: false });
      await sleep(1100); // shared.js must be older than the 0 s grace, counted in whole seconds
      const zFiles = ['common.js', shared, ...own(`z${round}`, 20)];

      let counts: number[];
      if (round % 2 === 0) {
        deleteDelayMs = 800;
        let pruning: Promise<number> | undefined;
        const z = publish(bucket, `z${round}`, zFiles, {
          beforeStaging: async () => {
            pruning = pruneNow(bucket);
            // With the lock the prune cannot plan while Z holds it: go on once it waits for it.
            await Promise.race([nextPlan(), pruneWaitingForLock(bucket)]);
          },
        });
        counts = [await z, await pruning!];
      } else {
        deleteDelayMs = 4000;
        const planned = nextPlan();
        const pruning = pruneNow(bucket);
        await planned;
        counts = await Promise.all([publish(bucket, `z${round}`, zFiles), pruning]);
      }
      deleted += counts.reduce((a, b) => a + b, 0);
      expect(await missingFiles(bucket)).toEqual([]);
    }
    // The check is only worth something if the prunes really deleted builds along the way.
    expect(deleted).toBeGreaterThanOrEqual(ROUNDS);
    // No staging record or prune plan is left behind; only the kept builds' entry-file copies remain.
    const leftovers = (await listKeys(openTestStorage(bucket), 'pushcache/')).filter((k) => !k.startsWith(buildCopiesPrefix(APP)));
    expect(leftovers).toEqual([]);
  });
});

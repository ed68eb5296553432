import { setTimeout as sleep } from 'node:timers/promises';
import { resolvePruneSettings } from '../../src/config';
import { manifestKey, stagingKey } from '../../src/contract/keys';
import { prune, PruneFailedError } from '../../src/client/prune';
import type { Storage } from '../../src/storage/storage';
import { nowSeconds, seedManifest, seedObjects } from '../helpers/seed';
import { listKeys, newBucket, openTestStorage, startHarness, type Harness } from '../helpers/servers';

jest.setTimeout(180_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

const JSON_OPTIONS = { contentType: 'application/json', cacheControl: 'no-cache' };
const RULE = resolvePruneSettings({ minAssetRecords: '1', timeout: '1', orphanGrace: '1' });

/** Three old builds and a new one of `app`: a prune under RULE deletes the old ones and a.js, b.js. */
async function seedApp(storage: Storage, app: string, t: number): Promise<void> {
  await seedManifest(storage, app, t - 5000, ['fed-mods.json', 'a.js']);
  await seedManifest(storage, app, t - 4000, ['fed-mods.json', 'b.js']);
  await seedManifest(storage, app, t + 1000, ['fed-mods.json', 'c.js']);
  await seedObjects(storage, app, ['fed-mods.json', 'a.js', 'b.js', 'c.js']);
}

describe('a prune facing a hostile bucket', () => {
  it("refuses each app whose manifests or staging records name paths outside it, deletes nothing of it, and prunes the others", async () => {
    const bucket = await newBucket('hostile');
    const storage = openTestStorage(bucket);
    const t = nowSeconds();
    // `other` is a well-formed app; the others each hold one hostile record among good builds.
    const hostile: Record<string, { key: string; body: unknown; problem: string }> = {
      climbs: { key: manifestKey('climbs', t - 3000), body: { files: ['fed-mods.json', '../other/c.js'], image: 'x' }, problem: 'lists an unsafe path "../other/c.js"' },
      absolute: { key: manifestKey('absolute', t - 3000), body: ['/data/other/c.js'], problem: 'lists an unsafe path "/data/other/c.js"' },
      gaps: { key: manifestKey('gaps', t - 3000), body: { files: ['static//a.js'] }, problem: 'lists an unsafe path "static//a.js"' },
      staged: {
        key: stagingKey('staged', 'run-1'),
        body: { version: 1, publishId: 'run-1', app: 'staged', image: '', timestamp: t, listDigest: 'd', files: [{ path: 'x/../../other/a.js', size: 1, sha256: 'a'.repeat(64) }] },
        problem: 'lists an unsafe path "x/../../other/a.js"',
      },
    };
    for (const app of ['other', ...Object.keys(hostile)]) await seedApp(storage, app, t);
    for (const { key, body } of Object.values(hostile)) await storage.put(key, Buffer.from(JSON.stringify(body)), JSON_OPTIONS);
    await sleep(2100); // every object idle past the 1 s grace
    const before = await listKeys(storage, '');

    for (const [app, { key, problem }] of Object.entries(hostile)) {
      await expect(prune(RULE, { app }, { client: harness.client, bucket, temporal: harness.temporal, report: () => undefined })).rejects.toThrow(
        `object ${key} is corrupt: ${problem}`,
      );
    }
    expect(await listKeys(storage, '')).toEqual(before);

    const err = await prune(RULE, { all: true }, { client: harness.client, bucket, temporal: harness.temporal, report: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PruneFailedError);
    expect((err as Error).message).toMatch(/^4 of 5 apps could not be pruned: /);
    for (const [app, { key, problem }] of Object.entries(hostile)) {
      expect((err as Error).message).toContain(`${app} (planning the prune of ${app} failed: object ${key} is corrupt: ${problem}`);
    }
    // Only `other` was pruned, by the rule; not one key of a refused app, and nothing else, went.
    const after = new Set(await listKeys(storage, ''));
    const gone = before.filter((k) => !after.has(k));
    expect(gone).toEqual([manifestKey('other', t - 5000), manifestKey('other', t - 4000), 'data/other/a.js', 'data/other/b.js'].sort());
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import pMap from 'p-map';
import { resolvePruneSettings } from '../../src/config';
import { dataKey } from '../../src/contract/keys';
import { prune } from '../../src/client/prune';
import { S3Storage } from '../../src/storage/s3';
import { startNoBulkDeleteProxy, type NoBulkDeleteProxy } from '../helpers/no-bulk-delete-proxy';
import { nowSeconds, seedManifest, seedObjects } from '../helpers/seed';
import { listKeys, newBucket, openTestStorage, startHarness, testServers } from '../helpers/servers';

jest.setTimeout(180_000);

let proxy: NoBulkDeleteProxy;
beforeAll(async () => {
  proxy = await startNoBulkDeleteProxy(testServers().minioEndpoint);
});
afterAll(async () => proxy?.close());

/** S3Storage talking to MinIO through the proxy, as it would talk to GCS. */
const throughProxy = (bucket: string) => S3Storage.open({ endpoint: proxy.endpoint, bucket, credentials: testServers().credentials });

describe('a store without DeleteObjects (GCS interoperability)', () => {
  it('deletes 2,500 keys one by one after the first refusal, and does not ask again', async () => {
    const bucket = await newBucket('gcs');
    const direct = openTestStorage(bucket);
    const keys = Array.from({ length: 2600 }, (_, i) => `data/app/${i % 10}/f${i}.js`);
    await pMap(keys, (key) => direct.put(key, Buffer.from(key), { contentType: 'application/javascript', cacheControl: 'no-cache' }), { concurrency: 32 });
    const refusedBefore = proxy.refusedBulkDeletes;
    const singleBefore = proxy.singleDeletes;

    await throughProxy(bucket).delete([...keys.slice(0, 2500), 'data/app/never-written.js']);

    expect(await listKeys(direct, 'data/')).toEqual(keys.slice(2500).sort());
    // Asked once, in the first batch of 1,000; every key then went as its own DELETE.
    expect(proxy.refusedBulkDeletes - refusedBefore).toBe(1);
    expect(proxy.singleDeletes - singleBefore).toBe(2501);

    // A retried batch deletes keys that are gone; GCS answers those with 404, which counts as deleted.
    // A new S3Storage for the same store (each activity opens its own) goes straight to single deletes.
    await throughProxy(bucket).delete(keys.slice(2400, 2600));
    expect(await listKeys(direct, 'data/')).toEqual([]);
    expect(proxy.refusedBulkDeletes - refusedBefore).toBe(1);
  });

  it('lets a PruneWorkflow delete exactly the aged-out files through it', async () => {
    const bucket = await newBucket('gcs');
    const direct = openTestStorage(bucket);
    const harness = await startHarness({ openStorage: (b) => throughProxy(b) });
    try {
      const t = nowSeconds();
      const onlyOld = Array.from({ length: 1200 }, (_, i) => `old/${i}.js`);
      const kept = ['fed-mods.json', 'common.js', 'new.js'];
      const newest = await seedManifest(direct, 'app', t + 100, kept);
      await seedManifest(direct, 'app', t - 5000, ['fed-mods.json', 'common.js', ...onlyOld]);
      await seedObjects(direct, 'app', [...kept, ...onlyOld]);
      // Objects written within the grace period are never deleted; let them age past 1 s.
      await sleep(2100);
      const refusedBefore = proxy.refusedBulkDeletes;

      const result = await prune(resolvePruneSettings({ minAssetRecords: '1', timeout: '1', orphanGrace: '1' }), { app: 'app' }, {
        client: harness.client,
        bucket,
        temporal: harness.temporal,
        report: () => undefined,
      });

      expect(result).toMatchObject({ status: 'pruned', manifestsDeleted: 1, objectsDeleted: 1200 });
      expect(await listKeys(direct, 'manifests/app/')).toEqual([newest]);
      expect(await listKeys(direct, 'data/app/')).toEqual(kept.map((f) => dataKey('app', f)).sort());
      expect(await listKeys(direct, 'pushcache/')).toEqual([]);
      // This bucket is another store to the fallback's memory: refused once, then single deletes.
      expect(proxy.refusedBulkDeletes - refusedBefore).toBe(1);
    } finally {
      await harness.close();
    }
  });
});

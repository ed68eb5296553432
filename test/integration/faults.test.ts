import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingMessage } from 'node:http';
import { resolvePruneSettings, resolvePublishSettings, type RawOptions } from '../../src/config';
import { buildCopiesPrefix, dataKey, dataPrefix, manifestPrefix, stagingPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { populate, PublishFailedError } from '../../src/client/populate';
import { prune } from '../../src/client/prune';
import { scanSource } from '../../src/source/scan';
import { S3Storage } from '../../src/storage/s3';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { listKeys, newBucket, openTestStorage, populateDeps, startHarness, testServers, type Harness } from '../helpers/servers';
import { readLocal } from '../helpers/trees';

jest.setTimeout(300_000);

const MiB = 1024 * 1024;

/** Bytes from a seeded xorshift generator: the same tree on every run, and no two files alike. */
function bytes(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

/**
 * `count` small files in nested folders (sent as directly signed PUTs), two files between
 * 1 and 8 MiB (streamed PutObject), one of 9.5 MiB (a two-part multipart upload), entry files.
 * `variant` changes every fifth small file, so a second build shares most files with the first.
 */
function faultTree(count: number, variant = 0): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-faults-'));
  const write = (rel: string, body: Buffer | string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), body);
  };
  for (let i = 0; i < count; i++) {
    const changed = variant > 0 && i % 5 === 0;
    write(`static/js/${i % 7}/chunk-${i}${changed ? `-v${variant}` : ''}.js`, bytes(i + 1 + (changed ? variant * 100_000 : 0), 512 + ((i * 977) % 9000)));
  }
  write('static/media/video.mp4', bytes(900_001, 3 * MiB + 17));
  write('static/media/poster.png', bytes(900_002, 1 * MiB + 5));
  write('static/media/bundle.wasm', bytes(900_003, 9.5 * MiB));
  write('index.html', `<html><body>build ${variant}</body></html>`);
  write('app-info.json', JSON.stringify({ build: variant }));
  write('fed-mods.json', JSON.stringify({ faults: { entry: [`/apps/faults/static/js/0/chunk-0.js`], variant } }));
  return dir;
}

const sources: string[] = [];
afterAll(() => {
  for (const dir of sources) rmSync(dir, { recursive: true, force: true });
});
function tree(count: number, variant = 0): string {
  const dir = faultTree(count, variant);
  sources.push(dir);
  return dir;
}

/** Storage through the proxy, for the Job and for the shared worker alike. */
function throughProxy(proxy: FaultProxy, bucket: string): S3Storage {
  return S3Storage.open({ endpoint: proxy.endpoint, bucket, credentials: testServers().credentials });
}

/**
 * Checks the bucket straight at MinIO, not through the proxy: every file of the tree is under
 * `data/<app>/` byte for byte (and nothing else, unless `manifests` says older builds are
 * still there), and the newest of the app's `manifests` manifests names exactly the tree.
 */
async function verifyBuild(bucket: string, app: string, source: string, manifestCount = 1): Promise<void> {
  const storage = openTestStorage(bucket);
  const files = (await scanSource(source)).files.map((f) => f.path).sort();
  const stored = await listKeys(storage, dataPrefix(app));
  if (manifestCount === 1) expect(stored).toEqual(files.map((f) => dataKey(app, f)).sort());
  else expect(stored).toEqual(expect.arrayContaining(files.map((f) => dataKey(app, f))));
  for (const rel of files) {
    const stored = await storage.get(dataKey(app, rel));
    // Comparing a boolean keeps a 9.5 MiB mismatch from being printed byte by byte.
    expect({ rel, equal: stored !== undefined && stored.equals(readLocal(source, rel)) }).toEqual({ rel, equal: true });
  }
  const manifests = await listKeys(storage, manifestPrefix(app));
  expect(manifests).toHaveLength(manifestCount);
  const newest = manifests.sort((a, b) => Number(a.split('/').pop()) - Number(b.split('/').pop())).at(-1)!;
  expect(parseManifest(newest, (await storage.get(newest))!.toString('utf8')).files.sort()).toEqual(files);
  expect(await listKeys(storage, stagingPrefix(app))).toEqual([]);
}

async function publishThrough(harness: Harness, proxy: FaultProxy, bucket: string, source: string, app: string, options: RawOptions = {}) {
  const settings = resolvePublishSettings({ source, prefix: app, prune: false, heartbeatTimeout: '5s', ...options });
  return populate(settings, populateDeps(harness, bucket, throughProxy(proxy, bucket)));
}

const isDataPut = (bucket: string, app: string) => (req: IncomingMessage) => req.method === 'PUT' && (req.url ?? '').startsWith(`/${bucket}/${dataPrefix(app)}`);

describe('throttling and failing storage (a seeded fault proxy in front of MinIO)', () => {
  let proxy: FaultProxy;
  let harness: Harness;
  let bucket: string;
  beforeAll(async () => {
    bucket = await newBucket('faults');
    proxy = await startFaultProxy(testServers().minioEndpoint, { seed: 7 });
    harness = await startHarness({ openStorage: (b) => throughProxy(proxy, b) });
  });
  afterAll(async () => {
    await harness?.close();
    await proxy?.close();
  });

  it('publishes twice and prunes with 20% of requests throttled or reset, and every object verifies', async () => {
    const app = 'faulty';
    const first = tree(300, 0);
    const second = tree(300, 1);
    proxy.setRate(0.2);

    const one = await publishThrough(harness, proxy, bucket, first, app);
    expect(one.files).toBe(306);
    await verifyBuild(bucket, app, first);

    const two = await publishThrough(harness, proxy, bucket, second, app);
    expect(two.skipped).toBeGreaterThan(0);
    await verifyBuild(bucket, app, second, 2);

    // Every object idle for longer than the 0 s grace, so the first build's files may go.
    await sleep(2100);
    const settings = resolvePruneSettings({ minAssetRecords: '1', timeout: '0', orphanGrace: '0' });
    const pruned = await prune(settings, { app }, { client: harness.client, bucket, temporal: harness.temporal, report: () => undefined });
    expect(pruned).toMatchObject({ status: 'pruned', manifestsDeleted: 1, manifestsKept: 1 });
    proxy.setRate(0);

    // Exactly the second build is left: its files byte for byte, its manifest, its entry copies.
    await verifyBuild(bucket, app, second, 1);
    const [manifestKey] = await listKeys(openTestStorage(bucket), manifestPrefix(app));
    const { publishId } = parseManifest(manifestKey, (await openTestStorage(bucket).get(manifestKey))!.toString('utf8'));
    expect(await listKeys(openTestStorage(bucket), buildCopiesPrefix(app))).toEqual(
      ['app-info.json', 'fed-mods.json', 'index.html'].map((f) => `${buildCopiesPrefix(app)}${publishId}/${f}`),
    );
    // The faults really happened, of every kind.
    expect(proxy.stats.slowdown).toBeGreaterThan(10);
    expect(proxy.stats['reset-before']).toBeGreaterThan(10);
    expect(proxy.stats['reset-after']).toBeGreaterThan(10);
  });

  it('finishes a publish when storage is cut for a while in the middle of its uploads', async () => {
    const app = 'outage';
    const source = tree(300, 2);
    proxy.setRate(0);
    let cutDone: Promise<void> | undefined;
    proxy.when(isDataPut(bucket, app), 60, () => {
      cutDone = proxy.cut();
    });
    const publishing = publishThrough(harness, proxy, bucket, source, app);
    while (!cutDone) await sleep(20);
    await cutDone;
    const uploadedBeforeCut = (await listKeys(openTestStorage(bucket), dataPrefix(app))).length;
    // Long enough for every activity to fail more than once against a closed port.
    await sleep(5000);
    const refusedDuringCut = proxy.stats.refused;
    await proxy.restore();

    const result = await publishing;
    expect(result.files).toBe(306);
    expect(uploadedBeforeCut).toBeGreaterThan(0);
    expect(uploadedBeforeCut).toBeLessThan(306);
    expect(refusedDuringCut).toBeGreaterThan(0);
    await verifyBuild(bucket, app, source);
  });

  it('fails with the reason, and leaves no build live, when storage stays away beyond --max-attempts', async () => {
    const app = 'gone';
    const source = tree(300, 3);
    proxy.setRate(0);
    proxy.when(isDataPut(bucket, app), 40, () => void proxy.cut());
    try {
      const err = await publishThrough(harness, proxy, bucket, source, app, { maxAttempts: '2' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PublishFailedError);
      // Files another app of the bucket holds are copied server-side: a copy's request fails the same way.
      expect((err as Error).message).toMatch(new RegExp(`(write data/${app}/\\S+|copy \\S+ to data/${app}/\\S+) in s3://${bucket} at ${proxy.endpoint} failed: the object store did not answer, or asked to slow down; retried with backoff up to --max-attempts times \\(.*ECONN(REFUSED|RESET)`));
    } finally {
      await proxy.restore();
    }
    const storage = openTestStorage(bucket);
    // Some files were uploaded (the cut came at the 40th), but neither fed-mods.json nor a manifest.
    expect((await listKeys(storage, dataPrefix(app))).length).toBeGreaterThan(0);
    expect(await listKeys(storage, dataPrefix(app))).not.toContain(dataKey(app, 'fed-mods.json'));
    expect(await listKeys(storage, manifestPrefix(app))).toEqual([]);
  });
});

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolvePublishSettings, type RawOptions } from '../../src/config';
import { cacheControl } from '../../src/contract/headers';
import { dataKey, ENTRY_POINT } from '../../src/contract/keys';
import { appLockWorkflowId } from '../../src/workflows/app-lock-api';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { EarlyAppView } from '../../src/bucket/app-view';
import { EtagHasher } from '../../src/storage/etag';
import { populate, type PopulateOutcome } from '../../src/client/populate';
import { PART_SIZE } from '../../src/storage/etag';
import { parseManifest } from '../../src/contract/manifest';
import { hashSource, listSource, scanSource } from '../../src/source/scan';
import type { ObjectInfo, Storage } from '../../src/storage/storage';
import { RecordingStorage } from '../helpers/recording-storage';
import { newBucket, openTestStorage, startHarness, type Harness, populateDeps } from '../helpers/servers';
import { copyExample, readLocal, readObject, sha256 } from '../helpers/trees';

jest.setTimeout(180_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

/** Publishes and returns the data objects this publish wrote (PUTs), besides the outcome. */
async function publish(bucket: string, source: string, image: string, extra: RawOptions = {}) {
  const storage = new RecordingStorage(openTestStorage(bucket));
  const outcome = await populate(resolvePublishSettings({ source, prefix: 'app', image, ...extra }), populateDeps(harness, bucket, storage));
  const written = storage.events.filter((e) => e.phase === 'start' && e.key.startsWith('data/')).map((e) => e.key.slice('data/app/'.length));
  return { outcome, written: written.sort() };
}

async function expectBucketMatches(bucket: string, source: string, maxAge = 86400): Promise<void> {
  for (const f of (await scanSource(source)).files) {
    const stored = await readObject(bucket, dataKey('app', f.path));
    expect(sha256(stored.body)).toBe(sha256(readLocal(source, f.path)));
    expect(stored.cacheControl).toBe(cacheControl(f.path, maxAge));
  }
}

describe('a republish skips what the bucket already holds', () => {
  it('writes no data object for an unchanged tree, then exactly the changed file', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    const first = await publish(bucket, source, 'img:1');
    expect(first.outcome).toMatchObject({ files: 22, uploaded: 22, skipped: 0 });

    const same = await publish(bucket, source, 'img:2');
    expect(same.written).toEqual([]);
    expect(same.outcome).toMatchObject({ files: 22, uploaded: 0, skipped: 22 });

    // Same size, other bytes: never skipped.
    const target = path.join(source, 'index.html');
    const original = readLocal(source, 'index.html');
    writeFileSync(target, Buffer.from(original.toString('latin1').replace(/<\/html>/i, '</HTML>'), 'latin1'));
    expect(readLocal(source, 'index.html').length).toBe(original.length);
    const changed = await publish(bucket, source, 'img:3');
    expect(changed.written).toEqual(['index.html']);
    await expectBucketMatches(bucket, source);
  });

  it('skips unchanged multipart and exactly-one-part files, whose ETags it computes like S3', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    writeFileSync(path.join(source, 'big.wasm'), randomBytes(2 * PART_SIZE + 12345));
    writeFileSync(path.join(source, 'one-part.bin'), randomBytes(PART_SIZE));
    await publish(bucket, source, 'img:1');
    const again = await publish(bucket, source, 'img:2');
    expect(again.written).toEqual([]);

    writeFileSync(path.join(source, 'big.wasm'), randomBytes(2 * PART_SIZE + 12345));
    const changed = await publish(bucket, source, 'img:3');
    expect(changed.written).toEqual(['big.wasm']);
    await expectBucketMatches(bucket, source);
  });

  it('uploads again what another writer replaced, and everything when the max-age changes', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    await publish(bucket, source, 'img:1');
    const js = (await scanSource(source)).files.find((f) => f.path.endsWith('.js') && f.path !== ENTRY_POINT)!;
    // valpop (or anyone) rewrites the object with other bytes of the same size.
    await openTestStorage(bucket).put(dataKey('app', js.path), Buffer.alloc(js.size, 'x'), { contentType: 'application/javascript', cacheControl: 'no-cache' });
    const repaired = await publish(bucket, source, 'img:2');
    expect(repaired.written).toEqual([js.path]);
    await expectBucketMatches(bucket, source);

    const newAge = await publish(bucket, source, 'img:3', { cacheMaxAge: '600' });
    expect(newAge.written).toHaveLength(22);
    await expectBucketMatches(bucket, source, 600);
  });
});

describe("a republish takes unchanged files' ETags from the bucket's evidence", () => {
  /** Publishes with the tree hashed once the early view is in, so that every file can take its ETag from it. */
  async function publishAfterView(bucket: string, source: string, image: string) {
    const storage = new RecordingStorage(openTestStorage(bucket));
    const earlyView = new EarlyAppView();
    const listed = listSource(source);
    const scan = { listed: Promise.resolve(listed), scanned: earlyView.evidence().then(() => hashSource(listed, { evidence: earlyView.evidence() })) };
    const outcome = await populate(resolvePublishSettings({ source, prefix: 'app', image }), { ...populateDeps(harness, bucket, storage), scan, earlyView });
    const manifest = await readObject(bucket, outcome.manifestKey);
    return { outcome, written: dataWrites(storage), etags: parseManifest(outcome.manifestKey, manifest.body.toString('utf8')).etags };
  }

  it('hashes no ETag of an unchanged large file, records the right ones, and uploads again files replaced out of band with other bytes of their size', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    writeFileSync(path.join(source, 'big.wasm'), randomBytes(2 * PART_SIZE + 12345));
    await publish(bucket, source, 'img:1');
    const computed = Object.fromEntries((await scanSource(source)).files.map((f) => [f.path, f.etag]));

    const hashed = jest.spyOn(EtagHasher.prototype, 'update');
    try {
      const same = await publishAfterView(bucket, source, 'img:2');
      expect(same.written).toEqual([]);
      expect(same.etags).toEqual(computed);
      // The Job's hashing (on this thread under ts-jest) computed no multipart ETag: it came from the evidence.
      expect(hashed).not.toHaveBeenCalled();

      // Another writer puts other bytes of the same sizes, the large one in parts as pushcache does: its ETag has the same form.
      const js = (await scanSource(source)).files.find((f) => f.path.endsWith('.js') && f.path !== ENTRY_POINT)!;
      const store = openTestStorage(bucket);
      await store.put(dataKey('app', js.path), Buffer.alloc(js.size, 'x'), { contentType: 'application/javascript', cacheControl: 'no-cache' });
      const other = randomBytes(2 * PART_SIZE + 12345);
      await store.put(dataKey('app', 'big.wasm'), { size: other.length, open: () => Readable.from([other]) }, { contentType: 'application/wasm', cacheControl: 'no-cache' });
      const listed: ObjectInfo[] = [];
      for await (const o of store.list(dataKey('app', 'big.wasm'))) listed.push(o);
      expect(listed.map((o) => o.etag)).toEqual([expect.stringMatching(/-3$/)]);
      expect(listed[0].etag).not.toBe(computed['big.wasm']);

      const repaired = await publishAfterView(bucket, source, 'img:3');
      expect(repaired.written).toEqual(['big.wasm', js.path].sort());
      expect(repaired.etags).toEqual(computed);
      expect(hashed).toHaveBeenCalled();
      await expectBucketMatches(bucket, source);
    } finally {
      hashed.mockRestore();
    }
  });
});

/** Counts listings of the app's objects, and runs `change` once the first (the Job's early view) has been read through. */
class ListingWatch extends RecordingStorage {
  listings = 0;
  constructor(
    inner: Storage,
    private readonly change: () => Promise<void> = async () => undefined,
  ) {
    super(inner);
  }
  override async *list(prefix: string): AsyncIterable<ObjectInfo> {
    yield* super.list(prefix);
    if (prefix !== dataKey('app', '')) return;
    if (++this.listings === 1) await this.change();
  }
}

const dataWrites = (storage: RecordingStorage) =>
  storage.events
    .filter((e) => e.phase === 'start' && e.key.startsWith('data/'))
    .map((e) => e.key.slice('data/app/'.length))
    .sort();

describe('the listing a republish decides from', () => {
  it('is read while the Job hashes, and not again at go-live when the app lock granted no change since', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    const settings = (image: string) => resolvePublishSettings({ source, prefix: 'app', image, prune: false });
    await populate(settings('img:1'), populateDeps(harness, bucket));

    // The lock workflow of the first publish is still running: it has counted that publish's go-live turn.
    const counted = new ListingWatch(openTestStorage(bucket));
    expect(await populate(settings('img:2'), populateDeps(harness, bucket, counted))).toMatchObject({ files: 22, skipped: 22 });
    expect(counted.listings).toBe(1);
    expect(dataWrites(counted)).toEqual([]);

    // No lock workflow running when the view is read: the one that grants the turn starts after it.
    await harness.client.workflow.getHandle(appLockWorkflowId(bucket, 'app')).terminate('test: an idle lock');
    const idle = new ListingWatch(openTestStorage(bucket));
    expect(await populate(settings('img:3'), populateDeps(harness, bucket, idle))).toMatchObject({ files: 22, skipped: 22 });
    expect(idle.listings).toBe(1);
    await expectBucketMatches(bucket, source);
  });

  it('is listed again at go-live after another publish went live since, and what that one changed is written back', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    await publish(bucket, source, 'img:1');
    const js = (await scanSource(source)).files.find((f) => f.path.endsWith('.js') && f.path !== ENTRY_POINT)!;
    const other = copyExample();
    writeFileSync(path.join(other, js.path), Buffer.alloc(js.size + 1, 'y'));
    let otherLive!: Promise<PopulateOutcome>;
    const storage = new ListingWatch(openTestStorage(bucket), async () => {
      // Between the early read and this publish's start: another build, which rewrites one file, goes live.
      otherLive = populate(resolvePublishSettings({ source: other, prefix: 'app', image: 'img:other', prune: false }), populateDeps(harness, bucket));
      await otherLive;
    });
    // The publish starts once its tree is listed: here, once the other build is live.
    const listed = (async () => {
      while (!otherLive) await sleep(50);
      await otherLive;
      return listSource(source);
    })();
    const scan = { listed, scanned: listed.then((found) => hashSource(found)) };
    const outcome = await populate(resolvePublishSettings({ source, prefix: 'app', image: 'img:2', prune: false }), { ...populateDeps(harness, bucket, storage), scan });
    expect((await otherLive).uploaded).toBe(1);
    // Staging decided from the early view, read before that build went live: everything was in place then.
    expect(outcome).toMatchObject({ files: 22, skipped: 22 });
    expect(storage.listings).toBe(2);
    expect(dataWrites(storage)).toEqual([js.path]);
    await expectBucketMatches(bucket, source);
  });
});

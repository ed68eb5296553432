import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolvePublishSettings, type RawOptions } from '../../src/config';
import { cacheControl } from '../../src/contract/headers';
import { dataKey, ENTRY_POINT } from '../../src/contract/keys';
import { populate } from '../../src/client/populate';
import { PART_SIZE } from '../../src/storage/etag';
import { scanSource } from '../../src/source/scan';
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

/** Runs `change` once the first listing of the app's objects (the Job's early view) has been read through. */
class ChangedAfterFirstListing extends RecordingStorage {
  private changed = false;
  constructor(
    inner: Storage,
    private readonly change: () => Promise<void>,
  ) {
    super(inner);
  }
  override async *list(prefix: string): AsyncIterable<ObjectInfo> {
    yield* super.list(prefix);
    if (prefix === dataKey('app', '') && !this.changed) {
      this.changed = true;
      await this.change();
    }
  }
}

describe('the view a republish decides from is read while the Job hashes', () => {
  it('writes at go-live what changed in the bucket after that view was read', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    await publish(bucket, source, 'img:1');
    const [gone, rewritten] = (await scanSource(source)).files.filter((f) => f.path.endsWith('.js') && f.path !== ENTRY_POINT);
    const direct = openTestStorage(bucket);
    const storage = new ChangedAfterFirstListing(direct, async () => {
      // Between the early read and the app lock: a hand deletes one file, another writer rewrites one.
      await direct.delete([dataKey('app', gone.path)]);
      await direct.put(dataKey('app', rewritten.path), Buffer.alloc(rewritten.size, 'x'), { contentType: 'application/javascript', cacheControl: 'no-cache' });
    });
    const outcome = await populate(resolvePublishSettings({ source, prefix: 'app', image: 'img:2' }), populateDeps(harness, bucket, storage));
    // Staging decided from the early view, taken before the change: everything was in place then.
    expect(outcome).toMatchObject({ files: 22, skipped: 22 });
    const written = storage.events.filter((e) => e.phase === 'start' && e.key.startsWith('data/')).map((e) => e.key.slice('data/app/'.length));
    expect(written.sort()).toEqual([gone.path, rewritten.path].sort());
    await expectBucketMatches(bucket, source);
  });
});

import { readEarlierBuilds } from '../../src/bucket/earlier-builds';
import { manifestKey } from '../../src/contract/keys';
import { renderManifest } from '../../src/contract/manifest';
import { MemoryStorage } from '../../src/storage/memory';

const sha = (c: string) => c.repeat(64);

/** A store that counts the reads in flight at once, each held for a few ms as a remote store would. */
class SlowReads extends MemoryStorage {
  inFlight = 0;
  mostInFlight = 0;
  readonly reads: string[] = [];
  failOn?: string;

  override async get(key: string): Promise<Buffer | undefined> {
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    this.reads.push(key);
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (key === this.failOn) throw new Error(`read of ${key} failed`);
      return await super.get(key);
    } finally {
      this.inFlight--;
    }
  }
}

async function withBuilds(builds: Array<{ timestamp: number; files: Record<string, string>; raw?: string }>): Promise<SlowReads> {
  const storage = new SlowReads();
  for (const { timestamp, files, raw } of builds) {
    const body =
      raw ??
      renderManifest({
        files: Object.entries(files).map(([path, c]) => ({ path, size: 1, sha256: sha(c), etag: `e-${c}` })),
        image: `img:${timestamp}`,
        timestamp,
        publishId: `run-${timestamp}`,
      });
    await storage.put(manifestKey('app', timestamp), Buffer.from(body), { contentType: 'application/json', cacheControl: 'no-store' });
  }
  return storage;
}

describe('readEarlierBuilds', () => {
  it('reads the five newest manifests, two at a time, and keeps what the newest build naming a path recorded', async () => {
    const storage = await withBuilds([1, 2, 3, 4, 5, 6].map((t) => ({ timestamp: 1000 + t, files: { 'a.js': String(t), [`only-${t}.js`]: String(t) } })));
    const { earlier, newest } = await readEarlierBuilds(storage, 'app');
    expect(newest?.key).toBe(manifestKey('app', 1006));
    expect(earlier.get('a.js')).toMatchObject({ sha256: sha('6'), etag: 'e-6' });
    expect(earlier.get('only-2.js')).toMatchObject({ sha256: sha('2') });
    // The oldest of six is beyond the five read.
    expect(earlier.has('only-1.js')).toBe(false);
    expect(storage.reads).toHaveLength(5);
    expect(storage.mostInFlight).toBe(2);
  });

  it('stops at a corrupt manifest: what older builds say of the paths it named may be stale', async () => {
    const storage = await withBuilds([
      { timestamp: 1001, files: { 'old.js': '1' } },
      { timestamp: 1002, files: {}, raw: '{"files": [' },
      { timestamp: 1003, files: { 'a.js': '3' } },
    ]);
    const { earlier, newest } = await readEarlierBuilds(storage, 'app');
    expect(newest?.key).toBe(manifestKey('app', 1003));
    expect([...earlier.keys()]).toEqual(['a.js']);
  });

  it('fails with the store when a read fails, whichever manifest it was', async () => {
    const storage = await withBuilds([1, 2, 3].map((t) => ({ timestamp: 1000 + t, files: { 'a.js': String(t) } })));
    storage.failOn = manifestKey('app', 1002);
    await expect(readEarlierBuilds(storage, 'app')).rejects.toThrow(`read of ${manifestKey('app', 1002)} failed`);
  });
});

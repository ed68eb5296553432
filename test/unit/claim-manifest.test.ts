import { commitManifest, findCommitted, MAX_TIMESTAMP_PROBES, writtenBy } from '../../src/bucket/claim-manifest';
import { manifestKey, manifestPrefix, stagingKey } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import type { StagingRecord } from '../../src/contract/staging';
import { CorruptRecordError } from '../../src/errors';
import { MemoryStorage } from '../../src/storage/memory';
import type { Storage } from '../../src/storage/storage';

/** Committing a build's manifest, over the in-memory backend: no server, no Temporal. */

const T = 1_700_000_000;
const JSON_WRITE = { contentType: 'application/json', cacheControl: 'no-store' };
const SHA = 'a'.repeat(64);

async function stage(storage: Storage, publishId: string, files = ['fed-mods.json', 'app.js']): Promise<string> {
  const record: StagingRecord = {
    version: 1,
    publishId,
    app: 'app',
    image: `img:${publishId}`,
    timestamp: T,
    listDigest: 'digest',
    files: files.map((path) => ({ path, size: 1, sha256: SHA })),
  };
  const key = stagingKey('app', publishId);
  await storage.put(key, Buffer.from(JSON.stringify(record)), JSON_WRITE);
  return key;
}

async function keysUnder(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of storage.list(prefix)) keys.push(o.key);
  return keys;
}

async function manifestAt(storage: Storage, key: string) {
  return parseManifest(key, (await storage.get(key))!.toString('utf8'));
}

describe('commitManifest', () => {
  it('writes the manifest from the staging record at the build timestamp, and removes the record', async () => {
    const storage = new MemoryStorage();
    const staging = await stage(storage, 'p1');
    expect(await commitManifest(storage, { app: 'app', stagingKey: staging, publishId: 'p1', timestamp: T })).toEqual({ manifestKey: manifestKey('app', T), timestamp: T });
    expect(await manifestAt(storage, manifestKey('app', T))).toMatchObject({ files: ['fed-mods.json', 'app.js'], image: 'img:p1', publishId: 'p1', timestamp: T });
    expect(await storage.get(staging)).toBeUndefined();
  });

  it('gives a second build of the same second the next free second, never writing over the first', async () => {
    const storage = new MemoryStorage();
    const first = await commitManifest(storage, { app: 'app', stagingKey: await stage(storage, 'p1'), publishId: 'p1', timestamp: T });
    const second = await commitManifest(storage, { app: 'app', stagingKey: await stage(storage, 'p2', ['fed-mods.json']), publishId: 'p2', timestamp: T });
    const third = await commitManifest(storage, { app: 'app', stagingKey: await stage(storage, 'p3'), publishId: 'p3', timestamp: T });

    expect([first.timestamp, second.timestamp, third.timestamp]).toEqual([T, T + 1, T + 2]);
    expect(await keysUnder(storage, manifestPrefix('app'))).toEqual([T, T + 1, T + 2].map((t) => manifestKey('app', t)));
    expect(await manifestAt(storage, first.manifestKey)).toMatchObject({ publishId: 'p1', files: ['fed-mods.json', 'app.js'] });
    expect(await manifestAt(storage, second.manifestKey)).toMatchObject({ publishId: 'p2', files: ['fed-mods.json'], timestamp: T + 1 });
  });

  it('recognises its own manifest when retried after the write, with or without the staging record', async () => {
    const storage = new MemoryStorage();
    // Another build already holds the build's second.
    await commitManifest(storage, { app: 'app', stagingKey: await stage(storage, 'other'), publishId: 'other', timestamp: T });
    const staging = await stage(storage, 'p1');
    const input = { app: 'app', stagingKey: staging, publishId: 'p1', timestamp: T };

    // An attempt that wrote the manifest but failed before removing the staging record.
    const written = await commitManifest(storage, input);
    await stage(storage, 'p1');
    expect(await commitManifest(storage, input)).toEqual(written);
    // An attempt that got as far as removing it.
    expect(await commitManifest(storage, input)).toEqual(written);

    expect(written).toEqual({ manifestKey: manifestKey('app', T + 1), timestamp: T + 1 });
    expect(await keysUnder(storage, manifestPrefix('app'))).toEqual([manifestKey('app', T), manifestKey('app', T + 1)]);
    expect(await storage.get(staging)).toBeUndefined();
    expect(await findCommitted(storage, input)).toEqual(written);
  });

  it('fails, naming the record, when neither the staging record nor its manifest exists', async () => {
    const storage = new MemoryStorage();
    const err = await commitManifest(storage, { app: 'app', stagingKey: stagingKey('app', 'gone'), publishId: 'gone', timestamp: T }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptRecordError);
    expect((err as Error).message).toMatch(/staging record of this publish is missing and no manifest was written/);
  });

  it('gives up when every second it may take is taken by other builds', async () => {
    const storage = new MemoryStorage();
    for (let ts = T; ts < T + MAX_TIMESTAMP_PROBES; ts++) await storage.put(manifestKey('app', ts), Buffer.from('{"files":[],"publishId":"x"}'), JSON_WRITE);
    const staging = await stage(storage, 'p1');
    await expect(commitManifest(storage, { app: 'app', stagingKey: staging, publishId: 'p1', timestamp: T })).rejects.toThrow(/every manifest key from .* is taken/);
    // The staging record stays: the build is still in flight, and a prune must keep its files.
    expect(await storage.get(staging)).toBeDefined();
  });
});

describe('writtenBy', () => {
  it('tells its own manifest from another build\'s, a missing one and an unreadable one', async () => {
    const storage = new MemoryStorage();
    await storage.put('manifests/app/1', Buffer.from('{"files":[],"publishId":"p1"}'), JSON_WRITE);
    await storage.put('manifests/app/2', Buffer.from('not json'), JSON_WRITE);
    expect(await writtenBy(storage, 'manifests/app/1', 'p1')).toBe(true);
    expect(await writtenBy(storage, 'manifests/app/1', 'p2')).toBe(false);
    expect(await writtenBy(storage, 'manifests/app/2', 'p1')).toBe(false);
    expect(await writtenBy(storage, 'manifests/app/3', 'p1')).toBe(false);
  });
});

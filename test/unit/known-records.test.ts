import { commitManifest } from '../../src/bucket/claim-manifest';
import { KnownStagingRecords } from '../../src/bucket/known-records';
import { manifestKey, stagingKey } from '../../src/contract/keys';
import { parseStagingRecord, type StagingRecord } from '../../src/contract/staging';
import { CorruptRecordError } from '../../src/errors';
import { MemoryStorage } from '../../src/storage/memory';

/** The Job's memory of the staging record it wrote: read again without parsing, never when the bytes differ or are gone. */

const T = 1_700_000_000;
const JSON_WRITE = { contentType: 'application/json', cacheControl: 'no-store' };
const KEY = stagingKey('app', 'p1');

function record(overrides: Partial<StagingRecord> = {}): StagingRecord {
  return {
    version: 1,
    publishId: 'p1',
    app: 'app',
    image: 'img:1',
    valpopImage: 'pc:1',
    timestamp: T,
    listDigest: 'digest',
    // As a scan hands them over: a field the record does not have, and one file without an ETag.
    files: [
      { path: 'fed-mods.json', size: 2, sha256: 'a'.repeat(64), etag: 'e1', mtimeMs: 5 } as StagingRecord['files'][number],
      { path: 'app.js', size: 3, sha256: 'b'.repeat(64) },
    ],
    cacheMaxAge: 60,
    skipped: ['app.js'],
    deferred: [],
    copies: { 'x.js': { from: 'data/other/x.js', etag: 'e2' } },
    reasons: { 'fed-mods.json': 'new', 'app.js': 'same-key' },
    ...overrides,
  };
}

async function write(storage: MemoryStorage, known: KnownStagingRecords | undefined, r: StagingRecord, key = KEY): Promise<Buffer> {
  const body = Buffer.from(JSON.stringify(r));
  await storage.put(key, body, JSON_WRITE);
  known?.wrote(key, body, r);
  return body;
}

describe('KnownStagingRecords', () => {
  it('answers a read of the bytes it wrote from memory, as a parse of them would', async () => {
    const storage = new MemoryStorage();
    const known = new KnownStagingRecords();
    const written = record();
    const body = await write(storage, known, written);
    const first = await known.read(storage, KEY);
    expect(first).toEqual(parseStagingRecord(KEY, body.toString('utf8')));
    expect(await known.read(storage, KEY)).toBe(first);
    // Later changes to the scan's file objects do not reach the remembered record.
    written.files[1]!.etag = 'changed';
    expect((await known.read(storage, KEY))!.files[1]).toEqual({ path: 'app.js', size: 3, sha256: 'b'.repeat(64) });
  });

  it('remembers a record it read and parsed', async () => {
    const storage = new MemoryStorage();
    await write(storage, undefined, record());
    const known = new KnownStagingRecords();
    const first = await known.read(storage, KEY);
    expect(first?.publishId).toBe('p1');
    expect(await known.read(storage, KEY)).toBe(first);
  });

  it('parses other bytes at the key, and checks them', async () => {
    const storage = new MemoryStorage();
    const known = new KnownStagingRecords();
    const mine = await write(storage, known, record());
    // Same length, other bytes: only the digest tells them apart.
    const other = await write(storage, undefined, record({ image: 'img:2' }));
    expect(other.length).toBe(mine.length);
    const read = await known.read(storage, KEY);
    expect(read?.image).toBe('img:2');
    await storage.put(KEY, Buffer.from('{"version":1}'), JSON_WRITE);
    await expect(known.read(storage, KEY)).rejects.toBeInstanceOf(CorruptRecordError);
  });

  it('does not answer for another key', async () => {
    const storage = new MemoryStorage();
    const known = new KnownStagingRecords();
    await write(storage, known, record());
    const otherKey = stagingKey('app', 'p2');
    await write(storage, undefined, record({ publishId: 'p2' }), otherKey);
    expect((await known.read(storage, otherKey))?.publishId).toBe('p2');
  });

  it('reads a record that is gone as gone, and forgets it', async () => {
    const storage = new MemoryStorage();
    const known = new KnownStagingRecords();
    const body = await write(storage, known, record());
    const remembered = await known.read(storage, KEY);
    await storage.delete([KEY]);
    expect(await known.read(storage, KEY)).toBeUndefined();
    // The same bytes written again are parsed afresh: nothing was answered from memory.
    await storage.put(KEY, body, JSON_WRITE);
    const again = await known.read(storage, KEY);
    expect(again).toEqual(remembered);
    expect(again).not.toBe(remembered);
  });

  it('forgets the record commitManifest deletes', async () => {
    const storage = new MemoryStorage();
    const known = new KnownStagingRecords();
    const body = await write(storage, known, record());
    const remembered = await known.read(storage, KEY);
    const input = { app: 'app', stagingKey: KEY, publishId: 'p1', timestamp: T };
    expect(await commitManifest(storage, input, known)).toEqual({ manifestKey: manifestKey('app', T), timestamp: T });
    expect(await storage.get(KEY)).toBeUndefined();
    await storage.put(KEY, body, JSON_WRITE);
    expect(await known.read(storage, KEY)).not.toBe(remembered);
  });

  it('writes the same manifest from memory as from a parse', async () => {
    const fromMemory = new MemoryStorage();
    const known = new KnownStagingRecords();
    await write(fromMemory, known, record());
    const parsed = new MemoryStorage();
    await write(parsed, undefined, record());
    const input = { app: 'app', stagingKey: KEY, publishId: 'p1', timestamp: T };
    await commitManifest(fromMemory, input, known);
    await commitManifest(parsed, input);
    const manifest = (await fromMemory.get(manifestKey('app', T)))!.toString('utf8');
    expect(manifest).toBe((await parsed.get(manifestKey('app', T)))!.toString('utf8'));
    expect(manifest).toContain('"etags":{"fed-mods.json":"e1"}');
  });
});

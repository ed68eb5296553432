import { EarlyAppView } from '../../src/bucket/app-view';
import { dataKey } from '../../src/contract/keys';
import { MemoryStorage } from '../../src/storage/memory';
import type { ObjectInfo, Storage } from '../../src/storage/storage';

async function storageWith(keys: string[]): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  for (const key of keys) await storage.put(key, Buffer.from(key), { contentType: 'text/plain', cacheControl: 'no-cache' });
  return storage;
}

describe('EarlyAppView', () => {
  it('hands the view of its app out once', async () => {
    const view = new EarlyAppView();
    view.start(await storageWith([dataKey('app', 'a.js'), dataKey('other', 'b.js')]), 'app');
    expect([...(await view.take('app'))!.existing.keys()]).toEqual(['a.js']);
    expect(await view.take('app')).toBeUndefined();
  });

  it('gives nothing for another app, or once it is older than a minute', async () => {
    const storage = await storageWith([dataKey('app', 'a.js')]);
    const other = new EarlyAppView();
    other.start(storage, 'app');
    expect(await other.take('else')).toBeUndefined();

    let now = 0;
    const stale = new EarlyAppView(() => now);
    stale.start(storage, 'app');
    now = 60_001;
    expect(await stale.take('app')).toBeUndefined();
  });

  it('turns a failed read into no view, without an unhandled rejection', async () => {
    const failing = refusingStorage();
    const view = new EarlyAppView();
    view.start(failing, 'app');
    expect(await view.take('app')).toBeUndefined();
  });

  it('gives the scan its evidence, asked before the read starts, whatever its age and however often, without taking it from staging', async () => {
    let now = 0;
    const view = new EarlyAppView(() => now);
    const evidence = view.evidence();
    view.start(await storageWith([dataKey('app', 'a.js')]), 'app');
    expect([...(await evidence)!.existing.keys()]).toEqual(['a.js']);
    expect(await view.evidence()).toBe(await evidence);
    expect(await view.take('app')).toBeDefined();
    now = 60_001;
    expect((await view.evidence())!.existing.size).toBe(1);
  });

  it('gives the scan no evidence when the read fails', async () => {
    const failing = refusingStorage();
    const view = new EarlyAppView();
    view.start(failing, 'app');
    expect(await view.evidence()).toBeUndefined();
  });
});

/** A store whose every listing is refused. */
function refusingStorage(): Storage {
  return new (class extends MemoryStorage {
    override list(): AsyncIterable<ObjectInfo> {
      throw new Error('refused');
    }
  })() as Storage;
}

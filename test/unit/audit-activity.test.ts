import { createHash } from 'node:crypto';
import { createAuditActivities } from '../../src/activities/audit';
import { dataKey, goLiveRecordKey, manifestKey } from '../../src/contract/keys';
import { renderManifest } from '../../src/contract/manifest';
import { MemoryStorage } from '../../src/storage/memory';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const W = { contentType: 'application/octet-stream', cacheControl: 'no-store' };

/** One build of `app` in a memory store: its files, its manifest, its live fed-mods.json. */
async function published(files: Record<string, string>) {
  const storage = new MemoryStorage();
  const records = Object.entries(files).map(([path, text]) => {
    const body = Buffer.from(text);
    return { path, size: body.length, sha256: sha(body), etag: md5(body) };
  });
  for (const [path, text] of Object.entries(files)) await storage.put(dataKey('app', path), Buffer.from(text), W);
  await storage.put(manifestKey('app', 100), Buffer.from(renderManifest({ files: records, image: 'img', timestamp: 100, publishId: 'p1' })), W);
  return storage;
}

const FILES = { 'fed-mods.json': '{"app":{}}', 'index.html': '<html></html>', 'js/a.js': 'a()' };

describe('the audit activity', () => {
  it('reads one listing, the manifests and the live fed-mods.json, and reports a clean app ok', async () => {
    const storage = await published(FILES);
    const acts = createAuditActivities({ openStorage: () => storage });
    expect(await acts.auditApp({ bucket: 'b', app: 'app', listLimit: 20 })).toMatchObject({ app: 'app', ok: true, objects: 3, missingCount: 0 });
  });

  it('an unreadable manifest is reported with its key, not fatal', async () => {
    const storage = await published(FILES);
    await storage.put(manifestKey('app', 50), Buffer.from('{ nope'), W);
    const r = await createAuditActivities({ openStorage: () => storage }).auditApp({ bucket: 'b', app: 'app', listLimit: 20 });
    expect(r.unreadable).toEqual([{ key: manifestKey('app', 50), problem: expect.stringContaining(manifestKey('app', 50)) }]);
    expect(r.missingCount).toBe(0);
  });

  it('looks again while a go-live step is under way, and reports what is left once it is done', async () => {
    const storage = await published(FILES);
    // Mid go-live: an entry file rewritten before the new manifest names it.
    await storage.put(goLiveRecordKey('app', 'p2'), Buffer.from('{}'), W);
    await storage.put(dataKey('app', 'index.html'), Buffer.from('<html>new</html>'), W);
    setTimeout(() => {
      // The step fails and puts the previous build back; its record goes.
      void storage.put(dataKey('app', 'index.html'), Buffer.from(FILES['index.html']), W).then(() => storage.delete([goLiveRecordKey('app', 'p2')]));
    }, 20);
    const r = await createAuditActivities({ openStorage: () => storage, settle: { attempts: 50, delayMs: 10 } }).auditApp({ bucket: 'b', app: 'app', listLimit: 20 });
    expect(r).toMatchObject({ ok: true });
    expect(r.underWay).toBeUndefined();
  });

  it('flags problems seen while the app stayed busy as underWay', async () => {
    const storage = await published(FILES);
    await storage.put(goLiveRecordKey('app', 'p2'), Buffer.from('{}'), W);
    await storage.delete([dataKey('app', 'js/a.js')]);
    const r = await createAuditActivities({ openStorage: () => storage, settle: { attempts: 2, delayMs: 1 } }).auditApp({ bucket: 'b', app: 'app', listLimit: 20 });
    expect(r).toMatchObject({ ok: false, underWay: true, missing: [{ path: 'js/a.js', build: manifestKey('app', 100) }] });
  });
});

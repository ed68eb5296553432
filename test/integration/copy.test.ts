import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { resolvePublishSettings, type RawOptions } from '../../src/config';
import { populate } from '../../src/client/populate';
import { cacheControl, contentType } from '../../src/contract/headers';
import { dataKey } from '../../src/contract/keys';
import { scanSource } from '../../src/source/scan';
import { PART_SIZE } from '../../src/storage/etag';
import { S3Storage } from '../../src/storage/s3';
import type { CopyFromOptions, CopyOutcome, ObjectBody, ObjectInfo, Storage, WriteOptions } from '../../src/storage/storage';
import { newBucket, openTestStorage, populateDeps, startHarness, testServers, type Harness } from '../helpers/servers';
import { readObject, sha256 } from '../helpers/trees';

/**
 * Server-side copies across apps (issue 18) against the real Temporal and MinIO: what a publish
 * copies, with whose headers, and what it uploads instead when a source is gone or changed.
 */

jest.setTimeout(180_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

/** Counts the data writes a publish makes, uploads and copies apart; `beforeCopy` runs before each copy request. */
class CountingStorage implements Storage {
  readonly description: string;
  puts: string[] = [];
  copies: Array<{ from: string; to: string; outcome: CopyOutcome }> = [];
  constructor(
    private readonly inner: Storage,
    private readonly beforeCopy: (from: string) => Promise<void> = async () => undefined,
  ) {
    this.description = inner.description;
  }
  checkAccess = () => this.inner.checkAccess();
  async put(key: string, body: ObjectBody, options: WriteOptions): Promise<boolean> {
    if (key.startsWith('data/')) this.puts.push(key);
    return this.inner.put(key, body, options);
  }
  copy = (from: string, to: string) => this.inner.copy(from, to);
  putIfAbsent = (key: string, body: Buffer, options: WriteOptions) => this.inner.putIfAbsent(key, body, options);
  get = (key: string) => this.inner.get(key);
  list = (prefix: string): AsyncIterable<ObjectInfo> => this.inner.list(prefix);
  listChildren = (prefix: string) => this.inner.listChildren(prefix);
  delete = (keys: readonly string[]) => this.inner.delete(keys);
  async copyFrom(from: string, to: string, options: CopyFromOptions): Promise<CopyOutcome> {
    await this.beforeCopy(from);
    const outcome = await this.inner.copyFrom!(from, to, options);
    this.copies.push({ from, to, outcome });
    return outcome;
  }
}

const VENDOR = randomBytes(3000);
const FONT = randomBytes(5000);
// Above one part: copied part by part, so it gets the ETag an upload would.
const BIG = randomBytes(PART_SIZE + 4321);

/** One app's build: the shared vendor files under the app's own paths, and its own code. */
function build(app: string, big = false): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `pushcache-copy-${app}-`));
  const files: Record<string, Buffer> = {
    [`${app}/vendor/lib.js`]: VENDOR,
    [`fonts/${app}.woff2`]: FONT,
    [`${app}.own.js`]: Buffer.from(`console.log(${JSON.stringify(app)});`),
    'fed-mods.json': Buffer.from(JSON.stringify({ [app]: { entry: [`/apps/${app}/${app}.own.js`] } })),
    ...(big ? { 'media/big.bin': BIG } : {}),
  };
  for (const [p, bytes] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), bytes);
  }
  return dir;
}

const events: string[] = [];
async function publish(bucket: string, app: string, source: string, storage: Storage, extra: RawOptions = {}) {
  const deps = { ...populateDeps(harness, bucket, storage), report: (_: string, e?: { event: string }) => void events.push(e?.event ?? '') };
  return populate(resolvePublishSettings({ source, prefix: app, image: `img:${app}`, ...extra }), deps);
}

/** Every file of the build is in the bucket byte for byte, with this app's own headers. */
async function expectPublished(bucket: string, app: string, source: string, maxAge: number): Promise<void> {
  for (const f of (await scanSource(source)).files) {
    const stored = await readObject(bucket, dataKey(app, f.path));
    expect(sha256(stored.body)).toBe(f.sha256);
    expect(stored.contentType).toBe(contentType(f.path));
    expect(stored.cacheControl).toBe(cacheControl(f.path, maxAge));
    expect(stored.metadata?.sha256).toBe(f.sha256);
  }
}

describe('files the bucket holds under another app are copied, not uploaded', () => {
  it('copies identical files with this app’s own headers, and a republish of the copy skips them', async () => {
    const bucket = await newBucket();
    const first = new CountingStorage(openTestStorage(bucket));
    expect(await publish(bucket, 'one', build('one', true), first)).toMatchObject({ files: 5, uploaded: 5, copied: 0, skipped: 0 });
    expect(first.copies).toEqual([]);

    const second = new CountingStorage(openTestStorage(bucket));
    const source = build('two', true);
    const outcome = await publish(bucket, 'two', source, second, { cacheMaxAge: '600' });
    expect(outcome).toMatchObject({ files: 5, uploaded: 2, copied: 3, skipped: 0 });
    expect(second.copies.map((c) => [c.from, c.to, c.outcome]).sort()).toEqual(
      [
        ['data/one/fonts/one.woff2', 'data/two/fonts/two.woff2', 'copied'],
        ['data/one/media/big.bin', 'data/two/media/big.bin', 'copied'],
        ['data/one/one/vendor/lib.js', 'data/two/two/vendor/lib.js', 'copied'],
      ].sort(),
    );
    // Only this build's own code and fed-mods.json were sent.
    expect(second.puts.sort()).toEqual(['data/two/fed-mods.json', 'data/two/two.own.js']);
    await expectPublished(bucket, 'two', source, 600);

    // The copies got the ETags uploads would have (the big one in parts), so the next build skips
    // them, and fed-mods.json, already this build's, too.
    const again = new CountingStorage(openTestStorage(bucket));
    expect(await publish(bucket, 'two', source, again, { cacheMaxAge: '600', image: 'img:two-again' })).toMatchObject({ uploaded: 0, copied: 0, skipped: 5 });
    expect(again.puts).toEqual([]);
  });

  it('uploads instead when the source is deleted between staging and the copy', async () => {
    const bucket = await newBucket();
    await publish(bucket, 'one', build('one'), openTestStorage(bucket));
    const direct = openTestStorage(bucket);
    const storage = new CountingStorage(openTestStorage(bucket), async (from) => {
      if (from === 'data/one/one/vendor/lib.js') await direct.delete([from]);
    });
    const source = build('two');
    expect(await publish(bucket, 'two', source, storage)).toMatchObject({ uploaded: 3, copied: 1 });
    expect(storage.copies.find((c) => c.from === 'data/one/one/vendor/lib.js')?.outcome).toBe('precondition-failed');
    expect(storage.puts).toContain('data/two/two/vendor/lib.js');
    await expectPublished(bucket, 'two', source, 86400);
  });

  it('never copies from a source rewritten with other bytes of the same size (ETag precondition)', async () => {
    const bucket = await newBucket();
    await publish(bucket, 'one', build('one'), openTestStorage(bucket));
    const direct = openTestStorage(bucket);
    const storage = new CountingStorage(openTestStorage(bucket), async (from) => {
      if (from === 'data/one/fonts/one.woff2') await direct.put(from, Buffer.alloc(FONT.length, 7), { contentType: 'font/woff2', cacheControl: 'no-cache' });
    });
    const source = build('two');
    expect(await publish(bucket, 'two', source, storage)).toMatchObject({ uploaded: 3, copied: 1 });
    expect(storage.copies.find((c) => c.from === 'data/one/fonts/one.woff2')?.outcome).toBe('precondition-failed');
    await expectPublished(bucket, 'two', source, 86400);
  });

  it('--no-copy uploads everything', async () => {
    const bucket = await newBucket();
    await publish(bucket, 'one', build('one'), openTestStorage(bucket));
    const storage = new CountingStorage(openTestStorage(bucket));
    const source = build('two');
    const outcome = await publish(bucket, 'two', source, storage, { copy: false });
    expect(outcome).toMatchObject({ uploaded: 4, skipped: 0 });
    expect(outcome.copied).toBeUndefined();
    expect(storage.copies).toEqual([]);
    expect(storage.puts).toHaveLength(4);
    await expectPublished(bucket, 'two', source, 86400);
  });
});

/** An S3 endpoint that answers every CopyObject (a PUT with x-amz-copy-source) with 501 NotImplemented, and forwards the rest to MinIO. */
async function startNoCopyProxy(target: string) {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const stats = { refusedCopies: 0 };
  const server = http.createServer((req, res) => {
    if (req.method === 'PUT' && req.headers['x-amz-copy-source']) {
      stats.refusedCopies++;
      req.resume();
      res.writeHead(501, { 'content-type': 'application/xml' }).end("<?xml version='1.0' encoding='UTF-8'?><Error><Code>NotImplemented</Code><Message>not implemented</Message></Error>");
      return;
    }
    const forwarded = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', (err) => res.destroy(err));
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

describe('a store that refuses CopyObject', () => {
  it('gets uploads instead, and is not asked again by the same process', async () => {
    const proxy = await startNoCopyProxy(testServers().minioEndpoint);
    try {
      const bucket = await newBucket();
      const throughProxy = () => S3Storage.open({ endpoint: proxy.endpoint, bucket, credentials: testServers().credentials });
      await publish(bucket, 'one', build('one'), throughProxy());
      const source = build('two');
      expect(await publish(bucket, 'two', source, throughProxy())).toMatchObject({ uploaded: 4, copied: 0 });
      expect(proxy.stats.refusedCopies).toBeGreaterThanOrEqual(1);
      await expectPublished(bucket, 'two', source, 86400);

      const refused = proxy.stats.refusedCopies;
      expect(await publish(bucket, 'three', build('three'), throughProxy())).toMatchObject({ uploaded: 4, copied: 0 });
      expect(proxy.stats.refusedCopies).toBe(refused);
      // One warning for the store, not one per file or per publish.
      expect(events.filter((e) => e === 'copy-unsupported')).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});

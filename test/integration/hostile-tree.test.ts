import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { dataKey, manifestPrefix } from '../../src/contract/keys';
import { SHORT_LIVED_CACHE_CONTROL } from '../../src/contract/headers';
import { parseManifest } from '../../src/contract/manifest';
import { runCli } from '../helpers/cli';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness, type Harness } from '../helpers/servers';
import { copyExample, readObject } from '../helpers/trees';

jest.setTimeout(120_000);

const NFC = 'caf\u00e9.js';
const NFD = 'cafe\u0301.js';
// Segments stay under the 255-byte name limit of the file system.
const DIRS = `${'d'.repeat(200)}/${'e'.repeat(200)}/${'f'.repeat(200)}/${'g'.repeat(200)}/`;
const LONGEST = `${DIRS}${'h'.repeat(93)}.js`; // 900 bytes, the most relPathProblem allows
const TOO_LONG = `${DIRS}${'h'.repeat(94)}.js`; // 901 bytes

function put(root: string, rel: string, content: string): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), content);
}

describe('hostile trees, published through the CLI', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => harness?.close());

  it('publishes NFC and NFD forms of a name under their own keys, empty files with size 0, and a 900-byte path', async () => {
    expect(Buffer.byteLength(LONGEST)).toBe(900);
    const bucket = await newBucket('hostile');
    const source = copyExample();
    put(source, NFC, 'composed');
    put(source, NFD, 'decomposed');
    put(source, 'empty.js', '');
    put(source, 'nested/index.html', '');
    put(source, LONGEST, 'deep');

    const r = await runCli(['populate', '-s', source, '-r', 'hostile', '-i', 'img:hostile', '-g', '600', '--no-prune'], jobEnv(harness.taskQueue, bucket));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });

    const storage = openTestStorage(bucket);
    const keys = await listKeys(storage, 'data/hostile/');
    const hex = (s: string) => Buffer.from(s).toString('hex');
    expect(keys.map(hex)).toEqual(expect.arrayContaining([dataKey('hostile', NFC), dataKey('hostile', NFD)].map(hex)));
    expect((await readObject(bucket, dataKey('hostile', NFC))).body.toString()).toBe('composed');
    expect((await readObject(bucket, dataKey('hostile', NFD))).body.toString()).toBe('decomposed');

    const empty = await readObject(bucket, dataKey('hostile', 'empty.js'));
    expect({ size: empty.body.length, contentType: empty.contentType, cacheControl: empty.cacheControl }).toEqual({
      size: 0,
      contentType: 'application/javascript',
      cacheControl: 'public, max-age=600',
    });
    const emptyHtml = await readObject(bucket, dataKey('hostile', 'nested/index.html'));
    expect({ size: emptyHtml.body.length, contentType: emptyHtml.contentType, cacheControl: emptyHtml.cacheControl }).toEqual({
      size: 0,
      contentType: 'text/html; charset=utf-8',
      cacheControl: SHORT_LIVED_CACHE_CONTROL,
    });
    expect((await readObject(bucket, dataKey('hostile', LONGEST))).body.toString()).toBe('deep');

    const [manifestKey] = await listKeys(storage, manifestPrefix('hostile'));
    const manifest = parseManifest(manifestKey, (await storage.get(manifestKey))!.toString('utf8'));
    expect(manifest.files).toEqual(expect.arrayContaining([NFC, NFD, 'empty.js', 'nested/index.html', LONGEST]));
    expect([...manifest.files].map((f) => dataKey('hostile', f)).sort()).toEqual(keys);
  });

  /** Adds the hostile entry to a tree; returns what undoes it, if anything. */
  type Add = (root: string) => void | Promise<() => void>;
  it.each<[string, Add, RegExp]>([
    ['a 901-byte path', (root) => put(root, TOO_LONG, 'x'), /is longer than 900 bytes \(S3 keys stop at 1024\); rename it/],
    [
      'a UNIX socket',
      (root) => {
        const server = net.createServer().listen(path.join(root, 'control.sock'));
        return new Promise<() => void>((resolve) => server.on('listening', () => resolve(() => server.close())));
      },
      /control.sock is not a regular file \(a FIFO, socket or device\); remove it from the build/,
    ],
  ])('rejects %s with a clear error before anything is written', async (_, add, message) => {
    const bucket = await newBucket('refused');
    const source = copyExample();
    const cleanup = await add(source);
    try {
      const r = await runCli(['populate', '-s', source, '-r', 'refused', '-i', 'img:refused'], jobEnv(harness.taskQueue, bucket));
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
      expect(r.stderr).toMatch(message);
      expect(await listKeys(openTestStorage(bucket), '')).toEqual([]);
    } finally {
      if (typeof cleanup === 'function') cleanup();
    }
  });
});

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolvePopSettings, resolvePublishSettings } from '../../src/config';
import { dataKey } from '../../src/contract/keys';
import { CorruptRecordError } from '../../src/errors';
import { pop, PopError } from '../../src/client/pop';
import { populate } from '../../src/client/populate';
import { scanSource } from '../../src/source/scan';
import type { ReadableStorage } from '../../src/storage/storage';
import { runCli } from '../helpers/cli';
import { seedManifest, seedObjects } from '../helpers/seed';
import { newBucket, openTestStorage, populateDeps, startHarness, testServers, type Harness } from '../helpers/servers';
import { filesystemBucket } from '../helpers/storage-backends';
import { copyExample, sha256 } from '../helpers/trees';

jest.setTimeout(180_000);

const tempDir = (name: string) => mkdtempSync(path.join(os.tmpdir(), `pushcache-${name}-`));

/** Every file under `dir`, as `/`-separated paths. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)).split(path.sep).join('/'))
    .sort();
}

async function expectSameTree(dest: string, source: string): Promise<void> {
  const files = (await scanSource(source)).files.map((f) => f.path).sort();
  expect(filesUnder(dest)).toEqual(files);
  for (const f of files) expect(sha256(readFileSync(path.join(dest, f)))).toBe(sha256(readFileSync(path.join(source, f))));
}

/** The example build with a second version: one file changed, one added under an odd name. */
function secondBuild(): string {
  const source = copyExample();
  writeFileSync(path.join(source, 'index.html'), '<html><body>second build</body></html>');
  mkdirSync(path.join(source, 'odd dir'));
  writeFileSync(path.join(source, 'odd dir', 'ünï #1+%.js'), 'console.log(2)');
  return source;
}

interface Target {
  name: string;
  setUp(): Promise<{ harness: Harness; bucket: string; storage: ReadableStorage }>;
}

const TARGETS: Target[] = [
  {
    name: 'S3 (MinIO)',
    async setUp() {
      const bucket = await newBucket('pop');
      return { harness: await startHarness(), bucket, storage: openTestStorage(bucket) };
    },
  },
  {
    name: 'filesystem',
    async setUp() {
      const fs = filesystemBucket();
      return { harness: await startHarness({ openStorage: (b) => fs.open(b) }), bucket: fs.bucket, storage: fs.open(fs.bucket) };
    },
  },
];

describe.each(TARGETS)('pop from $name', (target) => {
  let harness: Harness;
  let bucket: string;
  let storage: ReadableStorage;
  beforeAll(async () => {
    ({ harness, bucket, storage } = await target.setUp());
  });
  afterAll(async () => harness?.close());

  const publish = (source: string, app: string, image: string) =>
    populate(resolvePublishSettings({ source, prefix: app, image }), populateDeps(harness, bucket, storage));
  const popInto = (app: string, dest: string, lines: string[] = []) => pop(resolvePopSettings({ prefix: app, dest }), { storage, report: (l) => lines.push(l) });

  it('writes the files of the newest build, byte for byte', async () => {
    await publish(copyExample(), 'app', 'img:1');
    const source = secondBuild();
    const second = await publish(source, 'app', 'img:2');
    const dest = path.join(tempDir('pop'), 'not', 'yet', 'there');
    const lines: string[] = [];

    const outcome = await popInto('app', dest, lines);

    await expectSameTree(dest, source);
    expect(outcome).toMatchObject({ manifestKey: second.manifestKey, files: second.files, bytes: second.bytes, unverified: 0 });
    expect(lines).toEqual([`popped ${second.files} files (${second.bytes} bytes) of app from ${second.manifestKey} (image img:2) into ${dest}`]);

    // Popping again over the same directory rewrites it in place.
    writeFileSync(path.join(dest, 'index.html'), 'edited locally');
    await popInto('app', dest);
    await expectSameTree(dest, source);
  });

  it('names a corrupt and a missing object, writes every other file, and leaves no partial file', async () => {
    const source = copyExample();
    const published = await publish(source, 'broken', 'img:1');
    await storage.put(dataKey('broken', 'js/main.8a3d91fe.js'), Buffer.from('tampered with'), { contentType: 'application/javascript', cacheControl: 'no-cache' });
    await storage.delete([dataKey('broken', 'css/main.4f1c2a9b.css')]);
    const dest = tempDir('pop-broken');

    const err = await popInto('broken', dest).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(PopError);
    const message = (err as Error).message;
    expect(message).toMatch(new RegExp(`^2 of the ${published.files} files of ${published.manifestKey} were not written to ${dest}: `));
    expect(message).toContain(`${dataKey('broken', 'css/main.4f1c2a9b.css')} is missing`);
    expect(message).toContain(`${dataKey('broken', 'js/main.8a3d91fe.js')} has other bytes than ${published.manifestKey} records (sha256 ${sha256(Buffer.from('tampered with'))}`);
    expect(message).toContain('republish the app');
    const written = filesUnder(dest);
    expect(written).not.toContain('js/main.8a3d91fe.js');
    expect(written).not.toContain('css/main.4f1c2a9b.css');
    expect(written).toHaveLength(published.files - 2);
    expect(written.filter((f) => f.includes('.pushcache-'))).toEqual([]);
  });

  it('says so when the app has no build', async () => {
    await expect(popInto('never-published', tempDir('pop-none'))).rejects.toThrow(/holds no build of never-published \(nothing under manifests\/never-published\/\)/);
  });
});

describe('pop never writes outside DEST', () => {
  it('refuses to write through a symbolic link inside DEST', async () => {
    const bucket = await newBucket('pop');
    const storage = openTestStorage(bucket);
    await seedManifest(storage, 'linked', 1700000000, ['fed-mods.json', 'js/app.js']);
    await seedObjects(storage, 'linked', ['fed-mods.json', 'js/app.js']);
    const dest = tempDir('pop-linked');
    const outside = tempDir('outside');
    symlinkSync(outside, path.join(dest, 'js'));

    const err = await pop(resolvePopSettings({ prefix: 'linked', dest }), { storage, report: () => undefined }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(PopError);
    expect((err as Error).message).toContain(`${path.join(dest, 'js')} is a symbolic link, which pop does not write through`);
    expect(readdirSync(outside)).toEqual([]);
    expect(readFileSync(path.join(dest, 'fed-mods.json'), 'utf8')).toBe('content of fed-mods.json');
  });

  it('refuses a manifest naming a path outside the app before writing anything', async () => {
    const bucket = await newBucket('pop');
    const storage = openTestStorage(bucket);
    await seedManifest(storage, 'crafted', 1700000000, ['fed-mods.json', '../../escape.js']);
    await seedObjects(storage, 'crafted', ['fed-mods.json']);
    const parent = tempDir('pop-crafted');
    const dest = path.join(parent, 'a', 'b');

    const err = await pop(resolvePopSettings({ prefix: 'crafted', dest }), { storage, report: () => undefined }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(CorruptRecordError);
    expect((err as Error).message).toMatch(/manifests\/crafted\/1700000000 is corrupt: lists an unsafe path "..\/..\/escape.js"/);
    expect(filesUnder(parent)).toEqual([]);
  });
});

describe('pop of a build published by valpop', () => {
  it('writes files its manifest records no sha256 for, and says they were not verified', async () => {
    const bucket = await newBucket('pop');
    const storage = openTestStorage(bucket);
    await seedManifest(storage, 'legacy', 1700000000, ['fed-mods.json', 'old.js'], 'legacy');
    await seedManifest(storage, 'legacy', 1700000100, ['fed-mods.json', 'a/b.js']);
    await seedObjects(storage, 'legacy', ['fed-mods.json', 'old.js', 'a/b.js']);
    const dest = tempDir('pop-legacy');
    const lines: string[] = [];

    const outcome = await pop(resolvePopSettings({ prefix: 'legacy', dest }), { storage, report: (l) => lines.push(l) });

    expect(outcome).toMatchObject({ manifestKey: 'manifests/legacy/1700000100', files: 2, unverified: 2 });
    expect(filesUnder(dest)).toEqual(['a/b.js', 'fed-mods.json']);
    expect(readFileSync(path.join(dest, 'a/b.js'), 'utf8')).toBe('content of a/b.js');
    expect(lines[1]).toBe('2 files were written unverified: manifests/legacy/1700000100 records no sha256 for them (a build published by valpop)');
  });
});

describe('pushcache pop (command line)', () => {
  it('pops from MinIO with the storage flags of populate, and from a filesystem root', async () => {
    const { credentials, minioEndpoint } = testServers();
    const bucket = await newBucket('pop');
    const storage = openTestStorage(bucket);
    const harness = await startHarness();
    const fs = filesystemBucket();
    const source = copyExample();
    try {
      await populate(resolvePublishSettings({ source, prefix: 'cli' }), populateDeps(harness, bucket, storage));
      const harnessFs = await startHarness({ openStorage: (b) => fs.open(b) });
      try {
        await populate(resolvePublishSettings({ source, prefix: 'cli' }), populateDeps(harnessFs, fs.bucket, fs.open(fs.bucket)));
      } finally {
        await harnessFs.close();
      }
    } finally {
      await harness.close();
    }

    const fromS3 = tempDir('pop-cli');
    const s3 = await runCli(['pop', '-r', 'cli', '-d', fromS3, '--endpoint', minioEndpoint, '-b', bucket], {
      PUSHCACHE_AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      PUSHCACHE_AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    });
    expect(s3.stderr).toBe('');
    expect(s3.code).toBe(0);
    expect(s3.stdout).toMatch(/^pushcache: popped 22 files \(\d+ bytes\) of cli from manifests\/cli\/\d+ into /);
    await expectSameTree(fromS3, source);

    const fromFs = tempDir('pop-cli-fs');
    const local = await runCli(['pop', '-m', 'filesystem', '-d', fromFs], { VALPOP_PREFIX: 'cli', PUSHCACHE_FS_ROOT: fs.root, VALPOP_BUCKET: fs.bucket });
    expect(local.stderr).toBe('');
    expect(local.code).toBe(0);
    await expectSameTree(fromFs, source);

    const noDest = await runCli(['pop', '-r', 'cli'], {});
    expect(noDest.code).toBe(2);
    expect(noDest.stderr).toContain('-d/--dest (the directory to write into) is required');
    const noRoot = await runCli(['pop', '-r', 'cli', '-d', tempDir('pop-cli-bad'), '-m', 'filesystem'], {});
    expect(noRoot.code).toBe(2);
    expect(noRoot.stderr).toContain('-m filesystem needs --root DIR (or PUSHCACHE_FS_ROOT)');
  });
});

import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { createStorageActivities } from '../../src/activities/storage';
import { PUBLISH_DEFAULTS, resolvePublishSettings } from '../../src/config';
import { cacheControl, contentType } from '../../src/contract/headers';
import { dataKey, ENTRY_POINT, manifestPrefix, stagingPrefix, stagingKey } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { SourceError, StorageError } from '../../src/errors';
import { populate, type PopulateOutcome } from '../../src/client/populate';
import { publishWorkflowId } from '../../src/client/workflow-id';
import { hashSource, listSource, scanSource } from '../../src/source/scan';
import type { Storage } from '../../src/storage/storage';
import { createFilesWorker } from '../../src/worker/files-worker';
import type { PublishInput } from '../../src/workflows/types';
import { RecordingStorage } from '../helpers/recording-storage';
import { listKeys, newBucket, openTestStorage, startHarness, type Harness, populateDeps } from '../helpers/servers';
import { startHeldPublish } from '../helpers/held-publish';
import { historyText, payloadSizes } from '../helpers/history';
import { expectLiveBuild } from '../helpers/live-build';
import { copyExample, generatedTree, readLocal, readObject, sha256 } from '../helpers/trees';

jest.setTimeout(120_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

async function publish(options: { source: string; app: string; image?: string; bucket: string; storage?: Storage; extra?: Record<string, string> }): Promise<PopulateOutcome> {
  const settings = resolvePublishSettings({ source: options.source, prefix: options.app, image: options.image ?? '', ...options.extra });
  return populate(settings, populateDeps(harness, options.bucket, options.storage));
}

describe('PublishWorkflow against Temporal and MinIO', () => {
  it('publishes every file byte for byte with the contract headers and a valid manifest', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    const tree = await scanSource(source);
    const outcome = await publish({ source, app: 'example', image: 'quay.io/org/example:abc', bucket });

    const storage = openTestStorage(bucket);
    expect(await listKeys(storage, 'data/example/')).toEqual(tree.files.map((f) => dataKey('example', f.path)).sort());
    for (const file of tree.files) {
      const stored = await readObject(bucket, dataKey('example', file.path));
      expect(sha256(stored.body)).toBe(sha256(readLocal(source, file.path)));
      expect(stored.contentType).toBe(contentType(file.path));
      expect(stored.cacheControl).toBe(cacheControl(file.path, 86400));
      expect(stored.metadata?.sha256).toBe(file.sha256);
    }
    expect((await readObject(bucket, 'data/example/index.html')).contentType).toBe('text/html; charset=utf-8');
    expect((await readObject(bucket, 'data/example/fed-mods.json')).cacheControl).toBe('public, max-age=60, stale-while-revalidate=300');

    const manifests = await listKeys(storage, manifestPrefix('example'));
    expect(manifests).toEqual([outcome.manifestKey]);
    const raw = JSON.parse((await readObject(bucket, outcome.manifestKey)).body.toString());
    expect(raw.files.sort()).toEqual(tree.files.map((f) => f.path).sort());
    expect(raw.image).toBe('quay.io/org/example:abc');
    expect(raw.timestamp).toBe(Number(outcome.manifestKey.split('/').pop()));
    expect(Math.abs(raw.timestamp - Date.now() / 1000)).toBeLessThan(600);
    expect(parseManifest(outcome.manifestKey, JSON.stringify(raw)).sha256?.['index.html']).toBe(tree.files.find((f) => f.path === 'index.html')!.sha256);
    // The staging record is gone once the manifest is in place.
    expect(await listKeys(storage, stagingPrefix('example'))).toEqual([]);
  });

  it('writes fed-mods.json only after every other file, and the manifest after fed-mods.json', async () => {
    const bucket = await newBucket();
    const recording = new RecordingStorage(openTestStorage(bucket));
    const shared = new RecordingStorage(openTestStorage(bucket), recording.events);
    const local = await startHarness({ openStorage: () => shared });
    try {
      const source = generatedTree(120, 512);
      const settings = resolvePublishSettings({ source, prefix: 'ordered', batchFiles: '10', batchParallelism: '4', uploadConcurrency: '4' });
      await populate(settings, populateDeps(local, bucket, recording));
    } finally {
      await local.close();
    }
    const isData = (k: string) => k.startsWith('data/ordered/') && !k.endsWith(ENTRY_POINT);
    const fedModsStart = recording.indexOf((k) => k === 'data/ordered/fed-mods.json', 'start');
    const fedModsEnd = recording.indexOf((k) => k === 'data/ordered/fed-mods.json', 'end');
    expect(recording.events.filter((e) => e.phase === 'end' && isData(e.key))).toHaveLength(121);
    expect(recording.lastIndexOf(isData, 'end')).toBeLessThan(fedModsStart);
    expect(recording.lastIndexOf(isData, 'start')).toBeLessThan(fedModsStart);
    // The go-live step writes the manifest only after its fed-mods.json write finished.
    const manifestStart = recording.indexOf((k) => k.startsWith('manifests/ordered/'), 'start');
    expect(fedModsEnd).toBeGreaterThan(fedModsStart);
    expect(manifestStart).toBeGreaterThan(fedModsEnd);
    expect(recording.events.at(-1)).toMatchObject({ phase: 'end' });
    expect(recording.events.at(-1)!.key).toMatch(/^manifests\/ordered\/\d+$/);
  });

  it('publishes the same tree again under another image without losing the first manifest', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    const first = await publish({ source, app: 'again', image: 'img:1', bucket });
    // The same image would write nothing (go-live.test.ts); a new image is a new build.
    const second = await publish({ source, app: 'again', image: 'img:2', bucket });
    expect(second.runId).not.toBe(first.runId);
    expect(second.manifestKey).not.toBe(first.manifestKey);
    expect(await listKeys(openTestStorage(bucket), manifestPrefix('again'))).toEqual([first.manifestKey, second.manifestKey].sort());
  });

  it('publishes and prunes with --max-attempts 0 (unlimited), which the SDK spells as no maximum', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    // A retry policy of 0 attempts is refused by the SDK: every workflow task would fail and the Job would wait for ever.
    const outcome = await publish({ source, app: 'unlimited', image: 'img:1', bucket, extra: { maxAttempts: '0' } });
    expect(outcome.manifestKey).toMatch(/^manifests\/unlimited\/\d+$/);
    expect(outcome.prune).toEqual(expect.objectContaining({ status: expect.any(String) }));
    expect(outcome.prune?.status).not.toBe('failed');
  });

  it('streams a file above the multipart threshold and stores it byte for byte', async () => {
    const bucket = await newBucket();
    const source = generatedTree(3, 100);
    const big = Buffer.alloc(40 * 1024 * 1024 + 12345);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE((i * 2654435761) >>> 0, i);
    writeFileSync(path.join(source, 'big.wasm'), big);
    writeFileSync(path.join(source, 'mid.bin'), big.subarray(0, 3 * 1024 * 1024 + 7)); // streamed in one PUT
    await publish({ source, app: 'big', bucket });
    expect(sha256((await readObject(bucket, 'data/big/mid.bin')).body)).toBe(sha256(big.subarray(0, 3 * 1024 * 1024 + 7)));
    const stored = await readObject(bucket, 'data/big/big.wasm');
    expect(stored.body.length).toBe(big.length);
    expect(sha256(stored.body)).toBe(sha256(big));
    expect(stored.metadata?.sha256).toBe(sha256(big));
    expect(stored.contentType).toBe('application/wasm');
  });

  it('keeps file names and contents out of the workflow history', async () => {
    const bucket = await newBucket();
    const source = generatedTree(400, 64);
    const outcome = await publish({ source, app: 'lean', bucket, extra: { batchFiles: '100' } });
    const history = await harness.client.workflow.getHandle(outcome.workflowId, outcome.runId).fetchHistory();
    // Decoded payloads included: activity inputs and results are where a file list would go.
    const text = historyText(history);
    expect(text).toContain('"fileCount":402');
    expect(text).not.toContain('c123.7b.js');
    expect(text).not.toContain('chunks/');
    // About 6 events per batch and per step (lock, reference gate, entry copies, go-live, prune): a count, not a list.
    expect(history.events!.length).toBeLessThan(150);
  });

  it('publishes files whose names need percent-encoding under exactly those keys', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    const odd = ['sp ace/a b+c(1)!.js', "quo'te*/é ü.css", 'tilde~/x=y&z;@$,.txt', 'pct/100%.js'];
    for (const f of odd) {
      mkdirSync(path.dirname(path.join(source, f)), { recursive: true });
      writeFileSync(path.join(source, f), `content of ${f}`);
    }
    await publish({ source, app: 'odd', bucket });
    const keys = await listKeys(openTestStorage(bucket), 'data/odd/');
    for (const f of odd) {
      expect(keys).toContain(dataKey('odd', f));
      expect((await readObject(bucket, dataKey('odd', f))).body.toString()).toBe(`content of ${f}`);
    }
  });

  it('publishes 10,000 files in under 200 history events, with no payload near the 512 KB warning', async () => {
    const bucket = await newBucket();
    const source = generatedTree(10_000, 16);
    const outcome = await publish({ source, app: 'wide', bucket });
    expect(outcome.files).toBe(10_002);
    const history = await harness.client.workflow.getHandle(outcome.workflowId, outcome.runId).fetchHistory();
    expect(history.events!.length).toBeLessThan(200);
    const sizes = payloadSizes(history);
    expect(sizes.length).toBeGreaterThan(20);
    expect(Math.max(...sizes)).toBeLessThan(64 * 1024);
  });

  it('gives two builds of one app started in the same second their own manifests', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const acts = createStorageActivities({ openStorage: () => storage });
    const files = [{ path: 'a.js', size: 1, sha256: 'a'.repeat(64) }];
    for (const publishId of ['run-a', 'run-b']) {
      const record = { version: 1, publishId, app: 'same', image: publishId, timestamp: 1700000000, listDigest: 'd', files };
      await storage.put(stagingKey('same', publishId), Buffer.from(JSON.stringify(record)), { contentType: 'application/json', cacheControl: 'no-store' });
    }
    const a = await acts.commitManifest({ bucket, app: 'same', stagingKey: stagingKey('same', 'run-a'), publishId: 'run-a', timestamp: 1700000000 });
    const b = await acts.commitManifest({ bucket, app: 'same', stagingKey: stagingKey('same', 'run-b'), publishId: 'run-b', timestamp: 1700000000 });
    expect(a.manifestKey).toBe('manifests/same/1700000000');
    expect(b.manifestKey).toBe('manifests/same/1700000001');
    // A retried commit of a publish that already committed finds its own manifest instead of writing another.
    const again = await acts.commitManifest({ bucket, app: 'same', stagingKey: stagingKey('same', 'run-b'), publishId: 'run-b', timestamp: 1700000000 });
    expect(again).toEqual(b);
    expect(await listKeys(storage, 'manifests/same/')).toEqual(['manifests/same/1700000000', 'manifests/same/1700000001']);
    const bodyB = parseManifest(b.manifestKey, (await storage.get(b.manifestKey))!.toString());
    expect(bodyB).toMatchObject({ image: 'run-b', timestamp: 1700000001, publishId: 'run-b' });
  });

  it('publishes an image to a second bucket while its publish to a first one is in flight, as a run of its own', async () => {
    const [first, second] = [await newBucket('first'), await newBucket('second')];
    const image = 'quay.io/org/example:same';
    // The same app and image, in flight for the first bucket: a Job for the second must not join it.
    const held = await startHeldPublish(harness, first, 'example', image);
    try {
      const source = copyExample();
      const outcome = await publish({ source, app: 'example', image, bucket: second });
      expect(outcome).toMatchObject({ resumed: false, workflowId: `publish/${second}/example/${image}` });
      await expectLiveBuild(second, 'example', source, image);
      expect(await listKeys(openTestStorage(first), '')).toEqual([]);
    } finally {
      await held.terminate('test over');
    }
  });
});

describe('a publish with an image starts while its tree is hashed', () => {
  /** The publish's run, once it exists; undefined until then. */
  async function runOf(bucket: string, app: string, image: string) {
    return harness.client.workflow
      .getHandle(publishWorkflowId(bucket, app, image))
      .describe()
      .catch(() => undefined);
  }

  it('starts the run and takes the app lock before the hashes are in; staging waits for them', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    const listed = listSource(source);
    // The hashes come only once the run exists: a Job that started it after hashing would wait forever.
    const scanned = (async () => {
      while (!(await runOf(bucket, 'app', 'img:early'))) await sleep(50);
      return hashSource(listed);
    })();
    const outcome = await populate(resolvePublishSettings({ source, prefix: 'app', image: 'img:early' }), {
      ...populateDeps(harness, bucket),
      scan: { listed: Promise.resolve(listed), scanned },
    });
    expect(outcome).toMatchObject({ files: listed.found.length, uploaded: listed.found.length });
    await expectLiveBuild(bucket, 'app', source, 'img:early');
  });

  it('reports a file that cannot be read as the bad input it is, and writes nothing', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    const listed = listSource(source);
    const scanned = (async (): Promise<never> => {
      while (!(await runOf(bucket, 'app', 'img:unreadable'))) await sleep(50);
      throw new SourceError('cannot read index.html (EACCES); check its permissions', path.join(source, 'index.html'));
    })();
    const err = await populate(resolvePublishSettings({ source, prefix: 'app', image: 'img:unreadable' }), {
      ...populateDeps(harness, bucket),
      scan: { listed: Promise.resolve(listed), scanned },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toMatch(/cannot read index.html \(EACCES\)/);
    expect((await runOf(bucket, 'app', 'img:unreadable'))?.status.name).toBe('FAILED');
    expect(await listKeys(openTestStorage(bucket), '')).toEqual([]);
  });
});

describe('bad input fails fast and writes nothing', () => {
  it('refuses a missing source directory before starting anything', async () => {
    const bucket = await newBucket();
    await expect(publish({ source: '/nonexistent/build', app: 'x', bucket })).rejects.toThrow(/source directory \/nonexistent\/build does not exist/);
    expect(await listKeys(openTestStorage(bucket), '')).toEqual([]);
  });

  it('refuses wrong credentials with a message that names the fix but not the secret', async () => {
    const bucket = await newBucket();
    const wrong = openTestStorage(bucket, { accessKeyId: 'pushcache-test', secretAccessKey: 'wrong-secret-value' });
    const err = await publish({ source: copyExample(), app: 'x', bucket, storage: wrong }).catch((e) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err.kind).toBe('AccessDenied');
    expect(err.message).toMatch(/credentials were refused/);
    expect(err.message).not.toContain('wrong-secret-value');
  });

  it('refuses a missing bucket', async () => {
    const err = await publish({ source: copyExample(), app: 'x', bucket: 'no-such-bucket-here' }).catch((e) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err.kind).toBe('BucketNotFound');
    expect(err.message).toMatch(/bucket does not exist/);
  });

  it('fails a workflow given a bad app name on the first attempt, without retries', async () => {
    const bucket = await newBucket();
    const source = copyExample();
    const taskQueue = `files-${randomUUID()}`;
    const worker = await createFilesWorker({ connection: harness.connection, namespace: 'default', taskQueue, batchParallelism: 2, storage: openTestStorage(bucket) });
    const input: PublishInput = {
      app: '../escape',
      bucket,
      image: '',
      sourceDir: source,
      filesTaskQueue: taskQueue,
      cacheMaxAge: 86400,
      batchLimits: { maxFiles: 10, maxBytes: 1 << 20 },
      batchParallelism: 2,
      uploadConcurrency: 2,
      maxAttempts: 10,
      heartbeatTimeout: PUBLISH_DEFAULTS.heartbeatTimeout,
      jobAbsenceTimeout: '1m',
    };
    const handle = await harness.client.workflow.start('PublishWorkflow', { workflowId: `bad-${randomUUID()}`, taskQueue: harness.taskQueue, args: [input] });
    const err = await worker.runUntil(handle.result().catch((e) => e));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String(err.cause?.message)).toMatch(/taking the app lock failed: app name "..\/escape" is not allowed/);
    const history = await handle.fetchHistory();
    const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    expect(attempts).toEqual([1]);
    expect(await listKeys(openTestStorage(bucket), '')).toEqual([]);
  });

  it('rejects a tree that changed after staging instead of publishing a mix', async () => {
    const bucket = await newBucket();
    const source = generatedTree(30, 100);
    const storage = openTestStorage(bucket);
    const { createFileActivities } = await import('../../src/activities/files');
    const acts = createFileActivities({ storage });
    const staged = await acts.stageBuild({ app: 'changing', sourceDir: source, image: '', timestamp: 1, publishId: 'p', batchLimits: { maxFiles: 10, maxBytes: 1 << 20 }, cacheMaxAge: 86400 });
    writeFileSync(path.join(source, 'index.html'), '<html>changed</html>');
    const fresh = createFileActivities({ storage }); // a restarted Job: no cached scan
    await expect(fresh.uploadEntryPoint({ app: 'changing', sourceDir: source, listDigest: staged.listDigest, cacheMaxAge: 1 })).rejects.toThrow(/changed after this publish staged them/);
  });
});

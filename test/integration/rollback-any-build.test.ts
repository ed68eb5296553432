import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { resolvePruneSettings, resolvePublishSettings } from '../../src/config';
import { populate } from '../../src/client/populate';
import { prune } from '../../src/client/prune';
import { rollback, rollbackWorkflowId } from '../../src/client/rollback';
import { status, type AppStatus } from '../../src/client/status';
import { buildCopyPrefix, dataKey, manifestPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { createS3Client } from '../../src/storage/s3';
import type { AppPruneResult } from '../../src/prune/types';
import type { RollbackWorkflow } from '../../src/workflows/rollback';
import type { RollbackResult } from '../../src/workflows/types';
import { buildTree, type PublishedBuild } from '../helpers/builds';
import { RecordingStorage, type WriteEvent } from '../helpers/recording-storage';
import { jobEnv, listKeys, newBucket, openTestStorage, populateDeps, startHarness, testServers, type Harness } from '../helpers/servers';
import { readObject, type StoredObject } from '../helpers/trees';
import { killSlowWorkers, spawnSlowWorker } from '../helpers/worker-process';

jest.setTimeout(240_000);

const events: WriteEvent[] = [];
let harness: Harness;
beforeAll(async () => {
  // The rollback's writes, in the order they start and end.
  harness = await startHarness({ openStorage: (b) => new RecordingStorage(openTestStorage(b), events) });
});
afterAll(async () => harness?.close());

const ENTRY_FILES = ['app-info.json', 'fed-mods.json', 'index.html'];
/** Files without a content hash in their name, rewritten in place by every build: same path, same size, other bytes. */
const IN_PLACE = ['locale/en.json', 'vs/loader.js'];
const inPlace = (n: number) => ({ 'vs/loader.js': `loader ${n}`, 'locale/en.json': `{"build":${n}}` });

/** Every object of the build as it is at its data key now: bytes and headers. */
type Snapshot = Map<string, StoredObject>;

async function snapshot(bucket: string, build: PublishedBuild): Promise<Snapshot> {
  const m = await manifestOf(bucket, build.outcome.manifestKey);
  const out: Snapshot = new Map();
  for (const f of m.files) out.set(f, await readObject(bucket, dataKey('app', f)));
  return out;
}

async function expectLive(bucket: string, snap: Snapshot): Promise<void> {
  for (const [f, object] of snap) expect([f, await readObject(bucket, dataKey('app', f))]).toEqual([f, object]);
}

async function manifestOf(bucket: string, key: string) {
  return parseManifest(key, (await readObject(bucket, key)).body.toString('utf8'));
}

async function publish(bucket: string, n: number, extra: Record<string, string> = inPlace(n)): Promise<PublishedBuild> {
  // A second apart, so that every build has its own timestamp.
  await sleep(1000);
  const dir = buildTree(n, extra);
  const outcome = await populate(resolvePublishSettings({ source: dir, prefix: 'app', image: `img:${n}`, prune: false }), populateDeps(harness, bucket));
  return { dir, outcome, timestamp: outcome.timestamp };
}

async function rollBack(bucket: string, timestamp: number): Promise<RollbackResult> {
  return rollback({ app: 'app', to: { timestamp }, maxAttempts: 3 }, { client: harness.client, bucket, temporal: harness.temporal, report: () => undefined });
}

/** Prunes the app down to its newest three builds, once every older build is over a second old. */
async function pruneToNewestThree(bucket: string): Promise<AppPruneResult> {
  await sleep(1100);
  return (await prune(resolvePruneSettings({ minAssetRecords: '3', timeout: '0', orphanGrace: '0' }), { app: 'app' }, {
    client: harness.client,
    bucket,
    temporal: harness.temporal,
    report: () => undefined,
  })) as AppPruneResult;
}

/** data/ writes of the rollback, by key, with fed-mods.json's start after every other one's end. */
function expectFedModsLast(from: number): void {
  const data = events.slice(from).filter((e) => e.key.startsWith('data/app/'));
  const fedModsStart = data.findIndex((e) => e.key === dataKey('app', 'fed-mods.json') && e.phase === 'start');
  expect(fedModsStart).toBeGreaterThan(0);
  const othersEnd = data.filter((e) => e.key !== dataKey('app', 'fed-mods.json') && e.phase === 'end');
  expect(othersEnd.length).toBeGreaterThan(0);
  expect(data.slice(fedModsStart).filter((e) => e.key !== dataKey('app', 'fed-mods.json'))).toEqual([]);
}

async function enableVersioning(bucket: string): Promise<void> {
  const { minioEndpoint, credentials } = testServers();
  const client = createS3Client({ endpoint: minioEndpoint, bucket, credentials });
  try {
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  } finally {
    client.destroy();
  }
}

describe.each([
  ['off', false],
  ['on', true],
])('a build whose non-hashed files a later build rewrote in place (bucket versioning %s)', (_label, versioned) => {
  it('rolls back whole from kept copies, forward again, and keeps the copies retained builds need through a prune', async () => {
    const bucket = await newBucket();
    if (versioned) await enableVersioning(bucket);
    const storage = openTestStorage(bucket);
    const b1 = await publish(bucket, 1);
    const snap1 = await snapshot(bucket, b1);
    const b2 = await publish(bucket, 2);
    const snap2 = await snapshot(bucket, b2);
    for (const f of IN_PLACE) expect(snap2.get(f)!.body.length).toBe(snap1.get(f)!.body.length);

    // Build 2's go-live step kept what it overwrote of build 1, and only that.
    const copies1 = buildCopyPrefix('app', b1.outcome.runId);
    expect(await listKeys(storage, copies1)).toEqual([...ENTRY_FILES, ...IN_PLACE].sort().map((f) => copies1 + f));
    for (const f of IN_PLACE) expect(await readObject(bucket, copies1 + f)).toEqual(snap1.get(f));
    const copies2 = buildCopyPrefix('app', b2.outcome.runId);
    expect(await listKeys(storage, copies2)).toEqual(ENTRY_FILES.map((f) => copies2 + f));
    expect(await listKeys(storage, 'pushcache/go-live/')).toEqual([]);
    // status says so.
    const [st] = (await status({ app: 'app' }, { minAssetRecords: 10, timeoutSeconds: 86400, graceSeconds: 86400 }, { storage, client: harness.client, bucket })) as AppStatus[];
    expect(st.builds.map((b) => [b.timestamp, b.rollback])).toEqual([
      [b2.timestamp, { possible: true, restores: ENTRY_FILES.length }],
      [b1.timestamp, { possible: true, restores: ENTRY_FILES.length + IN_PLACE.length }],
    ]);

    // Back to build 1: every file byte-equal with its headers, fed-mods.json last.
    let from = events.length;
    const back = await rollBack(bucket, b1.timestamp);
    expect(back.restored).toBe(IN_PLACE.length + ENTRY_FILES.length);
    expect(back.target.restores).toBe(IN_PLACE.length + ENTRY_FILES.length);
    await expectLive(bucket, snap1);
    expectFedModsLast(from);
    // What it overwrote of build 2 is kept under build 2.
    expect(await listKeys(storage, copies2)).toEqual([...ENTRY_FILES, ...IN_PLACE].sort().map((f) => copies2 + f));

    // Forward again to build 2.
    from = events.length;
    const forward = await rollBack(bucket, b2.timestamp);
    expect(forward.restored).toBe(IN_PLACE.length + ENTRY_FILES.length);
    await expectLive(bucket, snap2);
    expectFedModsLast(from);

    // A window of three builds drops build 1 only: its copies go, build 2's stay. The rollback
    // to build 1 keeps build 1's bytes under its own copies (the forward rollback kept them there).
    const pruned = await pruneToNewestThree(bucket);
    expect(pruned.manifestsDeleted).toBe(1);
    expect(await listKeys(storage, manifestPrefix('app'))).not.toContain(b1.outcome.manifestKey);
    expect(await listKeys(storage, copies1)).toEqual([]);
    expect(await listKeys(storage, copies2)).toEqual([...ENTRY_FILES, ...IN_PLACE].sort().map((f) => copies2 + f));
    const ownOfBack = buildCopyPrefix('app', (await manifestOf(bucket, back.manifestKey)).publishId!);
    for (const f of IN_PLACE) expect((await readObject(bucket, ownOfBack + f)).body).toEqual(snap1.get(f)!.body);

    // Build 3 rewrites them again; build 2 still comes back whole, and so does build 1's rollback.
    const b3 = await publish(bucket, 3);
    expect((await readObject(bucket, dataKey('app', 'vs/loader.js'))).body.toString()).toBe('loader 3');
    await rollBack(bucket, b2.timestamp);
    await expectLive(bucket, snap2);
    await rollBack(bucket, back.timestamp);
    await expectLive(bucket, snap1);
    expect(b3.timestamp).toBeGreaterThan(b2.timestamp);
  });
});

describe('a file uploaded in parts, rewritten in place', () => {
  it('comes back from its kept copy, and the rollback build keeps it when the next build overwrites it again', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    // Over the 8 MiB part size: uploaded in parts, so its ETag is `<md5>-2`; a server-side copy's is a plain MD5.
    const big = (n: number) => ({ 'media/intro.bin': String(n).repeat(9 * 1024 * 1024) });
    const b1 = await publish(bucket, 1, big(1));
    const snap1 = await snapshot(bucket, b1);
    await publish(bucket, 2, big(2));
    const back = await rollBack(bucket, b1.timestamp);
    await expectLive(bucket, snap1);
    await publish(bucket, 3, big(3));
    // Build 1 and its copies go; the rollback build still comes back, from the copy kept under it.
    const pruned = await pruneToNewestThree(bucket);
    expect(pruned.manifestsDeleted).toBe(1);
    expect(await listKeys(storage, buildCopyPrefix('app', b1.outcome.runId))).toEqual([]);
    await rollBack(bucket, back.timestamp);
    expect((await readObject(bucket, dataKey('app', 'media/intro.bin'))).body.equals(snap1.get('media/intro.bin')!.body)).toBe(true);
  });
});

describe('a publish whose files are all new', () => {
  it('keeps nothing beyond the entry-file copies', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    // Only hashed chunks change between these builds; the entry files have copies anyway.
    const b1 = await publish(bucket, 1, {});
    const b2 = await publish(bucket, 2, {});
    for (const b of [b1, b2]) {
      const prefix = buildCopyPrefix('app', b.outcome.runId);
      expect(await listKeys(storage, prefix)).toEqual(ENTRY_FILES.map((f) => prefix + f));
    }
    expect(await listKeys(storage, 'pushcache/')).toEqual(
      [b1, b2].flatMap((b) => ENTRY_FILES.map((f) => buildCopyPrefix('app', b.outcome.runId) + f)).sort(),
    );
  });
});

afterEach(killSlowWorkers);

describe('a rollback whose worker is killed mid-restore', () => {
  it('completes on another worker, exactly once', async () => {
    const bucket = await newBucket();
    const storage = openTestStorage(bucket);
    const b1 = await publish(bucket, 1);
    const snap1 = await snapshot(bucket, b1);
    const b2 = await publish(bucket, 2);
    const manifestsBefore = await listKeys(storage, manifestPrefix('app'));

    const taskQueue = `test-${randomUUID()}`;
    const { child, seen } = spawnSlowWorker({ ...jobEnv(taskQueue, bucket), COPY_DELAY_MS: '60000' });
    await seen((l) => l === 'ready');
    const workflowId = rollbackWorkflowId(bucket, 'app', { timestamp: b1.timestamp });
    const handle = await harness.client.workflow.start<typeof RollbackWorkflow>('RollbackWorkflow', {
      workflowId,
      taskQueue,
      args: [{ app: 'app', bucket, to: { timestamp: b1.timestamp }, maxAttempts: 5, heartbeatTimeout: '4s' }],
    });
    // Killed while restoring the in-place files, after keeping what they overwrite.
    await seen((l) => l.startsWith('copying data/app/'));
    child.kill('SIGKILL');
    expect((await readObject(bucket, dataKey('app', 'vs/loader.js'))).body.toString()).toBe('loader 2');

    const replacement = await startHarness({ taskQueue });
    try {
      const result = await handle.result();
      expect(result.restored).toBe(IN_PLACE.length + ENTRY_FILES.length);
      await expectLive(bucket, snap1);
      // One new manifest, naming build 1's files.
      const after = await listKeys(storage, manifestPrefix('app'));
      expect(after.filter((k) => !manifestsBefore.includes(k))).toEqual([result.manifestKey]);
      expect((await manifestOf(bucket, result.manifestKey)).rollbackOf).toBe(b1.timestamp);
      // Only the restore was retried (the killed attempt, then at least one more); it completed once.
      const history = await handle.fetchHistory();
      const scheduled = new Map<string, string>();
      const retried: string[] = [];
      const completed: string[] = [];
      for (const e of history.events!) {
        if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType!.name!);
        const started = e.activityTaskStartedEventAttributes;
        if (started && (started.attempt ?? 1) > 1) retried.push(scheduled.get(String(started.scheduledEventId))!);
        const done = e.activityTaskCompletedEventAttributes;
        if (done) completed.push(scheduled.get(String(done.scheduledEventId))!);
      }
      expect(retried).toEqual(['restoreEntryFiles']);
      expect(completed.filter((a) => a === 'restoreEntryFiles')).toHaveLength(1);
      // Build 2 can still come back: what the rollback overwrote was kept.
      expect(await listKeys(storage, buildCopyPrefix('app', b2.outcome.runId))).toEqual(
        [...ENTRY_FILES, ...IN_PLACE].sort().map((f) => buildCopyPrefix('app', b2.outcome.runId) + f),
      );
    } finally {
      await replacement.close();
    }
  });
});

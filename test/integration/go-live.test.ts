import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolvePublishSettings } from '../../src/config';
import { buildCopyKey, buildCopyPrefix, dataKey, goLivePrefix, manifestPrefix, stagingPrefix } from '../../src/contract/keys';
import { freePort } from '../../src/dev/process';
import { startTemporalDev } from '../../src/dev/temporal-server';
import { StorageError } from '../../src/errors';
import { populate } from '../../src/client/populate';
import { hashSource, listSource } from '../../src/source/scan';
import type { Storage } from '../../src/storage/storage';
import type { ReportEvent } from '../../src/telemetry/log';
import { startCli } from '../helpers/cli';
import { expectLiveBuild, failingWrites, liveTree } from '../helpers/live-build';
import { jobEnv, listKeys, newBucket, openTestStorage, populateDeps, startHarness, type Harness } from '../helpers/servers';

jest.setTimeout(240_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

function publish(bucket: string, app: string, dir: string, image: string, storage?: Storage, extra: Record<string, string> = {}, onEvent?: (event: ReportEvent, line: string) => void) {
  const deps = populateDeps(harness, bucket, storage);
  if (onEvent) deps.report = (line, event) => event && onEvent(event, line);
  return populate(resolvePublishSettings({ source: dir, prefix: app, image, prune: false, ...extra }), deps);
}

describe('one guarded go-live step', () => {
  it('goes live in start order: two builds of one app started together never leave a mix', async () => {
    const bucket = await newBucket('order');
    for (let round = 1; round <= 3; round++) {
      // The earlier build is the bigger one, so the later one is ready first and must wait for it.
      const early = liveTree(`a${round}`, 300);
      const late = liveTree(`b${round}`, 3);
      // The second starts once the first holds the app lock and uploads (it hashes more, so it would start later).
      let started!: () => void;
      const firstStarted = new Promise<void>((resolve) => (started = resolve));
      const first = publish(bucket, 'app', early, `img:a${round}`, undefined, { uploadConcurrency: '2', batchFiles: '50', batchParallelism: '1' }, (event) => {
        if (event.event === 'progress' && event.phase === 'uploading') started();
      });
      await firstStarted;
      const lines: string[] = [];
      const second = publish(bucket, 'app', late, `img:b${round}`, undefined, {}, (_event, line) => lines.push(line));
      const [a, b] = await Promise.all([first, second]);
      // The later Job said whom it waited for.
      expect(lines).toContainEqual(expect.stringContaining(`waiting to go live until ${a.workflowId} (started earlier)`));
      expect(b.timestamp).toBeGreaterThanOrEqual(a.timestamp);
      await expectLiveBuild(bucket, 'app', late, `img:b${round}`);
    }
    const storage = openTestStorage(bucket);
    expect(await listKeys(storage, goLivePrefix('app'))).toEqual([]);
    expect(await listKeys(storage, stagingPrefix('app'))).toEqual([]);
  });

  it('puts the previous build back when going live fails after fed-mods.json', async () => {
    const bucket = await newBucket('restore');
    const previous = liveTree('old', 5);
    const old = await publish(bucket, 'app', previous, 'img:old');

    // The manifest cannot be written: everything before it in the go-live step has happened.
    const storage = failingWrites(openTestStorage(bucket), (key) => key.startsWith(manifestPrefix('app')), () => new StorageError('AccessDenied', 'writing manifests is refused'));
    const next = liveTree('new', 5);
    await expect(publish(bucket, 'app', next, 'img:new', storage)).rejects.toThrow(/writing manifests is refused/);

    await expectLiveBuild(bucket, 'app', previous, 'img:old');
    const real = openTestStorage(bucket);
    // js/common.js, rewritten in place, came back from the copy kept for the previous build, which stays for rollbacks.
    expect(await listKeys(real, buildCopyPrefix('app', old.runId))).toContain(buildCopyKey('app', old.runId, 'js/common.js'));
    expect(await listKeys(real, goLivePrefix('app'))).toEqual([]);
    expect(await listKeys(real, stagingPrefix('app'))).toEqual([]);
    expect(await listKeys(real, manifestPrefix('app'))).toHaveLength(1);
  });

  it('fails the run, saying so, when the previous build cannot be put back either', async () => {
    const bucket = await newBucket('norestore');
    await publish(bucket, 'app', liveTree('old', 2), 'img:old');
    // Manifests and every write back under data/ are refused: going live fails, and so does the restore.
    let goneLive = false;
    const storage = failingWrites(
      openTestStorage(bucket),
      (key) => key.startsWith(manifestPrefix('app')) || (goneLive && key.startsWith('data/app/')),
      () => {
        goneLive = true;
        return new StorageError('AccessDenied', 'writes are refused');
      },
    );
    await expect(publish(bucket, 'app', liveTree('new', 2), 'img:new', storage, { maxAttempts: '2' })).rejects.toThrow(
      /putting the previous build of app back also failed .*its live files may be mixed until the next publish of app/,
    );
  });

  it('a build whose file changed after staging fails as "source changed" and nothing of it goes live', async () => {
    const bucket = await newBucket('changed');
    const previous = liveTree('old', 2);
    await publish(bucket, 'app', previous, 'img:old');

    const next = liveTree('new', 2, 2 * 1024 * 1024);
    const big = path.join(next, 'chunks/1/new.1.js');
    const deps = populateDeps(harness, bucket);
    // Staged with one content, uploaded with another of the same size.
    const listed = listSource(next);
    deps.scan = {
      listed: Promise.resolve(listed),
      scanned: hashSource(listed).then((tree) => {
        writeFileSync(big, Buffer.alloc(2 * 1024 * 1024, 'rewritten;'));
        return tree;
      }),
    };
    await expect(populate(resolvePublishSettings({ source: next, prefix: 'app', image: 'img:new', prune: false }), deps)).rejects.toThrow(/source changed|changed during the publish/i);
    await expectLiveBuild(bucket, 'app', previous, 'img:old');
  });

  it('writes every object of a publish with the Job\'s store, even when the shared worker cannot write', async () => {
    const bucket = await newBucket('onestore');
    const refused = await startHarness({ openStorage: (b) => openTestStorage(b, { accessKeyId: 'nobody', secretAccessKey: 'wrong-secret-123' }) });
    try {
      const dir = liveTree('one', 3);
      const outcome = await populate(resolvePublishSettings({ source: dir, prefix: 'app', image: 'img:one' }), populateDeps(refused, bucket));
      expect(outcome.prune?.status).not.toBe('failed');
      await expectLiveBuild(bucket, 'app', dir, 'img:one');
    } finally {
      await refused.close();
    }
  });
});

describe('the same image again', () => {
  it('writes nothing when the newest build is this image with every file in place, and repairs a missing file', async () => {
    const bucket = await newBucket('same');
    const dir = liveTree('one', 3);
    const storage = openTestStorage(bucket);
    const first = await publish(bucket, 'app', dir, 'img:one');

    const again = await publish(bucket, 'app', dir, 'img:one');
    expect(again.upToDate).toBe(true);
    expect(again.manifestKey).toBe(first.manifestKey);
    expect(await listKeys(storage, manifestPrefix('app'))).toEqual([first.manifestKey]);

    await storage.delete([dataKey('app', 'js/common.js')]);
    await sleep(1000);
    const repaired = await publish(bucket, 'app', dir, 'img:one');
    expect(repaired.upToDate).toBeFalsy();
    await expectLiveBuild(bucket, 'app', dir, 'img:one');

    await sleep(1000);
    const other = await publish(bucket, 'app', dir, 'img:two');
    expect(other.upToDate).toBeFalsy();
    expect(await listKeys(storage, manifestPrefix('app'))).toHaveLength(3);
  });
});

it('a Temporal server without a database lost mid-upload leaves the previous build live and whole', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-lost-'));
  const server = await startTemporalDev({ port: await freePort(), logDir: dir });
  const lost = await startHarness({ temporalAddress: server.address });
  const bucket = await newBucket('lost');
  const previous = liveTree('old', 5);
  try {
    const first = startCli(['populate', '-s', previous, '-r', 'app', '-i', 'img:old', '--no-prune'], jobEnv(lost.taskQueue, bucket, server.address));
    expect((await first.result).code).toBe(0);

    const job = startCli(
      ['populate', '-s', liveTree('new', 1500), '-r', 'app', '-i', 'img:new', '--no-prune', '--batch-files', '40', '--batch-parallelism', '1', '--upload-concurrency', '1'],
      jobEnv(lost.taskQueue, bucket, server.address),
    );
    let progressed = false;
    job.onLine((line) => {
      if (/uploading: [1-9]\d*\//.test(line)) progressed = true;
    });
    while (!progressed) await sleep(50);
    await server.process.stop();
    await sleep(2000);
    job.child.kill('SIGKILL');
    await job.result;
    await expectLiveBuild(bucket, 'app', previous, 'img:old');
  } finally {
    await lost.close().catch(() => undefined);
    await server.process.stop().catch(() => undefined);
  }
});

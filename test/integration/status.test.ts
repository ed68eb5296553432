import { setTimeout as sleep } from 'node:timers/promises';
import { manifestKey } from '../../src/contract/keys';
import { rollback } from '../../src/client/rollback';
import { status, type AppStatus, type BrokenApp } from '../../src/client/status';
import type { RetentionRule } from '../../src/prune/retention';
import { publishBuilds, type PublishedBuild } from '../helpers/builds';
import { runCli } from '../helpers/cli';
import { startHeldPublish } from '../helpers/held-publish';
import { jobEnv, newBucket, openTestStorage, startHarness, type Harness } from '../helpers/servers';

jest.setTimeout(180_000);

let harness: Harness;
let bucket: string;
let builds: PublishedBuild[];
beforeAll(async () => {
  harness = await startHarness();
  bucket = await newBucket();
  builds = await publishBuilds(harness, bucket, 'app', 3);
});
afterAll(async () => harness?.close());

// Keep the newest two; anything older than a second may go.
const RULE: RetentionRule = { minAssetRecords: 2, timeoutSeconds: 1, graceSeconds: 1 };

async function appStatus(rule = RULE): Promise<AppStatus> {
  const [s] = await status({ app: 'app' }, rule, { storage: openTestStorage(bucket), client: harness.client, bucket });
  return s as AppStatus;
}

describe('pushcache status', () => {
  it('lists the retained builds newest first, the live one, and what the next prune would delete', async () => {
    await sleep(2100); // build 1 is older than the 1 s timeout
    const s = await appStatus();
    expect(s.builds.map((b) => [b.timestamp, b.image, b.files, b.live, b.nextPrune.action])).toEqual([
      [builds[2].timestamp, 'img:3', 5, true, 'keep'],
      [builds[1].timestamp, 'img:2', 5, false, 'keep'],
      [builds[0].timestamp, 'img:1', 5, false, 'delete'],
    ]);
    expect(s.live).toEqual({ state: 'build', timestamp: builds[2].timestamp });
    expect(s.builds[2].bytes).toBe(builds[0].outcome.bytes);
    // Build 1's own chunk, and its three entry-file copies.
    expect(s.nextPrune).toEqual({ builds: 1, objects: 1, orphans: 0, copies: 3, recentlyWritten: 0 });
    expect(s.inFlight).toEqual([]);
  });

  it('shows the rollback build as live after a rollback, and the build it brought back', async () => {
    const back = await rollback({ app: 'app', to: { timestamp: builds[1].timestamp }, maxAttempts: 3 }, { client: harness.client, bucket, temporal: harness.temporal, report: () => undefined });
    const s = await appStatus();
    expect(s.live).toEqual({ state: 'build', timestamp: back.timestamp });
    expect(s.builds[0]).toMatchObject({ manifestKey: back.manifestKey, image: 'img:2', live: true, rollbackOf: builds[1].timestamp });
    // Build 2 has the same fed-mods.json, but the rollback wrote it last.
    expect(s.builds.filter((b) => b.live)).toHaveLength(1);
  });

  it('shows a publish holding the app lock', async () => {
    // A publish whose Job never comes holds the lock shared while it waits for its files.
    const handle = await startHeldPublish(harness, bucket, 'app');
    const { workflowId } = handle;
    try {
      expect((await appStatus()).inFlight).toEqual([{ workflowId, mode: 'shared', holding: true }]);
    } finally {
      await handle.terminate('test over');
    }
  });

  it('prints text or JSON from the CLI, and with --all fails on an app it cannot read after showing the others', async () => {
    const env = jobEnv(harness.taskQueue, bucket);
    const text = await runCli(['status', '--prefix', 'app', '-n', '2', '-t', '1', '--orphan-grace', '1'], env);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^app: 4 builds retained, build \d+ is live$/);
    expect(lines[1]).toMatch(new RegExp(`^  \\* \\d+ +\\d+s +5 files +\\d+ B  img:2  rollback to ${builds[1].timestamp}$`));
    expect(lines[4]).toMatch(new RegExp(`^    ${builds[0].timestamp} .* img:1  \\[next prune deletes it\\]$`));
    expect(lines).toContain('  next prune: deletes 2 builds, 1 objects of those builds, 0 unreferenced objects and 6 entry-file copies');

    const json = await runCli(['status', '--prefix', 'app', '--json'], env);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { bucket: string; apps: AppStatus[] };
    expect(parsed.bucket).toBe(bucket);
    expect(parsed.apps[0].builds).toHaveLength(4);

    await openTestStorage(bucket).put(manifestKey('broken', 1), Buffer.from('not json'), { contentType: 'application/json', cacheControl: 'no-cache' });
    const all = await runCli(['status', '--all', '--json'], env);
    expect(all.code).toBe(1);
    const apps = (JSON.parse(all.stdout) as { apps: Array<AppStatus | BrokenApp> }).apps;
    expect(apps.map((a) => a.app)).toEqual(['app', 'broken']);
    expect((apps[1] as BrokenApp).error).toMatch(/object manifests\/broken\/1 is corrupt: not JSON/);
    expect(all.stderr).toMatch(/^pushcache: error: 1 of 2 apps could not be read: broken/);

    const neither = await runCli(['status'], env);
    expect(neither.code).toBe(2);
  });
});

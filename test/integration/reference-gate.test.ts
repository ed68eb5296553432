import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolvePublishSettings } from '../../src/config';
import { populate } from '../../src/client/populate';
import { dataKey, manifestPrefix, stagingPrefix } from '../../src/contract/keys';
import type { ReportEvent } from '../../src/telemetry/log';
import { appLockWorkflowId, lockStateQuery } from '../../src/workflows/app-lock-api';
import { expectLiveBuild, liveTree } from '../helpers/live-build';
import { listKeys, newBucket, openTestStorage, populateDeps, startHarness, type Harness } from '../helpers/servers';
import { publishWorkflowId } from '../../src/client/workflow-id';

jest.setTimeout(240_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

function publish(bucket: string, dir: string, image: string, extra: Record<string, string | boolean> = {}, events: ReportEvent[] = []) {
  const deps = populateDeps(harness, bucket);
  deps.report = (_line, event) => event && events.push(event);
  // Publish workflow IDs derive from app and image whatever the bucket: each test's images are its own.
  return populate(resolvePublishSettings({ source: dir, prefix: 'app', image: `${image}-${bucket}`, prune: false, ...extra }), deps);
}

describe('the reference gate', () => {
  it('refuses a build whose fed-mods.json names a missing entry chunk, at once, and the previous build still serves', async () => {
    const bucket = await newBucket('refgate');
    const previous = liveTree('old', 3);
    await publish(bucket, previous, 'img:old');

    const broken = liveTree('new', 3);
    rmSync(path.join(broken, 'js/main.new.js'));
    await expect(publish(bucket, broken, 'img:new', { maxAttempts: '5' })).rejects.toThrow(
      /references 1 file that is neither in the build nor under data\/app\/: js\/main\.new\.js/,
    );
    // Fails fast: the gate ran once, its failure marked non-retryable.
    const history = await harness.client.workflow.getHandle(publishWorkflowId(bucket, 'app', `img:new-${bucket}`, '')).fetchHistory();
    const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'checkReferences');
    expect(scheduled).toHaveLength(1);
    const failed = history.events!.flatMap((e) => (e.activityTaskFailedEventAttributes ? [e.activityTaskFailedEventAttributes] : []));
    expect(failed).toEqual([expect.objectContaining({ failure: expect.objectContaining({ applicationFailureInfo: { type: 'MissingReferences', nonRetryable: true } }) })]);

    await expectLiveBuild(bucket, 'app', previous, `img:old-${bucket}`);
    const storage = openTestStorage(bucket);
    expect(await listKeys(storage, manifestPrefix('app'))).toHaveLength(1);
    expect(await listKeys(storage, stagingPrefix('app'))).toEqual([]);

    // The refused build asked for the go-live turn while its references were checked, and gave
    // it up when they failed (released at once, not found closed by the lock's liveness check
    // minutes later): the lock holds nothing of it, and the next build of the app goes live.
    const lock = harness.client.workflow.getHandle(appLockWorkflowId(bucket, 'app'));
    const refusedRun = async () => {
      const state = await lock.query(lockStateQuery);
      return [...state.holders, ...state.waiting].filter((r) => r.owner.workflowId === publishWorkflowId(bucket, 'app', `img:new-${bucket}`, ''));
    };
    for (let tries = 0; (await refusedRun()).length > 0 && tries < 50; tries++) await new Promise((r) => setTimeout(r, 100));
    expect(await refusedRun()).toEqual([]);
    const fixed = liveTree('fixed', 3);
    await publish(bucket, fixed, 'img:fixed');
    await expectLiveBuild(bucket, 'app', fixed, `img:fixed-${bucket}`);
  });

  it("lets a build load a file that only the bucket has (an older build's chunk)", async () => {
    const bucket = await newBucket('refgate-old');
    await publish(bucket, liveTree('old', 1), 'img:old');

    const next = liveTree('new', 1);
    // The new build's fed-mods.json also loads the old build's entry chunk, which it does not hold.
    writeFileSync(path.join(next, 'fed-mods.json'), JSON.stringify({ app: { manifestLocation: '/apps/app/fed-mods.json', entry: ['/apps/app/js/main.new.js', '/apps/app/js/main.old.js'] } }));
    await publish(bucket, next, 'img:new');
    await expectLiveBuild(bucket, 'app', next, `img:new-${bucket}`);
    expect(await listKeys(openTestStorage(bucket), dataKey('app', 'js/main.old.js'))).toEqual([dataKey('app', 'js/main.old.js')]);
  });

  it('--no-verify-references lets the broken build through, and says so', async () => {
    const bucket = await newBucket('refgate-off');
    const broken = liveTree('new', 1);
    rmSync(path.join(broken, 'js/main.new.js'));
    const events: ReportEvent[] = [];
    await publish(bucket, broken, 'img:new', { verifyReferences: false }, events);
    await expectLiveBuild(bucket, 'app', broken, `img:new-${bucket}`);
    expect(events.filter((e) => e.event === 'references-unverified')).toEqual([expect.objectContaining({ level: 'warn', app: 'app' })]);
  });
});

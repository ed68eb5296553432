import { setTimeout as sleep } from 'node:timers/promises';
import { resolvePublishSettings } from '../../src/config';
import { audit, AuditProblemsError } from '../../src/client/audit';
import { populate } from '../../src/client/populate';
import type { AuditResult } from '../../src/audit/types';
import { dataKey } from '../../src/contract/keys';
import { describeStatus, status, type AppStatus } from '../../src/client/status';
import { expectLiveBuild, liveTree } from '../helpers/live-build';
import { readObject } from '../helpers/trees';
import { newBucket, openTestStorage, populateDeps, startHarness, type Harness } from '../helpers/servers';

jest.setTimeout(240_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

const options = { repair: false, appParallelism: 2, maxAttempts: 3 };
const lines: string[] = [];
const deps = (bucket: string) => ({ client: harness.client, bucket, temporal: harness.temporal, report: (line: string) => lines.push(line) });

/** Two builds of `app` a second apart: the old one's chunk stays, shared paths hold the new one's bytes. */
async function twoBuilds(bucket: string, app = 'app') {
  const old = liveTree('old', 4);
  await populate(resolvePublishSettings({ source: old, prefix: app, image: `img:old-${bucket}`, prune: false }), populateDeps(harness, bucket));
  await sleep(1000);
  const next = liveTree('new', 4);
  await populate(resolvePublishSettings({ source: next, prefix: app, image: `img:new-${bucket}`, prune: false }), populateDeps(harness, bucket));
  return { old, next };
}

async function problems(run: Promise<AuditResult>): Promise<AuditResult> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuditProblemsError);
  return (err as AuditProblemsError).result;
}

describe('the audit', () => {
  it('reports a clean bucket clean', async () => {
    const bucket = await newBucket('audit-clean');
    await twoBuilds(bucket);
    const result = await audit({ app: 'app' }, options, deps(bucket));
    expect(result).toMatchObject({ apps: ['app'], ok: 1, missing: 0, mismatched: 0, unreadable: 0, liveMismatches: 0, problems: [], failed: [] });
    const all = await audit({ all: true }, options, deps(bucket));
    expect(all.ok).toBe(1);
  });

  it('finds objects deleted behind its back, with their keys', async () => {
    const bucket = await newBucket('audit-deleted');
    await twoBuilds(bucket);
    await openTestStorage(bucket).delete([dataKey('app', 'js/main.old.js'), dataKey('app', 'chunks/1/new.1.js')]);
    const result = await problems(audit({ all: true }, options, deps(bucket)));
    expect(result.missing).toBe(2);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0].missing.map((m) => m.path)).toEqual(['chunks/1/new.1.js', 'js/main.old.js']);

    // status shows it, read from the latest audit's result through Temporal's visibility (which lags a little).
    const rule = { minAssetRecords: 3, timeoutSeconds: 172800, graceSeconds: 172800 };
    let s: AppStatus | undefined;
    for (let i = 0; i < 100 && s?.lastAudit?.status !== 'problems'; i++) {
      if (i > 0) await sleep(300);
      [s] = (await status({ app: 'app' }, rule, { storage: openTestStorage(bucket), client: harness.client, bucket })) as AppStatus[];
    }
    expect(s!.lastAudit).toMatchObject({ status: 'problems', missing: 2, keys: ['chunks/1/new.1.js', 'js/main.old.js'] });
    expect(describeStatus([s!])).toContainEqual(expect.stringMatching(/^ {2}last audit: PROBLEMS at .*: 2 missing, 0 mismatched, 0 unreadable manifests: chunks\/1\/new\.1\.js, js\/main\.old\.js$/));
  });

  it('finds an object replaced by other bytes of the same size, by its ETag', async () => {
    const bucket = await newBucket('audit-etag');
    await twoBuilds(bucket);
    const key = dataKey('app', 'chunks/2/new.2.js');
    const stored = await readObject(bucket, key);
    await openTestStorage(bucket).put(key, Buffer.alloc(stored.body.length, 'x'), { contentType: 'application/javascript', cacheControl: 'public, max-age=60' });
    const result = await problems(audit({ app: 'app' }, options, deps(bucket)));
    expect(result.problems[0].mismatched).toEqual([expect.objectContaining({ path: 'chunks/2/new.2.js', field: 'etag' })]);
    expect(result.missing).toBe(0);
  });

  it('--repair puts lost entry files back from the newest build\'s copies', async () => {
    const bucket = await newBucket('audit-repair');
    const { next } = await twoBuilds(bucket);
    await openTestStorage(bucket).delete([dataKey('app', 'index.html'), dataKey('app', 'fed-mods.json')]);
    await audit({ app: 'app' }, { ...options, repair: true }, deps(bucket));
    await expectLiveBuild(bucket, 'app', next);
    expect((await audit({ app: 'app' }, options, deps(bucket))).ok).toBe(1);
  });
});

import type { AppAuditSummary } from '../../src/audit/audit';
import { describeProblems, repairPlan } from '../../src/client/audit';

const NEWEST = 'manifests/app/200';

function summary(over: Partial<AppAuditSummary>): AppAuditSummary {
  const base: AppAuditSummary = {
    app: 'app',
    ok: false,
    manifests: 2,
    objects: 10,
    missing: [],
    mismatched: [],
    unreadable: [],
    missingCount: 0,
    mismatchedCount: 0,
    unreadableCount: 0,
    newest: { key: NEWEST, timestamp: 200, image: 'img:2', publishId: '0192f8a4-0000-7000-8000-000000000000' },
  };
  const s = { ...base, ...over };
  return { ...s, missingCount: over.missingCount ?? s.missing.length, mismatchedCount: over.mismatchedCount ?? s.mismatched.length, unreadableCount: over.unreadableCount ?? s.unreadable.length };
}

describe('what --repair does with an audit', () => {
  it("restores the newest build's entry files from its copies when they are all that is wrong", () => {
    const s = summary({ missing: [{ path: 'index.html', build: NEWEST }], mismatched: [{ path: 'fed-mods.json', build: NEWEST, field: 'etag', expected: 'a', found: 'b' }] });
    expect(repairPlan(s)).toEqual({ kind: 'restore', timestamp: 200, build: `${NEWEST} (img:2)` });
  });

  it('names the build to publish again when a chunk is gone, a manifest is unreadable, or there are no copies', () => {
    expect(repairPlan(summary({ missing: [{ path: 'js/a.js', build: NEWEST }] }))).toMatchObject({ kind: 'republish', build: `${NEWEST} (img:2)` });
    expect(repairPlan(summary({ missing: [{ path: 'index.html', build: 'manifests/app/100' }] }))).toMatchObject({ kind: 'republish' });
    expect(repairPlan(summary({ unreadable: [{ key: 'manifests/app/150', problem: 'not JSON' }] }))).toMatchObject({ kind: 'republish', why: 'unreadable manifests' });
    expect(repairPlan(summary({ missing: [{ path: 'index.html', build: NEWEST }], newest: { key: NEWEST, timestamp: 200, image: '' } }))).toMatchObject({ kind: 'republish', why: expect.stringMatching(/valpop/) });
    // Only the first keys are known: the rest may be chunks.
    expect(repairPlan(summary({ missing: [{ path: 'index.html', build: NEWEST }], missingCount: 30 }))).toMatchObject({ kind: 'republish' });
  });

  it('describes each problem with its key', () => {
    const lines = describeProblems(summary({ missing: [{ path: 'js/a.js', build: NEWEST }], missingCount: 3, liveProblem: 'the live fed-mods.json is not the one manifests/app/200 (the newest build) recorded' }));
    expect(lines).toEqual([
      'app: missing data/app/js/a.js (named by manifests/app/200)',
      'app: 2 more missing objects',
      'app: the live fed-mods.json is not the one manifests/app/200 (the newest build) recorded',
    ]);
  });
});

import { deleteBatches } from '../../src/prune/plan';
import { planRetention, type DataObject, type ManifestEntry, type RetentionRule } from '../../src/prune/retention';

const NOW = 1_800_000_000;
const rule = (over: Partial<RetentionRule> = {}): RetentionRule => ({ minAssetRecords: 3, timeoutSeconds: 100, graceSeconds: 0, ...over });
const manifest = (age: number, files: string[] = []): ManifestEntry => ({ key: `manifests/app/${NOW - age}`, timestamp: NOW - age, files });
const object = (relpath: string, idleSeconds = 10_000): DataObject => ({ relpath, lastModified: new Date((NOW - idleSeconds) * 1000) });
const plan = (manifests: ManifestEntry[], r: RetentionRule, objects: DataObject[] = [], inFlight: string[] = []) =>
  planRetention({ app: 'app', manifests, objects, inFlight, now: NOW }, r);
const actions = (manifests: ManifestEntry[], r: RetentionRule) => plan(manifests, r).manifests.map((m) => `${NOW - m.timestamp}:${m.action}`);

describe('the retention rule', () => {
  // valpop: index i (newest first) goes when i >= min-asset-records AND now - timestamp > timeout.
  it.each([
    ['keeps everything when there are no more builds than min-asset-records', [500, 400, 300], rule(), ['300:keep', '400:keep', '500:keep']],
    ['deletes old builds beyond the newest n', [500, 400, 300, 200], rule(), ['200:keep', '300:keep', '400:keep', '500:delete']],
    ['keeps a build exactly timeout old', [10, 20, 30, 100], rule(), ['10:keep', '20:keep', '30:keep', '100:keep']],
    ['deletes a build one second older than timeout', [10, 20, 30, 101], rule(), ['10:keep', '20:keep', '30:keep', '101:delete']],
    ['keeps young builds beyond n', [1, 2, 3, 4, 5], rule(), ['1:keep', '2:keep', '3:keep', '4:keep', '5:keep']],
    ['keeps the newest n however old they are', [9000, 8000, 7000], rule(), ['7000:keep', '8000:keep', '9000:keep']],
    ['with n = 0 age alone decides', [101, 50], rule({ minAssetRecords: 0 }), ['50:keep', '101:delete']],
    ['with timeout 0 only the newest n stay', [3, 2, 1], rule({ minAssetRecords: 1, timeoutSeconds: 0 }), ['1:keep', '2:delete', '3:delete']],
    ['counts by position, not by age: the n-th newest is kept', [1000, 999, 998, 997], rule({ minAssetRecords: 3 }), ['997:keep', '998:keep', '999:keep', '1000:delete']],
  ])('%s', (_name, ages, r, expected) => {
    expect(actions(ages.map((a) => manifest(a)), r)).toEqual(expected);
  });

  it('gives every manifest a reason', () => {
    const p = plan([manifest(500), manifest(400), manifest(300), manifest(200)], rule());
    expect(p.manifests.map((m) => m.reason)).toEqual([
      'one of the newest 3 builds',
      'one of the newest 3 builds',
      'one of the newest 3 builds',
      'build 4 by age and 500s old, older than the 100s timeout',
    ]);
  });

  it('deletes files of deleted builds minus files of kept builds, and never fed-mods.json', () => {
    const old = manifest(1000, ['fed-mods.json', 'a.js', 'shared.js']);
    const current = manifest(10, ['fed-mods.json', 'b.js', 'shared.js']);
    const p = plan([old, current], rule({ minAssetRecords: 1 }), [object('fed-mods.json'), object('a.js'), object('b.js'), object('shared.js')]);
    expect(p.objects).toEqual([{ key: 'data/app/a.js', reason: 'aged-out' }]);
    expect(p.objectsKept).toBe(3);
  });

  it('keeps files that a publish in progress relies on', () => {
    const p = plan([manifest(1000, ['a.js']), manifest(10, ['b.js'])], rule({ minAssetRecords: 1 }), [object('a.js'), object('b.js')], ['a.js']);
    expect(p.objects).toEqual([]);
  });

  it('collects unreferenced objects once they are older than the grace period', () => {
    const objects = [object('stale.js', 3601), object('fresh.js', 3600), object('kept.js', 99999)];
    const p = plan([manifest(10, ['kept.js'])], rule({ graceSeconds: 3600 }), objects);
    expect(p.objects).toEqual([{ key: 'data/app/stale.js', reason: 'orphan' }]);
  });

  it('never uses a grace period shorter than the timeout', () => {
    const p = plan([], rule({ timeoutSeconds: 500, graceSeconds: 10 }), [object('young.js', 400), object('old.js', 501)]);
    expect(p.objects.map((o) => o.key)).toEqual(['data/app/old.js']);
  });

  it('leaves files of deleted builds that something wrote within the grace period', () => {
    const p = plan([manifest(1000, ['a.js', 'rewritten.js']), manifest(10, [])], rule({ minAssetRecords: 1, graceSeconds: 60 }), [
      object('a.js', 1000),
      object('rewritten.js', 5),
    ]);
    expect(p.objects).toEqual([{ key: 'data/app/a.js', reason: 'aged-out' }]);
    expect(p.recentlyWritten).toBe(1);
  });

  it('does not plan deletes of files that are already gone', () => {
    const p = plan([manifest(1000, ['gone.js']), manifest(10, [])], rule({ minAssetRecords: 1 }), []);
    expect(p.objects).toEqual([]);
    expect(p.manifests.map((m) => m.action)).toEqual(['keep', 'delete']);
  });

  it('orders manifests by their key timestamp, not by listing order', () => {
    const p = plan([manifest(300), manifest(100), manifest(200)], rule({ minAssetRecords: 1, timeoutSeconds: 0 }));
    expect(p.manifests.map((m) => NOW - m.timestamp)).toEqual([100, 200, 300]);
  });
});

describe('delete batches', () => {
  it('never mix manifests and objects, hold at most 1,000 keys, and start where a retry resumes', () => {
    expect(deleteBatches(0, 1500, 4200)).toEqual([
      { start: 0, end: 1000, manifests: true },
      { start: 1000, end: 1500, manifests: true },
      { start: 1500, end: 2500, manifests: false },
      { start: 2500, end: 3500, manifests: false },
      { start: 3500, end: 4200, manifests: false },
    ]);
    expect(deleteBatches(2000, 1500, 2600)).toEqual([{ start: 2000, end: 2600, manifests: false }]);
    expect(deleteBatches(0, 0, 0)).toEqual([]);
  });
});

import { buildCopyKey, copyBuildId, isEntryFile } from '../../src/contract/keys';
import { planRetention, type ManifestEntry, type RetentionRule, type StoredObject } from '../../src/prune/retention';

const NOW = 1_800_000_000;
const RULE: RetentionRule = { minAssetRecords: 1, timeoutSeconds: 100, graceSeconds: 3600 };
const build = (age: number, publishId?: string): ManifestEntry => ({ key: `manifests/app/${NOW - age}`, timestamp: NOW - age, files: ['fed-mods.json'], publishId });
const copy = (buildId: string, relpath: string, idleSeconds = 99_999): StoredObject => ({ key: buildCopyKey('app', buildId, relpath), lastModified: new Date((NOW - idleSeconds) * 1000) });

function copiesPlan(manifests: ManifestEntry[], copies: StoredObject[], inFlightBuilds: string[] = []) {
  return planRetention({ app: 'app', manifests, inFlight: [], objects: [], now: NOW, copies, inFlightBuilds }, RULE).copies;
}

describe('entry-file copies in the retention rule', () => {
  it('keeps the copies of kept builds and deletes those of deleted builds, whatever their age', () => {
    const plan = copiesPlan([build(10, 'run-new'), build(5000, 'run-old')], [copy('run-new', 'fed-mods.json'), copy('run-old', 'fed-mods.json', 0), copy('run-old', 'index.html', 0)]);
    expect(plan).toEqual([
      { key: 'pushcache/builds/app/run-old/fed-mods.json', reason: 'aged-out' },
      { key: 'pushcache/builds/app/run-old/index.html', reason: 'aged-out' },
    ]);
  });

  it('treats the copies a go-live step kept of overwritten files (nested paths) as the build\'s own', () => {
    const plan = copiesPlan([build(10, 'run-new'), build(5000, 'run-old')], [copy('run-new', 'vs/loader.js'), copy('run-old', 'vs/loader.js', 0), copy('run-old', 'locale/en/a.json', 0)]);
    expect(plan).toEqual([
      { key: 'pushcache/builds/app/run-old/vs/loader.js', reason: 'aged-out' },
      { key: 'pushcache/builds/app/run-old/locale/en/a.json', reason: 'aged-out' },
    ]);
  });

  it('collects copies no build names once older than the grace period', () => {
    const plan = copiesPlan([build(10, 'run-new')], [copy('gone', 'fed-mods.json', 3601), copy('failed-just-now', 'fed-mods.json', 3600)]);
    expect(plan).toEqual([{ key: 'pushcache/builds/app/gone/fed-mods.json', reason: 'orphan' }]);
  });

  it('keeps the copies of a publish in progress, which has no manifest yet', () => {
    expect(copiesPlan([build(10, 'run-new')], [copy('in-flight', 'index.html')], ['in-flight'])).toEqual([]);
  });

  it('treats keys that name no build as orphans', () => {
    const stray = { key: 'pushcache/builds/app/stray.json', lastModified: new Date((NOW - 99_999) * 1000) };
    expect(copiesPlan([build(10, 'run-new')], [stray])).toEqual([{ key: stray.key, reason: 'orphan' }]);
  });

  it('leaves valpop builds, which have no publishId, out of it', () => {
    expect(copiesPlan([build(10), build(5000)], [copy('run-x', 'fed-mods.json', 10)])).toEqual([]);
  });

  it('never counts copies among the data objects', () => {
    const plan = planRetention({ app: 'app', manifests: [build(5000, 'old')], inFlight: [], objects: [], now: NOW, copies: [copy('old', 'fed-mods.json')] }, { ...RULE, minAssetRecords: 0 });
    expect(plan.objects).toEqual([]);
    expect(plan.objectsKept).toBe(0);
    expect(plan.copies).toHaveLength(1);
  });
});

describe('copy keys', () => {
  it('name the build they belong to', () => {
    expect(copyBuildId('app', buildCopyKey('app', 'abc-123', 'app-info.json'))).toBe('abc-123');
    expect(copyBuildId('app', 'pushcache/builds/app/abc-123/')).toBeUndefined();
    expect(copyBuildId('app', 'pushcache/builds/app/loose')).toBeUndefined();
  });

  it.each([
    ['fed-mods.json', true],
    ['index.html', true],
    ['app-info.json', true],
    ['app-info.deps.json', true],
    ['sub/index.html', false],
    ['js/app-info.json', false],
    ['app-info.js', false],
    ['main.js', false],
  ])('%s is an entry file: %s', (p, expected) => expect(isEntryFile(p)).toBe(expected));
});

import { dataKey, isAppKey, manifestKey, prunePlanKey } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { parseStagingRecord } from '../../src/contract/staging';
import { CorruptRecordError } from '../../src/errors';
import { parsePrunePlanRecord } from '../../src/contract/prune-plan';

/** What a prune reads from the bucket is checked before anything is decided from it. */
describe('hostile bucket state', () => {
  const unsafe = [
    ['../other/x.js', "another app's file"],
    ['static/../../other/x.js', 'a path climbing out of the app'],
    ['/data/other/x.js', 'an absolute path'],
    ['static//a.js', 'an empty segment'],
    ['static/a.js/', 'a trailing slash'],
    ['./a.js', "a '.' segment"],
    ['', 'an empty path'],
  ];

  it.each(unsafe)('refuses a manifest listing %j (%s), in both forms', (path) => {
    for (const body of [JSON.stringify({ files: ['ok.js', path], image: 'i' }), JSON.stringify(['ok.js', path])]) {
      expect(() => parseManifest('manifests/app/17', body)).toThrow(CorruptRecordError);
      expect(() => parseManifest('manifests/app/17', body)).toThrow(`object manifests/app/17 is corrupt: lists an unsafe path ${JSON.stringify(path)}`);
    }
  });

  it.each(unsafe)('refuses a staging record listing %j (%s)', (path) => {
    const record = { version: 1, publishId: 'p', app: 'app', image: '', timestamp: 1, listDigest: 'd', files: [{ path, size: 1, sha256: 'a'.repeat(64) }] };
    expect(() => parseStagingRecord('pushcache/staging/app/p.json', JSON.stringify(record))).toThrow(/is corrupt: lists an unsafe path/);
    const skipped = { ...record, files: [], skipped: [path] };
    expect(() => parseStagingRecord('pushcache/staging/app/p.json', JSON.stringify(skipped))).toThrow(/is corrupt: lists an unsafe path/);
  });

  it('knows the keys a prune of an app may delete', () => {
    for (const key of [dataKey('app', 'a/b.js'), manifestKey('app', 5), 'pushcache/builds/app/run/index.html', 'pushcache/staging/app/p.json', prunePlanKey('app', 'x')]) {
      expect(isAppKey('app', key)).toBe(true);
    }
    for (const key of [dataKey('app-2', 'a.js'), dataKey('other', 'a.js'), 'data/app', 'data/app/', 'data/app/../other/x.js', 'data/app/./x', 'manifests/other/5', 'pushcache/builds/other/r/x', 'fed-mods.json']) {
      expect(isAppKey('app', key)).toBe(false);
    }
  });

  it("refuses a prune plan listing another app's keys, or filed under another app", () => {
    const key = prunePlanKey('app', 'run');
    const plan = (app: string, keys: string[]) => JSON.stringify({ version: 1, app, keys });
    expect(parsePrunePlanRecord(key, plan('app', ['manifests/app/1', 'data/app/a.js'])).keys).toHaveLength(2);
    expect(() => parsePrunePlanRecord(key, plan('app', ['data/app/a.js', 'data/other/a.js']))).toThrow(
      `object ${key} is corrupt: it lists "data/other/a.js", which is not a key of app app`,
    );
    expect(() => parsePrunePlanRecord(key, plan('app', ['data/app/../other/a.js']))).toThrow(/not a key of app app/);
    expect(() => parsePrunePlanRecord(key, plan('other', ['data/other/a.js']))).toThrow(/the plan of app "other", which its key does not name/);
    expect(() => parsePrunePlanRecord(key, plan('../app', []))).toThrow(CorruptRecordError);
  });
});

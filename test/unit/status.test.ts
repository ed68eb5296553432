import type { Manifest } from '../../src/contract/manifest';
import { describeStatus, formatAge, summarize, type StatusInput } from '../../src/client/status';
import type { StoredManifest } from '../../src/bucket/manifests';

const NOW = 1_800_000_000;
const sha = (c: string) => c.repeat(64);

function build(age: number, fedMods: string | undefined, over: Partial<Manifest> = {}): StoredManifest {
  const timestamp = NOW - age;
  const manifest: Manifest = {
    files: ['fed-mods.json', `js/${age}.js`],
    image: `img:${age}`,
    publishId: `run-${age}`,
    ...(fedMods ? { sha256: { 'fed-mods.json': sha(fedMods) }, sizes: { 'fed-mods.json': 10, [`js/${age}.js`]: 90 } } : {}),
    ...over,
  };
  return { key: `manifests/app/${timestamp}`, timestamp, files: manifest.files, publishId: manifest.publishId, manifest };
}

const input = (manifests: StoredManifest[], liveSha256: string | undefined): StatusInput => ({
  app: 'app',
  now: NOW,
  rule: { minAssetRecords: 1, timeoutSeconds: 100, graceSeconds: 100 },
  manifests,
  objects: [],
  copies: [],
  inFlight: { paths: [], builds: [] },
  records: { staging: [], planRecords: [], goLive: [] },
  live: { keys: new Set(), problems: [] },
  liveSha256,
  inFlightRuns: [],
});

describe('status of an app', () => {
  it('marks as live the newest build that recorded the fed-mods.json the bucket holds', () => {
    const s = summarize(input([build(500, 'a'), build(300, 'b'), build(10, 'a', { rollbackOf: NOW - 500 })], sha('a')));
    expect(s.live).toEqual({ state: 'build', timestamp: NOW - 10 });
    expect(s.builds.map((b) => [b.timestamp, b.live, b.nextPrune.action])).toEqual([
      [NOW - 10, true, 'keep'],
      [NOW - 300, false, 'delete'],
      [NOW - 500, false, 'delete'],
    ]);
    expect(s.builds[0]).toMatchObject({ bytes: 100, files: 2, rollbackOf: NOW - 500 });
    expect(s.nextPrune.builds).toBe(2);
  });

  it('says when no fed-mods.json is live, and when no build recorded the live one', () => {
    expect(summarize(input([build(10, 'a')], undefined)).live).toEqual({ state: 'none' });
    // valpop records no sha256: its builds cannot be matched.
    const s = summarize(input([build(10, undefined)], sha('a')));
    expect(s.live).toEqual({ state: 'unknown' });
    expect(s.builds[0].bytes).toBeNull();
    expect(describeStatus([s])[0]).toBe('app: 1 builds retained, the live fed-mods.json matches no retained build');
  });

  it('tells per build whether it can be rolled back to, and how many files that restores', () => {
    const full = (age: number, js: string): StoredManifest =>
      build(age, 'x', {
        files: ['fed-mods.json', 'js/same.js'],
        sha256: { 'fed-mods.json': sha(js), 'js/same.js': sha(js) },
        sizes: { 'fed-mods.json': 10, 'js/same.js': 90 },
        etags: { 'fed-mods.json': `f-${js}`, 'js/same.js': `e-${js}` },
      });
    // Build 300 rewrote js/same.js in place; build 500's bytes of it are kept under its copies.
    const [old, valpop, live] = [full(500, 'a'), build(400, undefined, { publishId: undefined }), full(300, 'b')];
    const at = new Date((NOW - 300) * 1000);
    const copy = (m: StoredManifest, p: string) => ({ key: `pushcache/builds/app/${m.publishId}/${p}`, lastModified: at, size: m.manifest.sizes![p], etag: m.manifest.etags![p] });
    const withCopies = (kept: boolean): StatusInput => ({
      ...input([old, valpop, live], sha('b')),
      objects: [{ relpath: 'js/same.js', lastModified: at, size: 90, etag: 'e-b' }, { relpath: 'fed-mods.json', lastModified: at, size: 10, etag: 'f-b' }],
      copies: [copy(old, 'fed-mods.json'), copy(live, 'fed-mods.json'), ...(kept ? [copy(old, 'js/same.js')] : [])],
    });
    const s = summarize(withCopies(true));
    expect(s.builds.map((b) => [b.timestamp, b.rollback?.possible, b.rollback?.possible && b.rollback.restores])).toEqual([
      [NOW - 300, true, 1],
      [NOW - 400, false, false],
      [NOW - 500, true, 2],
    ]);
    expect(describeStatus([s])).toContain(`  rollback: ${NOW - 400} cannot be, ${NOW - 500} restores 2 files`);
    expect(summarize(withCopies(false)).builds[2].rollback).toEqual({ possible: false, reason: expect.stringMatching(/no copy of them is kept: 1 rewritten .*\(js\/same.js\)/) });
  });

  it('reports an unreadable app on one line', () => {
    expect(describeStatus([{ app: 'broken', error: 'object manifests/broken/1 is corrupt: not JSON' }])).toEqual(['broken: cannot be read: object manifests/broken/1 is corrupt: not JSON']);
  });

  it.each([
    [5, '5s'],
    [119, '119s'],
    [120, '2m'],
    [7200, '2h'],
    [172800, '2d'],
    [-3, 'future'],
  ])('shows an age of %ds as %s', (seconds, text) => expect(formatAge(seconds)).toBe(text));
});

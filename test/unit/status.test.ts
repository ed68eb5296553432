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

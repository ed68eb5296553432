import type { FileRecord } from '../../src/contract/manifest';
import { goLiveGroups, planGoLive } from '../../src/source/go-live-plan';
import { isSameBuild } from '../../src/source/same-build';

const file = (path: string, etag = `e-${path}`, size = 10): FileRecord => ({ path, size, sha256: 'a'.repeat(64), etag });
const held = (p: FileRecord) => [p.path, { size: p.size, etag: p.etag }] as const;

describe('planGoLive', () => {
  const chunk = file('js/chunk.abc.js');
  const common = file('js/common.js');
  const index = file('index.html');
  const info = file('app-info.json');
  const nestedIndex = file('docs/index.html');
  const fedMods = file('fed-mods.json');
  const all = [fedMods, chunk, common, index, info, nestedIndex];

  const none = { heldBack: new Set<string>(), skipped: new Set<string>() };

  it('writes entry and short-cache files unless staging found them in place, fed-mods.json last, other files in place never', () => {
    const listing = new Map([held(chunk), held(common), held(index), held(fedMods), held(nestedIndex)]);
    const writes = planGoLive(all, listing, { heldBack: new Set(), skipped: new Set([nestedIndex.path]) });
    expect(writes.map((w) => w.path)).toEqual(['index.html', 'app-info.json', 'fed-mods.json']);
    expect(writes.find((w) => w.path === 'index.html')?.existed).toBe(true);
    expect(writes.find((w) => w.path === 'app-info.json')?.existed).toBe(false);
  });

  it('writes held-back files, and files another build rewrote or removed since staging, before the entry files', () => {
    const listing = new Map([held(fedMods), held(index), [common.path, { size: 10, etag: 'other' }] as const]);
    const writes = planGoLive([fedMods, chunk, common, index], listing, none);
    expect(writes).toEqual([
      { path: 'js/chunk.abc.js', existed: false },
      { path: 'js/common.js', existed: true },
      { path: 'index.html', existed: true },
      { path: 'fed-mods.json', existed: true },
    ]);
    expect(planGoLive([chunk], new Map([held(chunk)]), { heldBack: new Set([chunk.path]), skipped: new Set() }).map((w) => w.path)).toEqual([chunk.path]);
  });

  it('leaves fed-mods.json alone only when staging found it in place and it still is', () => {
    const skipped = { heldBack: new Set<string>(), skipped: new Set([fedMods.path]) };
    expect(planGoLive([fedMods], new Map([held(fedMods)]), skipped)).toEqual([]);
    // Rewritten since staging (a rollback, another build): this build's must go back.
    expect(planGoLive([fedMods], new Map([[fedMods.path, { size: 10, etag: 'other' }] as const]), skipped)).toEqual([{ path: 'fed-mods.json', existed: true }]);
    // In place by bytes, but staging could not vouch for its headers.
    expect(planGoLive([fedMods], new Map([held(fedMods)]), none)).toEqual([{ path: 'fed-mods.json', existed: true }]);
  });

  it('groups the writes so fed-mods.json is alone and last', () => {
    const groups = goLiveGroups(planGoLive(all, new Map(), none));
    expect(groups.map((g) => g.map((w) => w.path))).toEqual([['js/chunk.abc.js', 'js/common.js'], ['index.html', 'app-info.json', 'docs/index.html'], ['fed-mods.json']]);
  });
});

describe('isSameBuild', () => {
  const a = file('a.js', 'ea', 3);
  const b = file('b.js', 'eb', 4);
  const listing = new Map([held(a), held(b)]);
  const manifest = { files: ['a.js', 'b.js'], image: 'img:1', sha256: { 'a.js': a.sha256, 'b.js': b.sha256 }, sizes: { 'a.js': 3, 'b.js': 4 } };

  it('is true for the same image, files and bytes, all in place', () => {
    expect(isSameBuild(manifest, 'img:1', [a, b], listing)).toBe(true);
  });
  it('is false for another image, no image, another file list or other bytes', () => {
    expect(isSameBuild(manifest, 'img:2', [a, b], listing)).toBe(false);
    expect(isSameBuild({ ...manifest, image: '' }, '', [a, b], listing)).toBe(false);
    expect(isSameBuild(manifest, 'img:1', [a], listing)).toBe(false);
    expect(isSameBuild(manifest, 'img:1', [a, { ...b, sha256: 'b'.repeat(64) }], listing)).toBe(false);
  });
  it('is false when a file it names is missing or has another size, so publishing again repairs it', () => {
    expect(isSameBuild(manifest, 'img:1', [a, b], new Map([held(a)]))).toBe(false);
    expect(isSameBuild(manifest, 'img:1', [a, b], new Map([held(a), [b.path, { size: 99, etag: 'eb' }] as const]))).toBe(false);
  });
  it('takes a valpop manifest (no hashes, no sizes) by its file list and presence', () => {
    expect(isSameBuild({ files: ['a.js', 'b.js'], image: 'img:1' }, 'img:1', [a, b], listing)).toBe(true);
  });
});

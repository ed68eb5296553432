import type { Manifest } from '../../src/contract/manifest';
import type { StoredManifest } from '../../src/bucket/manifests';
import { NotRestorableError } from '../../src/rollback/errors';
import { resolveRollbackSettings } from '../../src/rollback/settings';
import { assertRestorable, keepFor, restoredEtag, planRestore, resolveTarget, restoreOrder, rollbackCacheMaxAge, type ListedObject } from '../../src/rollback/target';
import { ConfigError } from '../../src/errors';

const FILES = ['fed-mods.json', 'index.html', 'js/a.js', 'js/b.js'];

function stored(timestamp: number, over: Partial<Manifest> = {}, files = FILES): StoredManifest {
  const manifest: Manifest = {
    files,
    image: `img:${timestamp}`,
    publishId: `run-${timestamp}`,
    cacheMaxAge: 86400,
    sha256: Object.fromEntries(files.map((f) => [f, 'a'.repeat(64)])),
    sizes: Object.fromEntries(files.map((f) => [f, 10])),
    etags: Object.fromEntries(files.map((f) => [f, `etag-${f}-${timestamp}`])),
    ...over,
  };
  return { key: `manifests/app/${timestamp}`, timestamp, files: manifest.files, publishId: manifest.publishId, manifest };
}

/** The bucket as `m` wrote it: every data file and every entry-file copy with its recorded size and ETag. */
function written(m: StoredManifest): { objects: Map<string, ListedObject>; copies: Map<string, ListedObject> } {
  const listed = (p: string): [string, ListedObject] => [p, { size: m.manifest.sizes![p], etag: m.manifest.etags![p] }];
  return { objects: new Map(m.files.map(listed)), copies: new Map(m.files.filter((p) => !p.includes('/')).map(listed)) };
}

describe('choosing the build to roll back to', () => {
  const builds = [stored(100), stored(200, { image: 'img:same' }), stored(300, { image: 'img:same' })];

  it('finds a build by its timestamp', () => expect(resolveTarget('app', builds, { timestamp: 200 }).key).toBe('manifests/app/200'));

  it('finds the newest build with an image', () => expect(resolveTarget('app', builds, { image: 'img:same' }).key).toBe('manifests/app/300'));

  it('says which builds exist when the one asked for does not', () => {
    expect(() => resolveTarget('app', builds, { timestamp: 150 })).toThrow(NotRestorableError);
    expect(() => resolveTarget('app', builds, { timestamp: 150 })).toThrow(/app has no build with timestamp 150; the newest retained builds are 300 \(img:same\), 200 \(img:same\), 100 \(img:100\)/);
    expect(() => resolveTarget('app', [], { image: 'x' })).toThrow(/app has no build with image x; it has no builds/);
  });
});

describe('checking a build is still in place', () => {
  it('accepts a build whose files are all as it wrote them', () => {
    const m = stored(100);
    const { objects, copies } = written(m);
    expect(() => assertRestorable('app', m, objects, copies)).not.toThrow();
  });

  it('accepts entry files a later build overwrote: they come back from the copies', () => {
    const m = stored(100);
    const { objects, copies } = written(m);
    objects.set('index.html', { size: 99, etag: 'later' });
    objects.delete('fed-mods.json');
    expect(() => assertRestorable('app', m, objects, copies)).not.toThrow();
  });

  it('refuses a build with a file a later build rewrote with other bytes of the same size, naming it', () => {
    const m = stored(100);
    const { objects, copies } = written(m);
    objects.set('js/a.js', { size: 10, etag: 'other-bytes' });
    objects.delete('js/b.js');
    expect(() => assertRestorable('app', m, objects, copies)).toThrow(
      'build 100 of app cannot be rolled back to: 2 of its 4 files are no longer as it wrote them and no copy of them is kept: 1 rewritten with other content by a later build (js/a.js); 1 deleted (js/b.js). Publish that build again instead',
    );
  });

  it('names the first five paths and counts the rest', () => {
    const files = ['fed-mods.json', ...Array.from({ length: 8 }, (_, i) => `js/${i}.js`)];
    const m = stored(100, {}, files);
    const { copies } = written(m);
    expect(() => assertRestorable('app', m, new Map(), copies)).toThrow(/8 deleted \(js\/0.js, js\/1.js, js\/2.js, js\/3.js, js\/4.js and 3 more\)/);
  });

  it('refuses a build whose entry-file copies are missing or damaged', () => {
    const m = stored(100);
    const { objects, copies } = written(m);
    copies.set('index.html', { size: 10, etag: 'damaged' });
    expect(() => assertRestorable('app', m, objects, copies)).toThrow(/copies of its entry files index.html are missing or damaged/);
  });

  it('refuses builds by valpop or by a pushcache that recorded no ETags', () => {
    const valpop = stored(100, { publishId: undefined, etags: undefined, sizes: undefined });
    expect(() => assertRestorable('app', valpop, new Map(), new Map())).toThrow(/published by valpop or by a pushcache that kept no copies/);
    const older = stored(100, { etags: undefined });
    expect(() => assertRestorable('app', older, written(stored(100)).objects, written(stored(100)).copies)).toThrow(NotRestorableError);
  });
});

/** Copies keyed as planRestore reads them: `<build id>/<path>`, each with the size and ETag its build recorded. */
function copiesOf(...builds: Array<[StoredManifest, string[]]>): Map<string, ListedObject> {
  return new Map(builds.flatMap(([m, paths]) => paths.map((p): [string, ListedObject] => [`${m.publishId}/${p}`, { size: m.manifest.sizes![p], etag: m.manifest.etags![p] }])));
}

/** Build `timestamp` with its own bytes for the paths in `changed` (the others as build 100 wrote them). */
function rewriting(timestamp: number, changed: string[]): StoredManifest {
  const base = stored(100);
  const sha = (p: string) => (changed.includes(p) ? String(timestamp % 10).repeat(64) : base.manifest.sha256![p]);
  const etag = (p: string) => (changed.includes(p) ? `etag-${p}-${timestamp}` : base.manifest.etags![p]);
  return stored(timestamp, { sha256: Object.fromEntries(FILES.map((f) => [f, sha(f)])), etags: Object.fromEntries(FILES.map((f) => [f, etag(f)])) });
}

describe('planning a restore from kept copies', () => {
  const b1 = stored(100);
  // Build 2 rewrote js/a.js in place (same size, other bytes) and its entry files.
  const b2 = rewriting(200, ['js/a.js', 'index.html', 'fed-mods.json']);
  const live = written(b2).objects;

  it('restores what differs from a copy (its own or a later build\'s of the same bytes), entry files last, fed-mods.json last of all', () => {
    const plan = planRestore('app', b1, [b1, b2], live, copiesOf([b1, ['fed-mods.json', 'index.html', 'js/a.js']], [b2, ['fed-mods.json', 'index.html']]));
    expect(plan).toEqual({
      restore: [
        { path: 'js/a.js', copy: 'run-100/js/a.js' },
        { path: 'index.html', copy: 'run-100/index.html' },
        { path: 'fed-mods.json', copy: 'run-100/fed-mods.json' },
      ],
      inPlace: 1,
    });
  });

  it('takes a copy another retained build kept of the same bytes', () => {
    // A rollback to build 1 (build 3) is the newest naming build 1's bytes: build 2's next overwrite kept them under it.
    const b3 = stored(300, { publishId: 'run-300', sha256: b1.manifest.sha256, etags: b1.manifest.etags });
    const plan = planRestore('app', b1, [b1, b2, b3], live, copiesOf([b1, ['fed-mods.json', 'index.html']], [b3, ['js/a.js']]));
    expect(plan).toMatchObject({ restore: [{ path: 'js/a.js', copy: 'run-300/js/a.js' }, { path: 'index.html' }, { path: 'fed-mods.json' }] });
  });

  it('never takes a copy of other bytes, and refuses naming the file when no copy is kept', () => {
    // Build 2's copy of js/a.js holds build 2's bytes.
    const plan = planRestore('app', b1, [b1, b2], live, copiesOf([b1, ['fed-mods.json', 'index.html']], [b2, ['js/a.js']]));
    expect(plan).toMatchObject({ unrestorable: { replaced: ['js/a.js'], missing: [], copies: [] } });
    expect('refused' in plan && plan.refused).toMatch(/1 of its 4 files are no longer as it wrote them and no copy of them is kept: 1 rewritten with other content by a later build \(js\/a.js\)/);
  });

  it('ignores copies of builds no manifest names any more (pruned), and copies of another size', () => {
    const pruned = rewriting(300, []);
    expect(planRestore('app', b1, [b1, b2], live, copiesOf([b1, ['fed-mods.json', 'index.html']], [pruned, ['js/a.js']]))).toHaveProperty('refused');
    const wrongSize = copiesOf([b1, ['fed-mods.json', 'index.html', 'js/a.js']]);
    wrongSize.set('run-100/js/a.js', { size: 11, etag: 'x' });
    expect(planRestore('app', b1, [b1, b2], live, wrongSize)).toHaveProperty('refused');
  });

  it('restores only the entry files when everything else is in place', () => {
    const plan = planRestore('app', b1, [b1, b2], written(b1).objects, copiesOf([b1, ['fed-mods.json', 'index.html']]));
    expect(plan).toEqual({ restore: [{ path: 'index.html', copy: 'run-100/index.html' }, { path: 'fed-mods.json', copy: 'run-100/fed-mods.json' }], inPlace: 2 });
  });
});

describe('what an overwrite keeps', () => {
  const b1 = stored(100);
  const b2 = rewriting(200, ['js/a.js']);
  const object = (m: StoredManifest, p: string): ListedObject => ({ size: m.manifest.sizes![p], etag: m.manifest.etags![p] });

  it('keeps an object a retained build wrote when other bytes replace it, under the newest build naming those bytes', () => {
    expect(keepFor('js/a.js', object(b1, 'js/a.js'), b2.manifest.sha256!['js/a.js'], [b1])).toBe('run-100');
    const b3 = stored(300, { sha256: b1.manifest.sha256, etags: b1.manifest.etags });
    expect(keepFor('js/a.js', object(b1, 'js/a.js'), b2.manifest.sha256!['js/a.js'], [b1, b3, b2])).toBe('run-300');
  });

  it('keeps nothing when the bytes are the same, for entry files (copied by every build), or for objects no retained build wrote', () => {
    expect(keepFor('js/a.js', object(b1, 'js/a.js'), b1.manifest.sha256!['js/a.js'], [b1])).toBeUndefined();
    expect(keepFor('index.html', object(b1, 'index.html'), 'other', [b1])).toBeUndefined();
    expect(keepFor('js/a.js', { size: 10, etag: 'valpop' }, 'other', [b1, b2])).toBeUndefined();
    expect(keepFor('js/a.js', object(b1, 'js/a.js'), 'other', [stored(100, { publishId: undefined })])).toBeUndefined();
  });
});

describe('the new manifest', () => {
  it('records the plain ETag a server-side copy gave a file uploaded in parts, and nothing else from the listing', () => {
    expect(restoredEtag('abc-3', 20, { size: 20, etag: 'def' })).toBe('def');
    expect(restoredEtag('abc-3', 20, { size: 19, etag: 'def' })).toBe('abc-3');
    expect(restoredEtag('abc-3', 20, { size: 20, etag: 'xyz-3' })).toBe('abc-3');
    expect(restoredEtag('abc', 20, { size: 20, etag: 'def' })).toBe('abc');
    expect(restoredEtag('abc-3', 20, undefined)).toBe('abc-3');
  });

  it('claims the max-age only when every build since the target wrote with it', () => {
    const target = stored(100);
    expect(rollbackCacheMaxAge(target, [target, stored(200), stored(300)])).toBe(86400);
    expect(rollbackCacheMaxAge(target, [target, stored(200, { cacheMaxAge: 60 }), stored(300)])).toBeUndefined();
    expect(rollbackCacheMaxAge(target, [target, stored(200, { cacheMaxAge: undefined })])).toBeUndefined();
    // Older builds do not matter: they wrote before the target.
    expect(rollbackCacheMaxAge(target, [stored(50, { cacheMaxAge: 60 }), target])).toBe(86400);
  });

  it('restores entry files with fed-mods.json last', () => {
    expect(restoreOrder(['fed-mods.json', 'app-info.json', 'js/a.js', 'index.html'])).toEqual(['app-info.json', 'index.html', 'fed-mods.json']);
  });
});

describe('rollback flags', () => {
  it('reads --to as a timestamp when it is all digits, else as an image', () => {
    expect(resolveRollbackSettings({ prefix: 'app', to: '1700000000' })).toEqual({ app: 'app', to: { timestamp: 1700000000 }, maxAttempts: 10 });
    expect(resolveRollbackSettings({ prefix: 'app', to: 'quay.io/org/app:abc', maxAttempts: '3' })).toEqual({ app: 'app', to: { image: 'quay.io/org/app:abc' }, maxAttempts: 3 });
  });

  it('reports every problem at once', () => {
    const err = (() => {
      try {
        resolveRollbackSettings({ prefix: '../x', maxAttempts: 'many' });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toEqual([expect.stringMatching(/^-r\/--prefix: app name/), expect.stringMatching(/^--to is required/), '--max-attempts must be a whole number']);
  });
});

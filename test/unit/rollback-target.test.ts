import type { Manifest } from '../../src/contract/manifest';
import type { StoredManifest } from '../../src/bucket/manifests';
import { NotRestorableError } from '../../src/rollback/errors';
import { resolveRollbackSettings } from '../../src/rollback/settings';
import { assertRestorable, resolveTarget, restoreOrder, rollbackCacheMaxAge, type ListedObject } from '../../src/rollback/target';
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
      'build 100 of app cannot be rolled back to: 2 of its 4 files are no longer as it wrote them: 1 rewritten with other content by a later build (js/a.js); 1 deleted (js/b.js). Publish that build again instead',
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

describe('the new manifest', () => {
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

import { cacheControl, contentType, SHORT_LIVED_CACHE_CONTROL } from '../../src/contract/headers';
import { dataKey, manifestKey, manifestTimestamp } from '../../src/contract/keys';
import { parseManifest, renderManifest } from '../../src/contract/manifest';
import { relPathProblem, validateAppName } from '../../src/contract/names';
import { CorruptRecordError, InvalidNameError } from '../../src/errors';

describe('content types', () => {
  it.each([
    ['index.html', 'text/html; charset=utf-8'],
    ['css/main.4f1c.css', 'text/css; charset=utf-8'],
    ['js/main.8a3d.js', 'application/javascript'],
    ['fonts/a.woff2', 'font/woff2'],
    ['images/logo.svg', 'image/svg+xml'],
    ['images/a.png', 'image/png'],
    ['images/a.jpg', 'image/jpeg'],
    ['images/a.JPEG', 'image/jpeg'],
    ['fed-mods.json', 'application/json'],
  ])('keeps the contract type of %s', (file, type) => expect(contentType(file)).toBe(type));

  it.each([
    ['js/chunk.mjs', 'application/javascript'],
    ['js/main.js.map', 'application/json'],
    ['fonts/a.woff', 'font/woff'],
    ['favicon.ico', 'image/vnd.microsoft.icon'],
    ['robots.txt', 'text/plain; charset=utf-8'],
    ['app.wasm', 'application/wasm'],
  ])('uses the standard table for %s', (file, type) => expect(contentType(file)).toBe(type));

  it.each(['LICENSE', 'bin/tool', 'a.unknownext', 'dir.v2/file'])('sends octet-stream for %s', (file) =>
    expect(contentType(file)).toBe('application/octet-stream'),
  );
});

describe('cache control', () => {
  it.each(['index.html', 'sub/index.html', 'fed-mods.json', 'app-info.json', 'x/app-info.deps.json'])('keeps %s short-lived', (f) =>
    expect(cacheControl(f, 86400)).toBe(SHORT_LIVED_CACHE_CONTROL),
  );
  it('gives hashed assets the configured max-age', () => {
    expect(cacheControl('js/main.8a3d.js', 86400)).toBe('public, max-age=86400');
    expect(cacheControl('index.htm', 5)).toBe('public, max-age=5');
  });
});

describe('keys', () => {
  it('lays out data and manifests as valpop does', () => {
    expect(dataKey('app', 'js/a.js')).toBe('data/app/js/a.js');
    expect(manifestKey('app', 1700000000)).toBe('manifests/app/1700000000');
  });
  it('parses only plain integer manifest keys', () => {
    expect(manifestTimestamp('manifests/app/1700000000')).toBe(1700000000);
    expect(manifestTimestamp('manifests/app/17e9')).toBeUndefined();
    expect(manifestTimestamp('manifests/app/-1')).toBeUndefined();
    expect(manifestTimestamp('manifests/app/')).toBeUndefined();
  });
});

describe('names', () => {
  it.each(['app', 'my-app', 'app_2', 'a.b'])('accepts app %s', (app) => expect(validateAppName(app)).toBe(app));
  it.each(['', '../x', 'a/b', '..', '.hidden', 'a..b', 'a b', '/abs', 'x'.repeat(129)])('rejects app %j', (app) =>
    expect(() => validateAppName(app)).toThrow(InvalidNameError),
  );
  it.each([
    ['', 'is empty'],
    ['/etc/passwd', 'is absolute'],
    ['a//b', 'has an empty segment'],
    ['a/../b', "has a '..' segment"],
    ['./a', "has a '.' segment"],
    ['a\\b', "contains '\\'"],
    ['a\nb', 'contains a control character'],
  ])('rejects relpath %j (%s)', (p, why) => expect(relPathProblem(p)).toBe(why));
  it.each(['a.js', 'deep/er/a b.js', 'ü/%23#?.js', '..a/b..'])('accepts relpath %j', (p) => expect(relPathProblem(p)).toBeUndefined());
});

describe('manifests', () => {
  const files = [
    { path: 'index.html', size: 10, sha256: 'a'.repeat(64) },
    { path: 'fed-mods.json', size: 2, sha256: 'b'.repeat(64) },
  ];

  it('renders the contract body with pushcache extras and reads it back', () => {
    const body = renderManifest({ files, image: 'quay.io/app:1', valpopImage: 'pc:1', timestamp: 17, publishId: 'run-1' });
    const json = JSON.parse(body);
    expect(json).toMatchObject({ files: ['index.html', 'fed-mods.json'], image: 'quay.io/app:1', valpopImage: 'pc:1', timestamp: 17 });
    expect(parseManifest('manifests/a/17', body)).toMatchObject({ publishId: 'run-1', sha256: { 'index.html': 'a'.repeat(64) } });
  });

  it.each([
    ['with ETags', true],
    ['without ETags', false],
  ])('renders %s byte for byte what building the maps with Object.fromEntries rendered, for any file name', (_, withEtags) => {
    const names = ['index.html', '__proto__', 'constructor', 'toString', '123', '9', 'a/__proto__', 'ü/"q".js', 'fed-mods.json'];
    const tricky = names.map((path, i) => ({ path, size: i, sha256: String(i).repeat(64), ...(withEtags && i % 2 === 0 ? { etag: `e${i}` } : {}) }));
    const input = { files: tricky, image: 'i', valpopImage: 'v', timestamp: 17, publishId: 'run-1', cacheMaxAge: 60, rollbackOf: 3 };
    const before = JSON.stringify({
      files: names,
      image: 'i',
      valpopImage: 'v',
      timestamp: 17,
      publishId: 'run-1',
      cacheMaxAge: 60,
      sha256: Object.fromEntries(tricky.map((f) => [f.path, f.sha256])),
      sizes: Object.fromEntries(tricky.map((f) => [f.path, f.size])),
      ...(withEtags ? { etags: Object.fromEntries(tricky.flatMap((f) => (f.etag ? [[f.path, f.etag]] : []))) } : {}),
      rollbackOf: 3,
    });
    const body = renderManifest(input);
    expect(body).toBe(before);
    expect(parseManifest('k', body).sha256?.['__proto__']).toBe('1'.repeat(64));
  });

  it('reads the legacy bare-array form', () => {
    expect(parseManifest('k', '["a.js","b/c.css"]')).toEqual({ files: ['a.js', 'b/c.css'], image: '' });
  });

  it('reads valpop manifests without pushcache fields', () => {
    expect(parseManifest('k', '{"files":["a.js"],"image":"i","timestamp":5}').files).toEqual(['a.js']);
  });

  it.each([
    ['not json', 'not JSON'],
    ['{"image":"x"}', 'files'],
    ['{"files":[1]}', 'files'],
    ['["../other-app/x.js"]', 'unsafe path'],
  ])('rejects corrupt manifest %s', (body, detail) => {
    expect(() => parseManifest('manifests/a/1', body)).toThrow(CorruptRecordError);
    expect(() => parseManifest('manifests/a/1', body)).toThrow(new RegExp(detail));
  });
});

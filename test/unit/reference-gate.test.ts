import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fedModsReferences, htmlReferences, mergeReferences } from '../../src/contract/references';
import { MissingReferencesError } from '../../src/errors';
import { referenceGate, referencesOutsideBuild } from '../../src/source/reference-gate';

const EXAMPLE = path.resolve(__dirname, '..', '..', 'example');

function filesOf(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const rel = prefix ? `${prefix}/${name}` : name;
    return statSync(path.join(dir, name)).isDirectory() ? filesOf(path.join(dir, name), rel) : [rel];
  });
}

/** The example app's own entry files, read as the gate reads a build's. */
function exampleReferences(app = 'example-app') {
  return mergeReferences(
    fedModsReferences(app, readFileSync(path.join(EXAMPLE, 'fed-mods.json'), 'utf8')),
    htmlReferences(app, readFileSync(path.join(EXAMPLE, 'index.html'), 'utf8')),
  );
}

/** frontend-components-config's ChunkMapper output, with manifestLocation as chrome's config names it. */
const FED_MODS = JSON.stringify({
  inventory: {
    manifestLocation: '/apps/inventory/fed-mods.json',
    entry: ['/apps/inventory/js/inventory.3f1c2a.js'],
    modules: ['/apps/inventory/js/1234.5a6b7c.js', '/apps/inventory/css/1234.5a6b7c.css'],
  },
  // A scope with only the fields that may be missing left out.
  inventoryWidgets: {},
});

const INDEX_HTML =
  '<!doctype html><html><head><link rel="icon" href="favicon.ico">' +
  '<link href="https://fonts.googleapis.com/css2?family=Red+Hat+Text" rel="stylesheet">' +
  '<script defer src="/apps/inventory/js/runtime.a1b2c3.js"></script>' +
  '<script src="/apps/chrome/js/chrome-root.js"></script></head><body></body></html>';

const inventoryRefs = () => mergeReferences(fedModsReferences('inventory', FED_MODS), htmlReferences('inventory', INDEX_HTML));

describe('the reference gate', () => {
  it('passes the example app as published: everything it loads is in the build', () => {
    const files = new Set(filesOf(EXAMPLE));
    const refs = exampleReferences();
    expect(refs.inApp).toEqual(
      expect.arrayContaining(['js/exampleApp.2d7f0c41.js', 'css/main.4f1c2a9b.css', 'fonts/inter-latin.9b2e11aa.woff2', 'js/runtime.0c5f7d2e.js', 'js/main.8a3d91fe.js']),
    );
    expect(referencesOutsideBuild(files, refs)).toEqual([]);
    expect(referenceGate(files, refs, new Set()).missing).toEqual([]);
  });

  it('finds the entry chunk a build lost, and nothing else', () => {
    const files = new Set(filesOf(EXAMPLE).filter((f) => f !== 'js/exampleApp.2d7f0c41.js'));
    const verdict = referenceGate(files, exampleReferences(), new Set());
    expect(verdict.missing).toEqual(['js/exampleApp.2d7f0c41.js']);
  });

  it('asks the bucket only about what the build does not hold, and accepts what the bucket has', () => {
    const files = new Set(['fed-mods.json', 'index.html', 'js/inventory.3f1c2a.js', 'css/1234.5a6b7c.css']);
    const refs = inventoryRefs();
    expect(referencesOutsideBuild(files, refs)).toEqual(['favicon.ico', 'js/1234.5a6b7c.js', 'js/runtime.a1b2c3.js']);
    // An older build's chunk, still in the bucket, is fine; the runtime and the icon exist nowhere.
    const verdict = referenceGate(files, refs, new Set(['js/1234.5a6b7c.js', 'js/unrelated.js']));
    expect(verdict.missing).toEqual(['favicon.ico', 'js/runtime.a1b2c3.js']);
    expect(verdict.inBucket).toEqual(['js/1234.5a6b7c.js']);
    expect(verdict.inBuild).toBe(3);
  });

  it('reports other apps and absolute URLs, never requires them', () => {
    const files = new Set(['fed-mods.json', 'index.html', 'favicon.ico', 'js/inventory.3f1c2a.js', 'js/1234.5a6b7c.js', 'css/1234.5a6b7c.css', 'js/runtime.a1b2c3.js']);
    const verdict = referenceGate(files, inventoryRefs(), new Set());
    expect(verdict.missing).toEqual([]);
    expect(verdict.external).toEqual(['/apps/chrome/js/chrome-root.js', 'https://fonts.googleapis.com/css2?family=Red+Hat+Text']);
  });

  it('the example app published under another name loads nothing of its own: all external, nothing required', () => {
    const verdict = referenceGate(new Set(), exampleReferences('other-app'), new Set());
    expect(verdict.missing).toEqual([]);
    expect(verdict.external.length).toBeGreaterThan(0);
  });

  it('an unreadable fed-mods.json is reported, not fatal, and the readable index.html is still checked', () => {
    const refs = mergeReferences(fedModsReferences('inventory', '{ not json'), htmlReferences('inventory', INDEX_HTML));
    const verdict = referenceGate(new Set(['favicon.ico']), refs, new Set());
    expect(verdict.problems).toHaveLength(1);
    expect(verdict.missing).toEqual(['js/runtime.a1b2c3.js']);
  });

  it('the failure names the first missing paths and how many more', () => {
    const missing = Array.from({ length: 13 }, (_, i) => `js/${i}.js`);
    const err = new MissingReferencesError('inventory', missing);
    expect(err.permanent).toBe(true);
    expect(err.type).toBe('MissingReferences');
    expect(err.message).toContain('js/0.js, js/1.js');
    expect(err.message).toContain('js/9.js and 3 more');
    expect(err.message).not.toContain('js/10.js');
    expect(new MissingReferencesError('inventory', ['js/a.js']).message).toMatch(/references 1 file that is neither in the build nor under data\/inventory\/: js\/a\.js;/);
  });
});

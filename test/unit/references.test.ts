import { fedModsReferences, htmlReferences, mergeReferences, resolveReference } from '../../src/contract/references';

/** What frontend-components-config's ChunkMapper writes with `publicPath: '/apps/inventory/'`. */
const CHUNK_MAPPER_FED_MODS = JSON.stringify(
  {
    inventory: {
      entry: ['/apps/inventory/js/inventory.3f1c2a.js'],
      modules: ['/apps/inventory/js/1234.5a6b7c.js', '/apps/inventory/css/1234.5a6b7c.css', '/apps/inventory/js/5678.9d0e1f.js'],
    },
  },
  null,
  4,
);

/** html-webpack-plugin's minified output for the same build, plus a CDN font and an icon. */
const WEBPACK_INDEX_HTML =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"/><title>Inventory</title>' +
  '<link rel="icon" href="favicon.ico">' +
  '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>' +
  '<link href="https://fonts.googleapis.com/css2?family=Red+Hat+Text&amp;display=swap" rel="stylesheet">' +
  '<script defer="defer" src="/apps/inventory/js/runtime.a1b2c3.js"></script>' +
  "<script defer='defer' src='/apps/inventory/js/main.d4e5f6.js?v=2#x'></script>" +
  '<link href="/apps/inventory/css/main.d4e5f6.css" rel="stylesheet">' +
  '<script src="/apps/chrome/js/chrome-root.js"></script>' +
  '<!-- <script src="/apps/inventory/js/commented-out.js"></script> -->' +
  '<script>window.inline = "<script src=not-a-tag>"</script>' +
  '</head><body><div id="root"></div></body></html>';

describe('fed-mods.json references', () => {
  it('reads the ChunkMapper shape: entry and module chunks inside the app', () => {
    expect(fedModsReferences('inventory', CHUNK_MAPPER_FED_MODS)).toEqual({
      inApp: ['js/inventory.3f1c2a.js', 'js/1234.5a6b7c.js', 'css/1234.5a6b7c.css', 'js/5678.9d0e1f.js'],
      external: [],
      problems: [],
    });
  });

  it("accepts a single entry string, manifestLocation, and chrome's module descriptions", () => {
    const body = JSON.stringify({
      advisor: {
        manifestLocation: '/apps/advisor/fed-mods.json',
        entry: '/apps/advisor/js/advisor.js',
        modules: [{ id: 'advisor', module: './RootApp', routes: [{ pathname: '/insights/advisor' }] }],
        config: { anything: true },
      },
      second: {},
    });
    expect(fedModsReferences('advisor', body)).toEqual({ inApp: ['fed-mods.json', 'js/advisor.js'], external: [], problems: [] });
  });

  it('resolves relative entries against the file and reports other apps and hosts as external', () => {
    const body = JSON.stringify({
      app: { entry: ['js/app.js', './js/b.js', '../other/x.js', 'https://cdn.example.com/x.js', '/js/root.js'] },
    });
    expect(fedModsReferences('app', body)).toEqual({
      inApp: ['js/app.js', 'js/b.js'],
      external: ['/apps/other/x.js', 'https://cdn.example.com/x.js', '/js/root.js'],
      problems: [],
    });
    // Nested: relative to the folder the file is in.
    expect(fedModsReferences('app', JSON.stringify({ app: { entry: ['a.js', '../b.js'] } }), 'sub/fed-mods.json').inApp).toEqual(['sub/a.js', 'b.js']);
  });

  it('reports odd shapes instead of throwing, and keeps what it could read', () => {
    const body = JSON.stringify({
      good: { entry: ['/apps/app/js/good.js'] },
      numbers: 42,
      weird: { entry: [7, '/apps/app/js/ok.js'], modules: 'not-a-list', manifestLocation: { x: 1 } },
      worse: { entry: { a: 1 }, modules: [null, 3] },
    });
    const r = fedModsReferences('app', body);
    expect(r.inApp).toEqual(['js/good.js', 'js/ok.js']);
    expect(r.problems).toEqual([
      'fed-mods.json: module "numbers" is a number, not an object',
      'fed-mods.json: module "weird" manifestLocation is an object, not a string',
      'fed-mods.json: module "weird" entry[0] is a number, not a string',
      'fed-mods.json: module "weird" modules is a string, not a list',
      'fed-mods.json: module "worse" entry is an object, not a string or a list of strings',
      'fed-mods.json: module "worse" modules[0] is null, not a path or a module description',
      'fed-mods.json: module "worse" modules[1] is a number, not a path or a module description',
    ]);
  });

  it.each([
    ['not JSON', '{"app": {"entry": [trunc', /^fed-mods\.json: not JSON/],
    ['an array', '["/apps/app/a.js"]', /^fed-mods\.json: is an array, not an object of federated modules$/],
    ['null', 'null', /^fed-mods\.json: is null/],
    ['empty', '', /^fed-mods\.json: not JSON/],
  ])('reports a file that is %s', (_name, body, problem) => {
    const r = fedModsReferences('app', body);
    expect(r.inApp).toEqual([]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(problem);
  });
});

describe('index.html references', () => {
  it("reads webpack's output: scripts and links inside the app, external ones reported, comments and inline scripts skipped", () => {
    expect(htmlReferences('inventory', WEBPACK_INDEX_HTML)).toEqual({
      inApp: ['favicon.ico', 'js/runtime.a1b2c3.js', 'js/main.d4e5f6.js', 'css/main.d4e5f6.css'],
      external: ['https://fonts.gstatic.com', 'https://fonts.googleapis.com/css2?family=Red+Hat+Text&display=swap', '/apps/chrome/js/chrome-root.js'],
      problems: [],
    });
  });

  it('handles unquoted values, upper-case tags, entities, percent-escapes and <base href>', () => {
    const html = '<HTML><HEAD><BASE HREF="/apps/app/static/"><LINK REL=stylesheet HREF=css/a%20b.css><SCRIPT SRC="js/x&#46;js" TYPE=module></SCRIPT></HEAD></HTML>';
    expect(htmlReferences('app', html).inApp).toEqual(['static/css/a b.css', 'static/js/x.js']);
  });

  it('ignores data:, javascript: and anchors, and reports broken escapes', () => {
    const html = '<link rel="icon" href="data:,"><script src="javascript:void(0)"></script><link href="#top"><script src="/apps/app/%E0%A4%A.js"></script>';
    const r = htmlReferences('app', html);
    expect(r.inApp).toEqual([]);
    expect(r.external).toEqual([]);
    expect(r.problems).toEqual(['index.html: <script>: "/apps/app/%E0%A4%A.js" has a percent-escape that is not UTF-8']);
  });

  it('never throws on garbage', () => {
    for (const body of ['', '<', '<script src=', '<link href="unterminated', '\u0000\uffff<script src="\u0000">']) {
      expect(() => htmlReferences('app', body)).not.toThrow();
    }
  });
});

describe('resolving one reference', () => {
  it.each([
    ['js/a.js', { inApp: 'js/a.js' }],
    ['/apps/app/js/a.js?cache=1#frag', { inApp: 'js/a.js' }],
    ['/apps/app/js/../js/./a.js', { inApp: 'js/a.js' }],
    ['/apps/app/%E2%82%AC.js', { inApp: '€.js' }],
    ['/apps/app-two/a.js', { external: '/apps/app-two/a.js' }],
    ['//cdn.example.com/a.js', { external: '//cdn.example.com/a.js' }],
    ['/apps/app/', { problem: '"/apps/app/" names a folder of the app, not a file' }],
    ['  ', { ignored: true }],
  ])('%s', (ref, expected) => {
    expect(resolveReference('app', 'index.html', ref)).toEqual(expected);
  });

  it('merges the references of several files', () => {
    const merged = mergeReferences(fedModsReferences('inventory', CHUNK_MAPPER_FED_MODS), htmlReferences('inventory', WEBPACK_INDEX_HTML));
    expect(merged.inApp).toHaveLength(8);
    expect(new Set(merged.inApp).size).toBe(8);
  });
});

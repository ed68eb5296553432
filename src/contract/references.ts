/**
 * What an app's live entry files make a browser load. Pure: the prune keeps every object named
 * here whatever the manifests say, and a publish can check a build with the same parser before
 * it goes live (issue 17). Never throws on what a build emitted: odd shapes become `problems`.
 *
 * URLs resolve as a browser would against where the asset proxy serves the file: it serves
 * `/apps/<app>/<path>` from `data/<app>/<path>`, so `js/a.js` inside `data/app/index.html`
 * is `/apps/app/js/a.js`, which is the object `data/app/js/a.js`.
 */

export interface References {
  /** Object paths below `data/<app>/` that the file makes a browser load. */
  inApp: string[];
  /** Paths of other apps, absolute URLs of other hosts, and root paths outside `/apps/<app>/`: reported, never required. */
  external: string[];
  /** What could not be read, each with where it was found. */
  problems: string[];
}

/** A host no real URL uses: the stand-in origin for "the site the asset proxy serves". */
const SITE = 'https://asset-proxy.invalid';

/** A tag's attribute text: anything up to `>` outside quotes. */
const ATTRS = `(?:[^>"']|"[^"]*"|'[^']*')*`;

/** Schemes that name no object anywhere (inline data, script, anchors to nothing). */
const NOT_A_FILE = /^(data|blob|javascript|about|mailto|tel):/i;

/** Where a browser loads `relpath` of `app` from. */
export function servedUrl(app: string, relpath: string): string {
  return `${SITE}/apps/${encodeURIComponent(app)}/${relpath.split('/').map(encodeURIComponent).join('/')}`;
}

export type Resolved = { inApp: string } | { external: string } | { problem: string } | { ignored: true };

/**
 * Resolves one reference found in `relpath` of `app` (or against `base`, a document's `<base href>`).
 * Query strings and fragments do not name objects; percent-escapes do, decoded per segment.
 */
export function resolveReference(app: string, relpath: string, ref: string, base?: string): Resolved {
  const trimmed = ref.trim();
  if (trimmed === '' || trimmed.startsWith('#') || NOT_A_FILE.test(trimmed)) return { ignored: true };
  let url: URL;
  try {
    url = new URL(trimmed, base === undefined ? servedUrl(app, relpath) : new URL(base, servedUrl(app, relpath)));
  } catch {
    return { problem: `${JSON.stringify(ref)} is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ignored: true };
  if (url.origin !== SITE) return { external: trimmed };
  const prefix = `/apps/${encodeURIComponent(app)}/`;
  if (!url.pathname.startsWith(prefix)) return { external: url.pathname };
  const rest = url.pathname.slice(prefix.length);
  if (rest === '' || rest.endsWith('/')) return { problem: `${JSON.stringify(ref)} names a folder of the app, not a file` };
  try {
    return { inApp: rest.split('/').map(decodeURIComponent).join('/') };
  } catch {
    return { problem: `${JSON.stringify(ref)} has a percent-escape that is not UTF-8` };
  }
}

class Collector {
  private readonly inApp = new Set<string>();
  private readonly external = new Set<string>();
  private readonly problems: string[] = [];

  constructor(
    private readonly app: string,
    private readonly relpath: string,
  ) {}

  add(ref: string, where: string, base?: string): void {
    const r = resolveReference(this.app, this.relpath, ref, base);
    if ('inApp' in r) this.inApp.add(r.inApp);
    else if ('external' in r) this.external.add(r.external);
    else if ('problem' in r) this.problem(`${where}: ${r.problem}`);
  }

  problem(message: string): void {
    this.problems.push(`${this.relpath}: ${message}`);
  }

  result(): References {
    return { inApp: [...this.inApp], external: [...this.external], problems: this.problems };
  }
}

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);

/**
 * A federated-modules manifest as frontend-components-config's ChunkMapper writes it:
 * `{ "<scope>": { "entry": ["/apps/<app>/js/<scope>.<hash>.js"], "modules": ["/apps/<app>/js/<chunk>.js", ...] } }`.
 * Also accepted: `entry` as one string, `manifestLocation` (the shape chrome's fed-modules
 * config uses), and `modules` items that are objects (chrome's `{ id, module, routes }`,
 * module names rather than files). Every other field is ignored.
 */
export function fedModsReferences(app: string, body: string, relpath = 'fed-mods.json'): References {
  const out = new Collector(app, relpath);
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    out.problem(`not JSON (${(err as Error).message})`);
    return out.result();
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    out.problem(`is ${describe(doc)}, not an object of federated modules`);
    return out.result();
  }
  for (const [scope, mod] of Object.entries(doc)) {
    const at = `module ${JSON.stringify(scope)}`;
    if (typeof mod !== 'object' || mod === null || Array.isArray(mod)) {
      out.problem(`${at} is ${describe(mod)}, not an object`);
      continue;
    }
    const { manifestLocation, entry, modules } = mod as Record<string, unknown>;
    if (manifestLocation !== undefined) {
      if (typeof manifestLocation === 'string') out.add(manifestLocation, `${at} manifestLocation`);
      else out.problem(`${at} manifestLocation is ${describe(manifestLocation)}, not a string`);
    }
    if (typeof entry === 'string') out.add(entry, `${at} entry`);
    else if (Array.isArray(entry)) {
      entry.forEach((e, i) => (typeof e === 'string' ? out.add(e, `${at} entry[${i}]`) : out.problem(`${at} entry[${i}] is ${describe(e)}, not a string`)));
    } else if (entry !== undefined) out.problem(`${at} entry is ${describe(entry)}, not a string or a list of strings`);
    if (Array.isArray(modules)) {
      modules.forEach((m, i) => {
        if (typeof m === 'string') out.add(m, `${at} modules[${i}]`);
        else if (typeof m !== 'object' || m === null) out.problem(`${at} modules[${i}] is ${describe(m)}, not a path or a module description`);
      });
    } else if (modules !== undefined) out.problem(`${at} modules is ${describe(modules)}, not a list`);
  }
  return out.result();
}

/**
 * The files an HTML page loads: `<script src>` and `<link href>` (stylesheets, icons, preloads,
 * manifests), resolved against `<base href>` when the page has one. A tokenizer for the
 * attributes of these two tags, not an HTML parser: comments are skipped, entities in values decoded.
 */
export function htmlReferences(app: string, body: string, relpath = 'index.html'): References {
  const out = new Collector(app, relpath);
  // Comments, and the text of inline scripts and styles, hold no tags a browser loads.
  const html = body.replace(/<!--[\s\S]*?(-->|$)/g, '').replace(new RegExp(`(<(script|style)\\b${ATTRS}>)[\\s\\S]*?(</\\2\\s*>|$)`, 'gi'), '$1$3');
  const tags = [...html.matchAll(new RegExp(`<(script|link|base)\\b(${ATTRS})>`, 'gi'))];
  const baseTag = tags.find((t) => t[1].toLowerCase() === 'base' && attribute(t[2], 'href') !== undefined);
  let base = baseTag ? attribute(baseTag[2], 'href') : undefined;
  if (base !== undefined && !URL.canParse(base, servedUrl(app, relpath))) {
    out.problem(`<base href=${JSON.stringify(base)}> is not a URL; references resolved against the page itself`);
    base = undefined;
  }
  for (const [, name, attrs] of tags) {
    const tag = name.toLowerCase();
    if (tag === 'base') continue;
    const value = attribute(attrs, tag === 'script' ? 'src' : 'href');
    if (value !== undefined) out.add(value, `<${tag}>`, base);
  }
  return out.result();
}

/** The value of attribute `name` in a tag's attribute text, entities decoded; undefined when absent. */
function attribute(attrs: string, name: string): string | undefined {
  for (const m of attrs.matchAll(/([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    if (m[1].toLowerCase() === name) return decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return undefined;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[e.toLowerCase()] ?? whole;
  });
}

/** The references of several files as one. */
export function mergeReferences(...all: References[]): References {
  return {
    inApp: [...new Set(all.flatMap((r) => r.inApp))],
    external: [...new Set(all.flatMap((r) => r.external))],
    problems: all.flatMap((r) => r.problems),
  };
}

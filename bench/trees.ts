import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { APP } from './scenarios';

/**
 * Deterministic build trees for the benchmark. The same spec and seed always give the same
 * paths, sizes and bytes, so a tree generated once is reused (a marker file beside it records
 * the spec it was made from).
 */

const MiB = 1024 * 1024;
/** Bump when the generator changes, so trees made by an older one are not reused. */
const GENERATOR_VERSION = 1;
/** The build trees' own version: 2 since their fed-mods.json and index.html are what a build's are (JSON and HTML). */
const TREE_VERSION = 2;

export interface TreeSpec {
  /** Part of the directory name, e.g. `full` or `quick`. */
  name: string;
  seed: number;
  /** Files in the tree, big ones included. */
  files: number;
  /** Target size of the whole tree in bytes. */
  totalBytes: number;
  /** Sizes of the few big files (over 64 MiB in full mode, over 16 MiB in quick mode, plus files around the 8 MiB multipart threshold). */
  bigFiles: number[];
}

export interface TreeFile {
  path: string;
  size: number;
}

export interface Tree {
  dir: string;
  files: TreeFile[];
  bytes: number;
  /** True when this run generated it, false when an earlier one had. */
  generated: boolean;
}

export interface ChangedTree extends Tree {
  /** The one file whose content differs from the base tree. */
  changed: string;
}

export const TREE_SPECS = {
  full: { name: 'full', seed: 20261123, files: 10_000, totalBytes: 200 * MiB, bigFiles: [65 * MiB, 70 * MiB, 9 * MiB, 12 * MiB] },
  quick: { name: 'quick', seed: 20261123, files: 1_500, totalBytes: 30 * MiB, bigFiles: [17 * MiB, 9 * MiB] },
} satisfies Record<string, TreeSpec>;

/** mulberry32: a small, fast, seedable 32-bit PRNG; good enough for sizes, names and bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Size classes of the ordinary files: mostly small chunks, some mid-size, few hundreds of KiB. */
const SIZE_CLASSES = [
  { share: 0.78, min: 200, max: 6 * 1024 },
  { share: 0.21, min: 6 * 1024, max: 40 * 1024 },
  { share: 0.01, min: 40 * 1024, max: 400 * 1024 },
];

const KINDS = [
  { share: 0.5, dir: 'js/chunks', ext: 'js' },
  { share: 0.15, dir: 'js/maps', ext: 'js.map' },
  { share: 0.1, dir: 'css', ext: 'css' },
  { share: 0.12, dir: 'assets/img', ext: 'png' },
  { share: 0.05, dir: 'assets/icons', ext: 'svg' },
  { share: 0.03, dir: 'assets/fonts', ext: 'woff2' },
  { share: 0.05, dir: 'locales', ext: 'json' },
];

function pick<T extends { share: number }>(items: T[], r: number): T {
  let acc = 0;
  for (const item of items) {
    acc += item.share;
    if (r < acc) return item;
  }
  return items[items.length - 1];
}

function hex(rand: () => number, digits: number): string {
  let s = '';
  while (s.length < digits) s += Math.floor(rand() * 0x10000).toString(16).padStart(4, '0');
  return s.slice(0, digits);
}

/** The paths and sizes of a tree (no I/O): a few entry points, the big files, and ordinary files scaled to the target size. */
export function planTree(spec: TreeSpec): TreeFile[] {
  const rand = prng(spec.seed);
  const entry: TreeFile[] = [
    { path: 'index.html', size: 2_400 },
    { path: 'fed-mods.json', size: 900 },
    { path: 'app-info.json', size: 600 },
  ];
  const bigNames = ['assets/media/intro', 'wasm/engine', 'assets/media/tour', 'wasm/codec'];
  const big: TreeFile[] = spec.bigFiles.map((size, i) => ({
    path: `${bigNames[i % bigNames.length]}-${i}-${hex(rand, 8)}.${bigNames[i % bigNames.length].startsWith('wasm') ? 'wasm' : 'mp4'}`,
    size,
  }));
  const count = spec.files - entry.length - big.length;
  const fixedBytes = [...entry, ...big].reduce((n, f) => n + f.size, 0);
  const restBytes = spec.totalBytes - fixedBytes;
  if (count <= 0 || restBytes <= count) throw new Error(`tree spec ${spec.name}: not enough files or bytes left for ordinary files`);
  const perDir = 200;
  const dirs = Math.max(1, Math.ceil(count / perDir));
  const raw: TreeFile[] = [];
  for (let i = 0; i < count; i++) {
    const cls = pick(SIZE_CLASSES, rand());
    // Log-uniform inside the class, like real bundles: many small files, a long tail.
    const size = Math.round(cls.min * Math.pow(cls.max / cls.min, rand()));
    const kind = pick(KINDS, rand());
    const sub = `d${String(i % dirs).padStart(3, '0')}`;
    raw.push({ path: `${kind.dir}/${sub}/${kind.ext.split('.')[0]}-${i.toString(36)}-${hex(rand, 8)}.${kind.ext}`, size });
  }
  const rawBytes = raw.reduce((n, f) => n + f.size, 0);
  const scale = restBytes / rawBytes;
  let scaled = 0;
  for (const f of raw) {
    f.size = Math.max(1, Math.round(f.size * scale));
    scaled += f.size;
  }
  // Put the rounding remainder on the first ordinary file so the total is exact.
  raw[0].size += restBytes - scaled;
  return [...entry, ...big, ...raw].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Fills `buf` with pseudo-random bytes from a xorshift32 stream (fast; incompressible like minified, gzipped or binary assets). */
function fillRandom(buf: Buffer, state: { x: number }): void {
  const words = new Uint32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4));
  let x = state.x || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  state.x = x;
}

export function writeFileOfSize(file: string, size: number, seed: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, 'w');
  try {
    const state = { x: seed | 1 };
    const chunk = Buffer.alloc(Math.min(size, 4 * MiB));
    let left = size;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      fillRandom(chunk, state);
      writeSync(fd, chunk, 0, n);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
}

function fileSeed(spec: { seed: number }, index: number): number {
  return (Math.imul(spec.seed ^ 0x9e3779b9, 2654435761) + Math.imul(index + 1, 0x85ebca6b)) | 0;
}

function treeKey(spec: TreeSpec): string {
  return `${spec.name}-s${spec.seed}-n${spec.files}-b${spec.totalBytes}-v${TREE_VERSION}`;
}

/** Generates the tree under `root` unless an identical one is already there. */
export function ensureTree(root: string, spec: TreeSpec): Tree {
  const files = planTree(spec);
  const dir = path.join(root, treeKey(spec));
  const marker = `${dir}.done.json`;
  const bytes = files.reduce((n, f) => n + f.size, 0);
  if (existsSync(marker) && readFileSync(marker, 'utf8') === JSON.stringify(spec)) return { dir, files, bytes, generated: false };
  rmSync(dir, { recursive: true, force: true });
  rmSync(marker, { force: true });
  files.forEach((f, i) => writeFileOfSize(path.join(dir, f.path), f.size, fileSeed(spec, i)));
  writeEntryFiles(dir, files, APP);
  writeFileSync(marker, JSON.stringify(spec));
  return { dir, files, bytes, generated: true };
}

/**
 * Rewrites the tree's fed-mods.json and index.html as a build's are, at their planned sizes: a
 * federated-modules manifest and a page that load some of the tree's scripts and a stylesheet,
 * so every publish runs the reference gate on real entry files, as it does in production.
 */
function writeEntryFiles(dir: string, files: readonly TreeFile[], app: string): void {
  const url = (f: TreeFile) => `/apps/${app}/${f.path}`;
  const scripts = files.filter((f) => f.path.startsWith('js/chunks/')).slice(0, 6);
  const style = files.find((f) => f.path.startsWith('css/'));
  const entry = (name: string, body: string) => {
    const planned = files.find((f) => f.path === name);
    if (!planned) return;
    if (Buffer.byteLength(body) > planned.size) throw new Error(`bench tree: ${name} needs ${Buffer.byteLength(body)} bytes, planned ${planned.size}`);
    writeFileSync(path.join(dir, name), body.padEnd(planned.size, ' '));
  };
  entry('fed-mods.json', JSON.stringify({ [app]: { entry: [url(scripts[0])], modules: scripts.slice(1).map(url) } }, null, 2) + '\n');
  entry(
    'index.html',
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>${app}</title>${style ? `<link rel="stylesheet" href="${url(style)}">` : ''}</head>\n` +
      `<body><div id="root"></div>${scripts.slice(0, 2).map((f) => `<script src="${url(f)}"></script>`).join('')}</body></html>\n`,
  );
}

/**
 * The base tree with one mid-size file changed (new bytes, 1 KiB larger): every other file is a
 * hard link to the base tree's, so it keeps its content and modification time.
 */
export function ensureChangedTree(root: string, spec: TreeSpec, base: Tree): ChangedTree {
  const ordinary = base.files.filter((f) => f.size >= 4 * 1024 && f.size <= 64 * 1024 && f.path.endsWith('.js'));
  const target = ordinary[Math.floor(ordinary.length / 2)] ?? base.files[Math.floor(base.files.length / 2)];
  const files = base.files.map((f) => (f === target ? { path: f.path, size: f.size + 1024 } : f));
  const dir = path.join(root, `${treeKey(spec)}-changed`);
  const marker = `${dir}.done.json`;
  const bytes = files.reduce((n, f) => n + f.size, 0);
  const stamp = JSON.stringify({ spec, changed: target.path });
  if (!(existsSync(marker) && readFileSync(marker, 'utf8') === stamp)) {
    rmSync(dir, { recursive: true, force: true });
    rmSync(marker, { force: true });
    for (const f of files) {
      const to = path.join(dir, f.path);
      if (f.path === target.path) {
        writeFileOfSize(to, f.size, fileSeed(spec, -7));
      } else {
        mkdirSync(path.dirname(to), { recursive: true });
        linkSync(path.join(base.dir, f.path), to);
      }
    }
    writeFileSync(marker, stamp);
  }
  return { dir, files, bytes, generated: false, changed: target.path };
}

/** Marks the changed file as modified now, so tools that compare modification times see it as newer than the bucket's copy. */
export function touchChanged(tree: ChangedTree): void {
  const now = new Date();
  utimesSync(path.join(tree.dir, tree.changed), now, now);
}

/** `count` tiny files (100-400 bytes), 1,000 to a directory: the objects the delete scenario removes. */
export function ensureTinyTree(root: string, seed: number, count: number): Tree {
  const rand = prng(seed ^ 0x5bd1e995);
  const files: TreeFile[] = [];
  for (let i = 0; i < count; i++) {
    files.push({ path: `chunks/d${String(Math.floor(i / 1000)).padStart(3, '0')}/f${String(i).padStart(6, '0')}.js`, size: 100 + Math.floor(rand() * 300) });
  }
  const spec = { name: 'tiny', seed, files: count };
  const dir = path.join(root, `tiny-s${seed}-n${count}-v${GENERATOR_VERSION}`);
  const marker = `${dir}.done.json`;
  const bytes = files.reduce((n, f) => n + f.size, 0);
  if (existsSync(marker) && readFileSync(marker, 'utf8') === JSON.stringify(spec)) return { dir, files, bytes, generated: false };
  rmSync(dir, { recursive: true, force: true });
  rmSync(marker, { force: true });
  const buf = Buffer.alloc(512);
  const state = { x: seed | 1 };
  let lastDir = '';
  for (const f of files) {
    const file = path.join(dir, f.path);
    if (path.dirname(file) !== lastDir) mkdirSync((lastDir = path.dirname(file)), { recursive: true });
    fillRandom(buf, state);
    writeFileSync(file, buf.subarray(0, f.size));
  }
  writeFileSync(marker, JSON.stringify(spec));
  return { dir, files, bytes, generated: true };
}

/** A tar archive of a tree (made once, beside it), for seeding a bucket in one request. */
export function ensureTar(tree: Tree): string {
  const tarFile = `${tree.dir}.tar`;
  if (existsSync(tarFile) && !tree.generated) return tarFile;
  const partial = `${tarFile}.partial`;
  execFileSync('tar', ['-cf', partial, '-C', tree.dir, ...readdirSync(tree.dir)], { stdio: 'ignore' });
  renameSync(partial, tarFile);
  return tarFile;
}

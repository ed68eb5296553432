import { createHash } from 'node:crypto';
import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { relPathProblem } from '../contract/names';
import type { FileRecord } from '../contract/manifest';
import { InvalidNameError, SourceError } from '../errors';
import { expectedDigests, type EtagEvidence } from './etag-evidence';
import { hashFiles, HashReadError, type HashOptions } from './hash-pool';

export interface ScannedSource {
  root: string;
  /** Sorted by path so that every scan of the same tree yields the same order and digest. */
  files: FileRecord[];
  totalBytes: number;
  /** sha256 over every path, size and content hash: equal digests mean equal trees. */
  listDigest: string;
}

export interface ScanOptions extends Omit<HashOptions, 'expected'> {
  /**
   * The app's listing and manifests, when the caller reads them while the tree is hashed: a file
   * they prove unchanged takes its ETag from them instead of hashing it (source/etag-evidence.ts).
   */
  evidence?: Promise<EtagEvidence | undefined>;
}

/** The files of a source tree, found and sized but not yet read: what a scan knows before it hashes. */
export interface ListedSource {
  root: string;
  /** Sorted by path, as the scan's files are. */
  found: ReadonlyArray<{ path: string; size: number }>;
  totalBytes: number;
}

/** Lists every regular file under `root` (following symlinks that stay inside it) and hashes each. */
export async function scanSource(root: string, options: ScanOptions = {}): Promise<ScannedSource> {
  return hashSource(listSource(root), options);
}

/** A scan under way: the files as soon as they are found, then their hashes. */
export interface SourceScan {
  listed: Promise<ListedSource>;
  scanned: Promise<ScannedSource>;
}

/** Starts scanning `root`: it is listed before this returns (a bad tree rejects both), then hashed. */
export function startScan(root: string, options: ScanOptions = {}): SourceScan {
  const listed = new Promise<ListedSource>((resolve) => resolve(listSource(root)));
  const scanned = listed.then((found) => hashSource(found, options));
  // Both are awaited later, the hashes perhaps long after the listing failed.
  listed.catch(() => undefined);
  scanned.catch(() => undefined);
  return { listed, scanned };
}

/**
 * Finds every regular file under `root`, following symlinks that stay inside it. Everything
 * wrong with a tree but an unreadable file (no such directory, an unsafe name, a link out of it,
 * a FIFO) is found here, in a fraction of the time hashing takes.
 */
export function listSource(root: string): ListedSource {
  const realRoot = resolveRoot(root);
  const found = listFiles(realRoot);
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { root: realRoot, found, totalBytes: found.reduce((sum, f) => sum + f.size, 0) };
}

/** Hashes the files `listSource` found. */
export async function hashSource(listed: ListedSource, options: ScanOptions = {}): Promise<ScannedSource> {
  const { root: realRoot, found } = listed;
  const { evidence, ...hashOptions } = options;
  const expected = evidence?.then((view) => view && ((i: number) => expectedDigests(found[i].path, found[i].size, view, options.partSize)));
  let digests;
  try {
    digests = await hashFiles(
      found.map((f) => ({ abs: path.join(realRoot, f.path), size: f.size })),
      { ...hashOptions, ...(expected ? { expected } : {}) },
    );
  } catch (err) {
    if (!(err instanceof HashReadError)) throw err;
    const file = found[err.index];
    throw new SourceError(`cannot read ${file.path} (${err.code}); check its permissions`, path.join(realRoot, file.path));
  }
  const files: FileRecord[] = found.map((f, i) => ({ path: f.path, size: f.size, ...digests[i] }));
  return { root: realRoot, files, totalBytes: listed.totalBytes, listDigest: digestOf(files) };
}

export function digestOf(files: readonly FileRecord[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.path}\0${f.size}\0${f.sha256}\n`);
  return hash.digest('hex');
}

function resolveRoot(root: string): string {
  let real: string;
  try {
    real = realpathSync(root);
  } catch (err) {
    throw new SourceError(`source directory ${root} does not exist (${(err as NodeJS.ErrnoException).code})`, root);
  }
  const stat = statSync(real);
  if (!stat.isDirectory()) throw new SourceError(`source ${root} is not a directory`, root);
  return real;
}

interface Found {
  path: string;
  size: number;
}

// Blocking calls on purpose: a tree of tens of thousands of entries lists several times faster
// than with a thread-pool round trip per readdir and stat, and the scan has nothing to overlap.
function listFiles(realRoot: string): Found[] {
  const out: Found[] = [];
  // Real directories already entered, so a symlink loop inside the tree ends.
  const entered = new Set<string>([realRoot]);

  function walk(dir: string, rel: string): void {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw new SourceError(`cannot read directory ${rel || '.'} (${(err as NodeJS.ErrnoException).code})`, dir);
    }
    for (const entry of entries) {
      const relpath = rel ? `${rel}/${entry.name}` : entry.name;
      const problem = relPathProblem(relpath);
      if (problem) throw new InvalidNameError(`file path ${JSON.stringify(relpath)} ${problem}; rename it`);
      const abs = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        visitLink(abs, relpath);
      } else if (entry.isDirectory()) {
        walk(abs, relpath);
      } else if (entry.isFile()) {
        out.push({ path: relpath, size: statSync(abs).size });
      } else {
        throw new SourceError(`${relpath} is not a regular file (a FIFO, socket or device); remove it from the build`, abs);
      }
    }
  }

  function visitLink(abs: string, relpath: string): void {
    let target: string;
    try {
      target = realpathSync(abs);
    } catch {
      throw new SourceError(`${relpath} is a broken symlink; remove it or point it at a file of the build`, abs);
    }
    if (target !== realRoot && !target.startsWith(realRoot + path.sep)) {
      throw new SourceError(`${relpath} is a symlink that leaves the source directory (to ${target})`, abs);
    }
    const stat = statSync(target);
    if (stat.isDirectory()) {
      if (entered.has(target)) return;
      entered.add(target);
      walk(target, relpath);
    } else if (stat.isFile()) {
      out.push({ path: relpath, size: stat.size });
    } else {
      throw new SourceError(`${relpath} links to something that is not a regular file`, abs);
    }
  }

  walk(realRoot, '');
  return out;
}

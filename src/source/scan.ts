import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import pMap from 'p-map';
import { relPathProblem } from '../contract/names';
import type { FileRecord } from '../contract/manifest';
import { InvalidNameError, SourceError } from '../errors';
import { EtagHasher } from '../storage/etag';

const WHOLE_READ_LIMIT = 1024 * 1024;

export interface ScannedSource {
  root: string;
  /** Sorted by path so that every scan of the same tree yields the same order and digest. */
  files: FileRecord[];
  totalBytes: number;
  /** sha256 over every path, size and content hash: equal digests mean equal trees. */
  listDigest: string;
}

export interface ScanOptions {
  /** Files hashed at once. Default 8. */
  hashConcurrency?: number;
  /** Multipart part size the ETags are computed for; see EtagHasher. */
  partSize?: number;
}

/** Lists every regular file under `root` (following symlinks that stay inside it) and hashes each. */
export async function scanSource(root: string, options: ScanOptions = {}): Promise<ScannedSource> {
  const realRoot = await resolveRoot(root);
  const found = await listFiles(realRoot);
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const files = await pMap(
    found,
    async (f) => ({ path: f.path, size: f.size, ...(await hashFile(path.join(realRoot, f.path), f.path, f.size, options.partSize)) }),
    { concurrency: options.hashConcurrency ?? 8 },
  );
  return {
    root: realRoot,
    files,
    totalBytes: files.reduce((sum, f) => sum + f.size, 0),
    listDigest: digestOf(files),
  };
}

export function digestOf(files: readonly FileRecord[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.path}\0${f.size}\0${f.sha256}\n`);
  return hash.digest('hex');
}

async function resolveRoot(root: string): Promise<string> {
  let real: string;
  try {
    real = await fs.realpath(root);
  } catch (err) {
    throw new SourceError(`source directory ${root} does not exist (${(err as NodeJS.ErrnoException).code})`, root);
  }
  const stat = await fs.stat(real);
  if (!stat.isDirectory()) throw new SourceError(`source ${root} is not a directory`, root);
  return real;
}

interface Found {
  path: string;
  size: number;
}

async function listFiles(realRoot: string): Promise<Found[]> {
  const out: Found[] = [];
  // Real directories already entered, so a symlink loop inside the tree ends.
  const entered = new Set<string>([realRoot]);

  async function walk(dir: string, rel: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new SourceError(`cannot read directory ${rel || '.'} (${(err as NodeJS.ErrnoException).code})`, dir);
    }
    for (const entry of entries) {
      const relpath = rel ? `${rel}/${entry.name}` : entry.name;
      const problem = relPathProblem(relpath);
      if (problem) throw new InvalidNameError(`file path ${JSON.stringify(relpath)} ${problem}; rename it`);
      const abs = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        await visitLink(abs, relpath);
      } else if (entry.isDirectory()) {
        await walk(abs, relpath);
      } else if (entry.isFile()) {
        out.push({ path: relpath, size: (await fs.stat(abs)).size });
      } else {
        throw new SourceError(`${relpath} is not a regular file (a FIFO, socket or device); remove it from the build`, abs);
      }
    }
  }

  async function visitLink(abs: string, relpath: string): Promise<void> {
    let target: string;
    try {
      target = await fs.realpath(abs);
    } catch {
      throw new SourceError(`${relpath} is a broken symlink; remove it or point it at a file of the build`, abs);
    }
    if (target !== realRoot && !target.startsWith(realRoot + path.sep)) {
      throw new SourceError(`${relpath} is a symlink that leaves the source directory (to ${target})`, abs);
    }
    const stat = await fs.stat(target);
    if (stat.isDirectory()) {
      if (entered.has(target)) return;
      entered.add(target);
      await walk(target, relpath);
    } else if (stat.isFile()) {
      out.push({ path: relpath, size: stat.size });
    } else {
      throw new SourceError(`${relpath} links to something that is not a regular file`, abs);
    }
  }

  await walk(realRoot, '');
  return out;
}

/** One read of the file gives both its sha256 (what the manifest records) and its S3 ETag (what a listing shows). */
async function hashFile(abs: string, relpath: string, size: number, partSize?: number): Promise<{ sha256: string; etag: string }> {
  const hash = createHash('sha256');
  const etag = new EtagHasher(partSize, size);
  try {
    // Most files of a build are small: one read beats a stream's setup per file.
    const chunks = size < WHOLE_READ_LIMIT ? [await fs.readFile(abs)] : createReadStream(abs, { highWaterMark: 1024 * 1024 });
    for await (const chunk of chunks) {
      hash.update(chunk as Buffer);
      etag.update(chunk as Buffer);
    }
  } catch (err) {
    throw new SourceError(`cannot read ${relpath} (${(err as NodeJS.ErrnoException).code}); check its permissions`, abs);
  }
  return { sha256: hash.digest('hex'), etag: etag.digest() };
}

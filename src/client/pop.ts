import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, realpath, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pMap from 'p-map';
import type { PopSettings } from '../config';
import { dataKey, manifestPrefix, manifestTimestamp } from '../contract/keys';
import { parseManifest, type Manifest } from '../contract/manifest';
import { ConfigError, oneLine } from '../errors';
import type { ReadableStorage } from '../storage/storage';
import type { Report } from '../telemetry/log';

export interface PopDeps {
  storage: ReadableStorage;
  /** Where the summary lines go, one line per call, each with the event it stands for. */
  report: Report;
}

export interface PopOutcome {
  manifestKey: string;
  files: number;
  bytes: number;
  /** Files written without a sha256 check: their manifest records none (builds published by valpop). */
  unverified: number;
}

/** Thrown when the live build cannot be written out whole; the message names every key and what is wrong with it. */
export class PopError extends Error {
  override readonly name = 'PopError';
}

// Objects copied at once; each holds a socket (or a file handle) and a write stream.
const POP_CONCURRENCY = 8;
// The problems a failed pop lists in its one-line message; the count says how many more.
const PROBLEMS_SHOWN = 5;

/**
 * Writes the live build of an app (the files its newest manifest names, as the asset proxy
 * serves them) into `settings.dest`. Every object streams into a temporary file next to its
 * target and is renamed into place only once its sha256 matches the manifest, so DEST never
 * holds a partial or unverified file. Nothing is written outside DEST: manifest paths are
 * checked, and no symbolic link under DEST is followed. Other files in DEST are left alone.
 */
export async function pop(settings: PopSettings, deps: PopDeps): Promise<PopOutcome> {
  const { key: manifestKey, manifest } = await newestManifest(deps.storage, settings.app);
  const dest = new DestTree(await destDirectory(settings.dest));
  // Files under one bad directory share a message; it is listed once.
  const problems = new Set<string>();
  let failed = 0;
  let bytes = 0;
  let unverified = 0;
  await pMap(
    manifest.files,
    async (relpath) => {
      try {
        const copied = await copyObject(deps.storage, dataKey(settings.app, relpath), relpath, manifest, manifestKey, dest);
        bytes += copied.size;
        if (!copied.verified) unverified++;
      } catch (err) {
        if (!(err instanceof FileProblem)) throw err;
        failed++;
        problems.add(err.message);
      }
    },
    { concurrency: POP_CONCURRENCY },
  );
  if (problems.size > 0) {
    const shown = [...problems].slice(0, PROBLEMS_SHOWN);
    const more = problems.size > shown.length ? `; and ${problems.size - shown.length} more` : '';
    throw new PopError(`${failed} of the ${manifest.files.length} files of ${manifestKey} were not written to ${dest.root}: ${shown.join('; ')}${more}`);
  }
  const image = manifest.image ? ` (image ${manifest.image})` : '';
  const popped = { app: settings.app, manifestKey, dest: dest.root };
  deps.report(`popped ${manifest.files.length} files (${bytes} bytes) of ${settings.app} from ${manifestKey}${image} into ${dest.root}`, {
    event: 'popped',
    ...popped,
    image: manifest.image || undefined,
    files: manifest.files.length,
    bytes,
    unverified,
  });
  if (unverified > 0) {
    deps.report(`${unverified} files were written unverified: ${manifestKey} records no sha256 for them (a build published by valpop)`, {
      event: 'unverified-files',
      ...popped,
      unverified,
    });
  }
  return { manifestKey, files: manifest.files.length, bytes, unverified };
}

/** The manifest of the live build: the newest of `manifests/<app>/<seconds>`. */
async function newestManifest(storage: ReadableStorage, app: string): Promise<{ key: string; manifest: Manifest }> {
  const prefix = manifestPrefix(app);
  let newest: { key: string; ts: number } | undefined;
  for await (const o of storage.list(prefix)) {
    const ts = o.key.slice(prefix.length).includes('/') ? undefined : manifestTimestamp(o.key);
    if (ts !== undefined && (newest === undefined || ts > newest.ts)) newest = { key: o.key, ts };
  }
  if (!newest) {
    throw new PopError(`${storage.description} holds no build of ${app} (nothing under ${prefix}); check -r/--prefix and the storage flags, or publish it first`);
  }
  const body = await storage.get(newest.key);
  if (!body) throw new PopError(`${newest.key} was deleted while pop read it (a prune ran); run pop again`);
  // A corrupt manifest, or one naming a path outside the app, fails here with its key.
  return { key: newest.key, manifest: parseManifest(newest.key, body.toString('utf8')) };
}

async function destDirectory(dest: string): Promise<string> {
  try {
    await mkdir(dest, { recursive: true });
    // The real path, so that a DEST given through a link is compared with what is under it.
    return await realpath(dest);
  } catch (err) {
    throw new ConfigError([`-d/--dest ${dest} cannot be used as a directory (${(err as NodeJS.ErrnoException).code ?? oneLine(err)})`]);
  }
}

/** A problem with one file; the others are still written, and the pop fails at the end naming them all. */
class FileProblem extends Error {}

async function copyObject(
  storage: ReadableStorage,
  key: string,
  relpath: string,
  manifest: Manifest,
  manifestKey: string,
  dest: DestTree,
): Promise<{ size: number; verified: boolean }> {
  const target = dest.fileFor(relpath);
  await dest.makeParents(relpath);
  const object = await storage.read(key);
  if (!object) throw new FileProblem(`${key} is missing`);
  const expectedSha = manifest.sha256?.[relpath];
  const expectedSize = manifest.sizes?.[relpath];
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.pushcache-${randomUUID().slice(0, 8)}`);
  const hash = createHash('sha256');
  let size = 0;
  try {
    try {
      await pipeline(
        object.body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(temp, { flags: 'wx' }),
      );
    } catch (err) {
      throw new PopError(`copying ${key} to ${target} failed: ${oneLine(err)}`, { cause: err });
    }
    const sha256 = hash.digest('hex');
    if (expectedSha !== undefined && sha256 !== expectedSha) {
      throw new FileProblem(`${key} has other bytes than ${manifestKey} records (sha256 ${sha256}, expected ${expectedSha}); republish the app`);
    }
    if (expectedSize !== undefined && size !== expectedSize) {
      throw new FileProblem(`${key} has ${size} bytes, ${manifestKey} records ${expectedSize}; republish the app`);
    }
    try {
      // rename() replaces a file or a link at the target itself; it never writes through it.
      await rename(temp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR' || code === 'ENOTEMPTY') throw new FileProblem(`${target} is a directory`);
      throw err;
    }
    return { size, verified: expectedSha !== undefined };
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Directories under DEST, made once each, and never through a link. */
class DestTree {
  private readonly made = new Map<string, Promise<void>>();

  constructor(readonly root: string) {}

  fileFor(relpath: string): string {
    const file = path.join(this.root, ...relpath.split('/'));
    // parseManifest refused '..' and absolute paths already; this is the last check before a write.
    const inside = path.relative(this.root, file);
    if (inside === '' || inside.startsWith(`..${path.sep}`) || inside === '..' || path.isAbsolute(inside)) {
      throw new FileProblem(`${JSON.stringify(relpath)} would be written outside ${this.root}`);
    }
    return file;
  }

  makeParents(relpath: string): Promise<void> {
    const parent = path.posix.dirname(relpath);
    return parent === '.' ? Promise.resolve() : this.makeDir(parent);
  }

  private makeDir(reldir: string): Promise<void> {
    let made = this.made.get(reldir);
    if (!made) {
      made = this.create(reldir);
      this.made.set(reldir, made);
    }
    return made;
  }

  private async create(reldir: string): Promise<void> {
    await this.makeParents(reldir);
    const dir = path.join(this.root, ...reldir.split('/'));
    await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    // mkdir() leaves an existing link alone; writing through it could leave DEST.
    const st = await lstat(dir);
    if (st.isSymbolicLink()) throw new FileProblem(`${dir} is a symbolic link, which pop does not write through; remove it`);
    if (!st.isDirectory()) throw new FileProblem(`${dir} is a file where the build has a directory; remove it`);
  }
}

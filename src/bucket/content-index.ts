import pMap from 'p-map';
import { parseManifest } from '../contract/manifest';
import { addToContentIndex, type ContentIndex, type ContentSource, type IndexedBuild } from '../source/content-index';
import { collectGarbage } from '../prune/collect-garbage';
import type { Storage } from '../storage/storage';
import { listManifestKeys } from './manifests';

/** Reading the content index from the bucket: the newest manifest of every app. */

/**
 * Manifests read at once. Parsing them, not waiting for them, is what takes the time: on a bucket
 * of 14 apps of 10,000 files (one run each), staging took 1.3 s reading 4 at once and 1.8 s
 * reading 16, and the Job's peak RSS was 206 MiB instead of 271 MiB: each such manifest is
 * about 14 MiB of garbage while it is parsed.
 */
const READ_CONCURRENCY = 4;
// Paths read from manifests after which a full collection pays for itself.
const GARBAGE_ENTRIES = 10_000;

export interface ContentIndexRead {
  index: ContentIndex;
  /** Apps whose newest manifest was read. */
  apps: number;
  /** Requests made: one listing of `manifests/`, then per app one listing and one read. */
  requests: number;
}

/**
 * Costs 1 + 2 × apps small requests, whatever the size of the bucket's data: for 100 apps about
 * 200 requests at 4 in flight. A manifest that cannot be read leaves its app out (the index only
 * saves uploads; it never fails a publish). `app` comes first, so its own files are preferred as
 * sources; the others follow in name order.
 *
 * Memory is bounded by the build, not the bucket: manifests are read a few at a time and folded
 * into the index in that order, then dropped, and with `wanted` (the sha256s of the files to
 * place) the index keeps only those. Holding every app's newest manifest took the Job's heap
 * from 46 to 77 MiB on a bucket of 13 apps of 10,000 files each.
 */
export async function readContentIndex(storage: Storage, app: string, onProgress: () => void = () => undefined, wanted?: ReadonlySet<string>): Promise<ContentIndexRead> {
  const apps = await storage.listChildren('manifests/');
  onProgress();
  const ordered = [app, ...apps.filter((a) => a !== app).sort()].filter((a) => apps.includes(a));
  const index = new Map<string, ContentSource>();
  let read = 0;
  for (let at = 0; at < ordered.length; at += READ_CONCURRENCY) {
    const folded = fold(index, await pMap(ordered.slice(at, at + READ_CONCURRENCY), (name) => newestBuild(storage, name, onProgress)), wanted);
    read += folded.builds;
    // Parsed manifests are garbage now, but with the CLI's 2 MiB young generation they were
    // promoted, and V8 lets them pile up for several windows before it collects (see collect-garbage.ts).
    if (folded.entries >= GARBAGE_ENTRIES) collectGarbage();
  }
  return { index, apps: read, requests: 1 + 2 * ordered.length };
}

/** Adds the builds read (in their order) to `index`; counts them and the paths they hold. */
function fold(index: Map<string, ContentSource>, builds: ReadonlyArray<IndexedBuild | undefined>, wanted: ReadonlySet<string> | undefined): { builds: number; entries: number } {
  let count = 0;
  let entries = 0;
  for (const build of builds) {
    if (!build) continue;
    addToContentIndex(index, build, wanted);
    entries += build.manifest.files.length;
    count++;
  }
  return { builds: count, entries };
}

async function newestBuild(storage: Storage, app: string, onProgress: () => void): Promise<IndexedBuild | undefined> {
  try {
    const [newest] = await listManifestKeys(storage, app);
    if (!newest) return undefined;
    const body = await storage.get(newest.key);
    onProgress();
    return body && { app, manifest: parseManifest(newest.key, body.toString('utf8')) };
  } catch {
    return undefined;
  }
}

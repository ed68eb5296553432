import { parseManifest } from '../contract/manifest';
import { addToContentIndex, type ContentIndex, type ContentSource, type IndexedBuild } from '../source/content-index';
import { collectGarbage } from '../collect-garbage';
import type { Storage } from '../storage/storage';
import { inOrder } from './in-order';
import { listManifestKeys } from './manifests';

/** Reading the content index from the bucket: the newest manifest of every app. */

/**
 * Manifests fetched at once, as raw bodies: the latency of a remote store is paid in parallel,
 * while parsing, which is what holds memory (a manifest of 10,000 files is megabytes of body and
 * about 14 MiB of objects while it is parsed), goes one manifest at a time. On a bucket of 14
 * apps of 10,000 files, 8 at once held 30-57 MiB of bodies; 4 at once, 13-16 MiB.
 */
const FETCH_CONCURRENCY = 4;
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
 * Memory is bounded by the build, not the bucket: each manifest is parsed, folded into the index
 * and dropped before the next, and with `wanted` (the sha256s of the files to place) the index
 * keeps only those. Parsing the apps' newest manifests 16 at once took the Job's peak RSS at
 * staging to 271 MiB on a bucket of 14 apps of 10,000 files; one at a time, 203-205 MiB, and
 * staging took 1.2 s instead of 1.8 s (one run each).
 */
export async function readContentIndex(storage: Storage, app: string, onProgress: () => void = () => undefined, wanted?: ReadonlySet<string>): Promise<ContentIndexRead> {
  const apps = await storage.listChildren('manifests/');
  onProgress();
  const ordered = [app, ...apps.filter((a) => a !== app).sort()].filter((a) => apps.includes(a));
  const index = new Map<string, ContentSource>();
  let read = 0;
  let sinceCollected = 0;
  for await (const body of inOrder(ordered, FETCH_CONCURRENCY, (name) => newestManifestBody(storage, name, onProgress))) {
    const build = body && parseBuild(body);
    if (!build) continue;
    addToContentIndex(index, build, wanted);
    read++;
    sinceCollected += build.manifest.files.length;
    // The parsed manifests are garbage now, but with the CLI's 2 MiB young generation they were
    // promoted, and V8 lets them pile up before it collects (see collect-garbage.ts).
    if (sinceCollected >= GARBAGE_ENTRIES) {
      sinceCollected = 0;
      collectGarbage();
    }
  }
  return { index, apps: read, requests: 1 + 2 * ordered.length };
}

interface ManifestBody {
  app: string;
  key: string;
  body: Buffer;
}

/** The app's newest manifest, unparsed; undefined when it has none or it cannot be read. */
async function newestManifestBody(storage: Storage, app: string, onProgress: () => void): Promise<ManifestBody | undefined> {
  try {
    const [newest] = await listManifestKeys(storage, app);
    if (!newest) return undefined;
    const body = await storage.get(newest.key);
    onProgress();
    return body && { app, key: newest.key, body };
  } catch {
    return undefined;
  }
}

function parseBuild({ app, key, body }: ManifestBody): IndexedBuild | undefined {
  try {
    return { app, manifest: parseManifest(key, body.toString('utf8')) };
  } catch {
    return undefined;
  }
}

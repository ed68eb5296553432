import { parseManifest, type Manifest } from '../contract/manifest';
import type { Storage } from '../storage/storage';
import { inOrder } from './in-order';
import { listManifestKeys } from './manifests';

/** Reads what the app's latest builds wrote, for a publish to decide what it need not upload. */

/** How many of the newest manifests a publish reads to learn what earlier builds wrote. */
const MANIFESTS_READ = 5;
const FETCH_CONCURRENCY = 2;

/** What the newest build naming a path recorded of it (the shape source/upload-plan's `EarlierWrite` reads). */
export interface EarlierWrite {
  sha256?: string;
  cacheMaxAge?: number;
  size?: number;
  etag?: string;
}

/** The app's newest manifest, read whole. */
export interface NewestBuild {
  key: string;
  timestamp: number;
  manifest: Manifest;
}

/**
 * For each path, what the newest of the app's latest builds that names it recorded. An
 * unreadable manifest only means less is known (more is uploaded); it never fails a publish.
 * Usually read outside the app lock (the Job's early view): a manifest a prune deleted in the
 * meantime is skipped, and the go-live step checks under its turn what staging decided from it.
 */
export async function readEarlierBuilds(storage: Storage, app: string): Promise<{ earlier: Map<string, EarlierWrite>; newest?: NewestBuild }> {
  const keys = (await listManifestKeys(storage, app)).slice(0, MANIFESTS_READ);
  const earlier = new Map<string, EarlierWrite>();
  let newest: NewestBuild | undefined;
  // The next manifest is fetched while one is parsed: a remote store's latency is paid once, not
  // per manifest, and no more than two bodies (megabytes each for 10,000 files) are held at once.
  const fetched = inOrder(
    keys.map((entry, position) => ({ ...entry, position })),
    FETCH_CONCURRENCY,
    (entry) => storage.get(entry.key).then((body) => ({ ...entry, body }), (error: unknown) => ({ ...entry, error })),
  );
  for await (const read of fetched) {
    if ('error' in read) throw read.error;
    const { key, timestamp, position, body } = read;
    if (!body) continue;
    let manifest;
    try {
      manifest = parseManifest(key, body.toString('utf8'));
    } catch {
      // What it named is unknown, so what older builds say about those paths may be stale.
      break;
    }
    if (position === 0) newest = { key, timestamp, manifest };
    for (const path of manifest.files) {
      if (!earlier.has(path)) {
        earlier.set(path, { sha256: manifest.sha256?.[path], cacheMaxAge: manifest.cacheMaxAge, size: manifest.sizes?.[path], etag: manifest.etags?.[path] });
      }
    }
  }
  return { earlier, newest };
}

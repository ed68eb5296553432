import { parseManifest, type Manifest } from '../contract/manifest';
import type { Storage } from '../storage/storage';
import { listManifestKeys } from './manifests';

/** Reads what the app's latest builds wrote, for a publish to decide what it need not upload. */

/** How many of the newest manifests a publish reads to learn what earlier builds wrote. */
const MANIFESTS_READ = 5;

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
 * Called while the publish holds the app lock, so no prune deletes what it finds.
 */
export async function readEarlierBuilds(storage: Storage, app: string): Promise<{ earlier: Map<string, EarlierWrite>; newest?: NewestBuild }> {
  const keys = await listManifestKeys(storage, app);
  const earlier = new Map<string, EarlierWrite>();
  let newest: NewestBuild | undefined;
  for (const [i, { key, timestamp }] of keys.slice(0, MANIFESTS_READ).entries()) {
    const body = await storage.get(key);
    if (!body) continue;
    let manifest;
    try {
      manifest = parseManifest(key, body.toString('utf8'));
    } catch {
      // What it named is unknown, so what older builds say about those paths may be stale.
      break;
    }
    if (i === 0) newest = { key, timestamp, manifest };
    for (const path of manifest.files) {
      if (!earlier.has(path)) {
        earlier.set(path, { sha256: manifest.sha256?.[path], cacheMaxAge: manifest.cacheMaxAge, size: manifest.sizes?.[path], etag: manifest.etags?.[path] });
      }
    }
  }
  return { earlier, newest };
}

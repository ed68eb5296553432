import { dataPrefix, manifestPrefix, manifestTimestamp } from '../contract/keys';
import { parseManifest, type Manifest } from '../contract/manifest';
import type { EarlierBuilds, EarlierWrite, ExistingObject } from '../source/upload-plan';
import type { Storage } from '../storage/storage';

/** How many of the newest manifests a publish reads to learn what earlier builds wrote. */
const MANIFESTS_READ = 5;

/** Every object under `data/<app>/` with its size and ETag: one paginated listing, no HEADs. */
export function listAppObjects(storage: Storage, app: string, onObject?: () => void): Promise<Map<string, ExistingObject>> {
  return listUnder(storage, dataPrefix(app), onObject);
}

/** Size and ETag of every object under `prefix`, by the rest of its key; `onObject` counts them as they come. */
export async function listUnder(storage: Storage, prefix: string, onObject?: () => void): Promise<Map<string, ExistingObject>> {
  const objects = new Map<string, ExistingObject>();
  for await (const o of storage.list(prefix)) {
    objects.set(o.key.slice(prefix.length), { size: o.size, etag: o.etag });
    onObject?.();
  }
  return objects;
}

/**
 * For each path, what the newest of the app's latest builds that names it recorded. An
 * unreadable manifest only means less is known (more is uploaded); it never fails a publish.
 * Called while the publish holds the app lock, so no prune deletes what it finds.
 */
export async function readEarlierBuilds(storage: Storage, app: string): Promise<{ earlier: EarlierBuilds; newest?: NewestBuild }> {
  const keys: Array<{ key: string; ts: number }> = [];
  for await (const o of storage.list(manifestPrefix(app))) {
    const ts = manifestTimestamp(o.key);
    if (ts !== undefined) keys.push({ key: o.key, ts });
  }
  keys.sort((a, b) => b.ts - a.ts);
  const earlier = new Map<string, EarlierWrite>();
  let newest: NewestBuild | undefined;
  for (const [i, { key, ts }] of keys.slice(0, MANIFESTS_READ).entries()) {
    const body = await storage.get(key);
    if (!body) continue;
    let manifest;
    try {
      manifest = parseManifest(key, body.toString('utf8'));
    } catch {
      // What it named is unknown, so what older builds say about those paths may be stale.
      break;
    }
    if (i === 0) newest = { key, timestamp: ts, manifest };
    for (const path of manifest.files) {
      if (!earlier.has(path)) earlier.set(path, { sha256: manifest.sha256?.[path], cacheMaxAge: manifest.cacheMaxAge });
    }
  }
  return { earlier, newest };
}

/** The app's newest manifest, read whole. */
export interface NewestBuild {
  key: string;
  timestamp: number;
  manifest: Manifest;
}

import { buildCopiesPrefix, dataPrefix } from '../contract/keys';
import { validateAppName } from '../contract/names';
import type { ObjectInfo, Storage } from '../storage/storage';

/** Listings of the bucket: what objects an app has, with their sizes, ETags and ages. Reads only. */

/** What a listing says about one object (the shape source/upload-plan's `ExistingObject` reads). */
export interface ListedObject {
  size: number;
  etag?: string;
}

/** An object under `data/<app>/`, by its path there. */
export interface DataObject {
  relpath: string;
  lastModified: Date;
  size: number;
  etag?: string;
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Every object under `data/<app>/` with its size and ETag: one paginated listing, no HEADs. */
export function listAppObjects(storage: Storage, app: string, onObject?: () => void): Promise<Map<string, ListedObject>> {
  return listUnder(storage, dataPrefix(app), onObject);
}

/** Size and ETag of every object under `prefix`, by the rest of its key; `onObject` counts them as they come. */
export async function listUnder(storage: Storage, prefix: string, onObject?: () => void): Promise<Map<string, ListedObject>> {
  const objects = new Map<string, ListedObject>();
  for await (const o of storage.list(prefix)) {
    objects.set(o.key.slice(prefix.length), { size: o.size, etag: o.etag });
    onObject?.();
  }
  return objects;
}

/** Every object under `data/<app>/` with its age (for the retention rule), size and ETag. */
export async function listDataObjects(storage: Storage, app: string): Promise<DataObject[]> {
  const prefix = dataPrefix(app);
  return (await collect(storage.list(prefix))).map((o) => ({ relpath: o.key.slice(prefix.length), lastModified: o.lastModified, size: o.size, etag: o.etag }));
}

/** Every entry-file copy of every build of the app (`pushcache/builds/<app>/`). */
export function listBuildCopies(storage: Storage, app: string): Promise<ObjectInfo[]> {
  return collect(storage.list(buildCopiesPrefix(app)));
}

/** Every app with manifests or data in the bucket, and the prefixes that are not app names. */
export async function listAppNames(storage: Storage): Promise<{ apps: string[]; ignored: string[] }> {
  const names = new Set([...(await storage.listChildren('manifests/')), ...(await storage.listChildren('data/'))]);
  const apps: string[] = [];
  const ignored: string[] = [];
  for (const name of [...names].sort()) {
    try {
      apps.push(validateAppName(name));
    } catch {
      ignored.push(name);
    }
  }
  return { apps, ignored };
}

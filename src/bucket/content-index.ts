import pMap from 'p-map';
import { parseManifest } from '../contract/manifest';
import { buildContentIndex, type ContentIndex, type IndexedBuild } from '../source/content-index';
import type { Storage } from '../storage/storage';
import { listManifestKeys } from './manifests';

/** Reading the content index from the bucket: the newest manifest of every app. */

const READ_CONCURRENCY = 16;

export interface ContentIndexRead {
  index: ContentIndex;
  /** Apps whose newest manifest was read. */
  apps: number;
  /** Requests made: one listing of `manifests/`, then per app one listing and one read. */
  requests: number;
}

/**
 * Costs 1 + 2 × apps small requests and one manifest per app in memory, whatever the size of
 * the bucket's data: for 100 apps about 200 requests at 16 in flight, a fraction of a second.
 * A manifest that cannot be read leaves its app out (the index only saves uploads; it never
 * fails a publish). `app` comes first, so its own files are preferred as sources.
 */
export async function readContentIndex(storage: Storage, app: string, onProgress: () => void = () => undefined): Promise<ContentIndexRead> {
  const apps = await storage.listChildren('manifests/');
  onProgress();
  const ordered = [app, ...apps.filter((a) => a !== app).sort()].filter((a) => apps.includes(a));
  const builds = await pMap(
    ordered,
    async (name): Promise<IndexedBuild | undefined> => {
      try {
        const [newest] = await listManifestKeys(storage, name);
        if (!newest) return undefined;
        const body = await storage.get(newest.key);
        onProgress();
        return body && { app: name, manifest: parseManifest(newest.key, body.toString('utf8')) };
      } catch {
        return undefined;
      }
    },
    { concurrency: READ_CONCURRENCY },
  );
  const read = builds.filter((b): b is IndexedBuild => b !== undefined);
  return { index: buildContentIndex(read), apps: read.length, requests: 1 + 2 * ordered.length };
}

import { parseManifest } from '../contract/manifest';
import type { Storage } from '../storage/storage';

/** Two builds of one app that start in the same second: the later takes the next free second, up to this many on. */
export const MAX_TIMESTAMP_PROBES = 120;

/** True when the manifest at `key` was written by `publishId`: a retried write finds its own. */
export async function writtenBy(storage: Storage, key: string, publishId: string): Promise<boolean> {
  const body = await storage.get(key);
  if (!body) return false;
  try {
    return parseManifest(key, body.toString('utf8')).publishId === publishId;
  } catch {
    return false; // someone else's unreadable manifest is still someone else's
  }
}

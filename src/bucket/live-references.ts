import { dataKey, ENTRY_POINT } from '../contract/keys';
import { fedModsReferences, htmlReferences, mergeReferences, type References } from '../contract/references';
import type { Storage } from '../storage/storage';

/** Reads the live entry files (fed-mods.json, index.html) of an app: what they load, which a prune never deletes. */

/** The app's live entry files whose references a prune never deletes, whatever the manifests say. */
export const LIVE_ENTRY_FILES = [ENTRY_POINT, 'index.html'] as const;

export interface LiveReferences {
  /** Data keys a prune must keep: the live entry files and every object of the app they load. */
  keys: Set<string>;
  /** What could not be read in them; the prune still keeps everything it could read. */
  problems: string[];
}

/**
 * Reads the live `fed-mods.json` and `index.html` of `app`. A missing file references nothing;
 * a file that cannot be parsed is reported, not fatal: the app it breaks is broken already,
 * and the objects its readable parts name are still kept.
 */
export async function readLiveReferences(storage: Storage, app: string): Promise<LiveReferences> {
  const found: References[] = [];
  const keys = new Set<string>();
  for (const relpath of LIVE_ENTRY_FILES) {
    const body = await storage.get(dataKey(app, relpath));
    if (!body) continue;
    keys.add(dataKey(app, relpath));
    const text = body.toString('utf8');
    found.push(relpath === ENTRY_POINT ? fedModsReferences(app, text, relpath) : htmlReferences(app, text, relpath));
  }
  const refs = mergeReferences(...found);
  for (const relpath of refs.inApp) keys.add(dataKey(app, relpath));
  return { keys, problems: refs.problems };
}

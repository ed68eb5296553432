import { prunePlanKey, prunePlanPrefix } from '../contract/keys';
import { parsePrunePlanRecord, type PrunePlanRecord } from '../contract/prune-plan';
import type { ObjectInfo, Storage } from '../storage/storage';
import { collect } from './listings';

/** Prune plan records (`pushcache/prune-plans/<app>/<run>.json`): the keys one prune deletes, written, read back, removed. */

/** Every plan record of the app, unread. */
export function listPrunePlans(storage: Storage, app: string): Promise<ObjectInfo[]> {
  return collect(storage.list(prunePlanPrefix(app)));
}

/** Records the keys the prune `planId` of `app` deletes, manifests first; returns the record's key. */
export async function writePrunePlan(storage: Storage, app: string, planId: string, keys: string[]): Promise<string> {
  const key = prunePlanKey(app, planId);
  const record: PrunePlanRecord = { version: 1, app, keys };
  await storage.put(key, Buffer.from(JSON.stringify(record)), { contentType: 'application/json', cacheControl: 'no-cache' });
  return key;
}

/** The keys a plan record lists, checked to be its app's; undefined when it is gone. */
export async function readPrunePlan(storage: Storage, planKey: string): Promise<string[] | undefined> {
  const body = await storage.get(planKey);
  return body && parsePrunePlanRecord(planKey, body.toString('utf8')).keys;
}

/** Removes a plan record: its prune finished, or will not run. */
export async function discardPrunePlan(storage: Storage, planKey: string): Promise<void> {
  await storage.delete([planKey]);
}

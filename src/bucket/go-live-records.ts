import { parseGoLiveRecord, type GoLiveRecord } from '../contract/go-live';
import { goLivePrefix, goLiveRecordKey } from '../contract/keys';
import type { ObjectInfo, Storage } from '../storage/storage';
import { collect } from './listings';

/** Go-live records (`pushcache/go-live/<app>/<run>.json`) and the copies kept aside beside them: read, written once, discarded. */

/** Every go-live record and kept-aside copy of the app, unread. */
export function listGoLive(storage: Storage, app: string): Promise<ObjectInfo[]> {
  return collect(storage.list(goLivePrefix(app)));
}

/** The go-live record of a publish; undefined when there is none. */
export async function readGoLiveRecord(storage: Storage, app: string, publishId: string): Promise<GoLiveRecord | undefined> {
  const key = goLiveRecordKey(app, publishId);
  const body = await storage.get(key);
  return body && parseGoLiveRecord(key, body.toString('utf8'));
}

/** Writes the record unless one is there already (an earlier attempt's, which holds); true when this one was written. */
export function writeGoLiveRecordOnce(storage: Storage, record: GoLiveRecord): Promise<boolean> {
  return storage.putIfAbsent(goLiveRecordKey(record.app, record.publishId), Buffer.from(JSON.stringify(record)), {
    contentType: 'application/json',
    cacheControl: 'no-store',
  });
}

/** Removes the copies a go-live step kept aside, then its record. */
export async function discardGoLive(storage: Storage, app: string, publishId: string): Promise<void> {
  const keys: string[] = [];
  for await (const o of storage.list(`${goLivePrefix(app)}${publishId}/`)) keys.push(o.key);
  // The record last: while it exists, a retried restore still knows what to put back.
  for (let i = 0; i < keys.length; i += 1000) await storage.delete(keys.slice(i, i + 1000));
  await storage.delete([goLiveRecordKey(app, publishId)]);
}

import pMap from 'p-map';
import { stagingPrefix } from '../contract/keys';
import { parseStagingRecord, type StagingRecord } from '../contract/staging';
import type { ObjectInfo, Storage } from '../storage/storage';
import { collect } from './listings';

/** Staging records (`pushcache/staging/<app>/<run>.json`) of publishes in progress: listing and reading them. */

const READ_CONCURRENCY = 16;

/** What publishes in progress rely on: the paths they name, and their run IDs (which name their copies). */
export interface InFlight {
  paths: Set<string>;
  builds: Set<string>;
}

/** Every staging record of the app, unread. */
export function listStagingRecords(storage: Storage, app: string): Promise<ObjectInfo[]> {
  return collect(storage.list(stagingPrefix(app)));
}

/** The staging record at `key`, parsed; undefined when it is gone. */
export async function readStagingRecord(storage: Storage, key: string): Promise<StagingRecord | undefined> {
  const body = await storage.get(key);
  return body && parseStagingRecord(key, body.toString('utf8'));
}

/** Reads the staging records of publishes in progress. */
export async function readInFlight(storage: Storage, records: readonly ObjectInfo[]): Promise<InFlight> {
  const inFlight: InFlight = { paths: new Set(), builds: new Set() };
  await pMap(
    records,
    async (o) => {
      const record = await readStagingRecord(storage, o.key);
      // Removed since the listing: that publish has written its manifest, or gave up.
      if (!record) return;
      inFlight.builds.add(record.publishId);
      for (const f of record.files) inFlight.paths.add(f.path);
    },
    { concurrency: READ_CONCURRENCY },
  );
  return inFlight;
}

import pMap from 'p-map';
import { dataKey, manifestKey } from '../../src/contract/keys';
import type { Storage } from '../../src/storage/storage';

const JSON_OPTIONS = { contentType: 'application/json', cacheControl: 'no-cache' };

/** Writes a build's manifest straight into the bucket, as valpop would (or a legacy bare array). */
export async function seedManifest(storage: Storage, app: string, timestamp: number, files: string[], form: 'current' | 'legacy' = 'current'): Promise<string> {
  const key = manifestKey(app, timestamp);
  const body = form === 'legacy' ? files : { files, image: `img-${timestamp}`, timestamp };
  await storage.put(key, Buffer.from(JSON.stringify(body)), JSON_OPTIONS);
  return key;
}

export async function seedObjects(storage: Storage, app: string, files: string[]): Promise<void> {
  await pMap(files, (f) => storage.put(dataKey(app, f), Buffer.from(`content of ${f}`), { contentType: 'text/plain', cacheControl: 'no-cache' }), {
    concurrency: 32,
  });
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

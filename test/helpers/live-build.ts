import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataKey, manifestPrefix, manifestTimestamp } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { scanSource } from '../../src/source/scan';
import type { Storage } from '../../src/storage/storage';
import { listKeys, openTestStorage } from './servers';
import { readObject, sha256 } from './trees';

/**
 * Build `name` of an app shaped like a real one: entry files and a non-hashed `js/common.js`
 * whose bytes differ per build (both are rewritten in place by every build), a hashed chunk
 * only this build has, and `extra` generated chunks of `size` bytes to make uploads take a while.
 */
export function liveTree(name: string, extra = 0, size = 1024): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `pushcache-live-${name}-`));
  const files: Record<string, string | Buffer> = {
    'fed-mods.json': JSON.stringify({ app: { manifestLocation: '/apps/app/fed-mods.json', entry: [`/apps/app/js/main.${name}.js`] } }),
    'index.html': `<html><script src="js/common.js"></script><script src="js/main.${name}.js"></script></html>`,
    'app-info.json': JSON.stringify({ build: name }),
    [`js/main.${name}.js`]: `import './common.js'; console.log(${JSON.stringify(name)});`,
    'js/common.js': `export const build = ${JSON.stringify(name)};`,
  };
  for (let i = 0; i < extra; i++) files[`chunks/${i % 10}/${name}.${i}.js`] = Buffer.alloc(size, `${name}${i};`);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

/**
 * Issue 21's invariant, in its strongest form: the live build is exactly the tree in `dir`.
 * Every file of it is in the bucket byte for byte, and the newest manifest names exactly its
 * files (with `image`, when given).
 */
export async function expectLiveBuild(bucket: string, app: string, dir: string, image?: string, storage: Storage = openTestStorage(bucket)): Promise<void> {
  const tree = await scanSource(dir);
  const wrong: string[] = [];
  for (const file of tree.files) {
    const stored = await readObject(bucket, dataKey(app, file.path)).catch(() => undefined);
    if (!stored || sha256(stored.body) !== file.sha256) wrong.push(file.path);
  }
  expect(wrong).toEqual([]);
  const manifests = await listKeys(storage, manifestPrefix(app));
  const newest = manifests.sort((a, b) => manifestTimestamp(b)! - manifestTimestamp(a)!)[0];
  expect(newest).toBeDefined();
  const manifest = parseManifest(newest, (await readObject(bucket, newest)).body.toString('utf8'));
  expect([...manifest.files].sort()).toEqual(tree.files.map((f) => f.path).sort());
  if (image !== undefined) expect(manifest.image).toBe(image);
}

/** A storage whose writes to keys matching `test` fail with `error`; everything else goes through. */
export function failingWrites(inner: Storage, test: (key: string) => boolean, error: () => Error): Storage {
  const guarded = new Set(['put', 'putIfAbsent']);
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (guarded.has(String(prop))) {
        return (key: string, ...rest: unknown[]) => (test(key) ? Promise.reject(error()) : value.call(target, key, ...rest));
      }
      if (prop === 'copy') {
        return (from: string, to: string) => (test(to) ? Promise.reject(error()) : value.call(target, from, to));
      }
      return value.bind(target);
    },
  });
}

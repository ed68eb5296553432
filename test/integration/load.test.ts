import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dataKey, dataPrefix, manifestPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { scanSource } from '../../src/source/scan';
import { startCli, type CliResult } from '../helpers/cli';
import { seedManifest, seedObjects, nowSeconds } from '../helpers/seed';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness } from '../helpers/servers';
import { generatedTree } from '../helpers/trees';

jest.setTimeout(300_000);

// `load1` and `load10`…`load19` share a string prefix, so a prune that confused `data/load1`
// with `data/load1x/` would show up as a cross-app delete.
const APPS = Array.from({ length: 20 }, (_, i) => `load${i + 1}`);
const CHUNKS = 28;

describe('load', () => {
  it('publishes 20 apps at once through one shared worker while prune --all runs, and every app verifies', async () => {
    const harness = await startHarness();
    try {
      const bucket = await newBucket('load');
      const storage = openTestStorage(bucket);
      const env = jobEnv(harness.taskQueue, bucket);

      // Each app: two old builds. The older one is aged out under the prune below (-n 1, position
      // 1 or more once the newer exists) and names a file only it uses plus files the new build
      // rewrites; the newer one names a file that must survive.
      const t = nowSeconds();
      for (const app of APPS) {
        await seedObjects(storage, app, [`old/only-first-${app}.js`, `old/second-${app}.js`]);
        await seedManifest(storage, app, t - 10_000, [`old/only-first-${app}.js`, 'index.html', 'chunks/0/c0.0.js']);
        await seedManifest(storage, app, t - 9_000, [`old/second-${app}.js`]);
      }
      // Seeded objects must be older than the prune's grace period (max(-t, --orphan-grace) = 2 s).
      await new Promise((resolve) => setTimeout(resolve, 3000));

      // Distinct trees: the same layout, but every file carries its app's name.
      const sources = new Map(
        APPS.map((app) => {
          const dir = generatedTree(CHUNKS, 300);
          writeFileSync(path.join(dir, `own-${app}.js`), `only ${app} has this`);
          writeFileSync(path.join(dir, 'chunks/0/c0.0.js'), `chunk of ${app}`);
          return [app, dir];
        }),
      );

      const started = Date.now();
      // prune --all starts first, then the Jobs: it takes some apps' locks before their publish
      // stages (the publish waits for it) and waits for others' publishes to finish (then the
      // new manifest is there and the second old build is aged out as well).
      const prune = startCli(['prune', '--all', '-t', '2', '-n', '1', '--orphan-grace', '0', '--app-parallelism', '4'], env);
      await new Promise<void>((resolve) => prune.onLine((line) => /started prune/.test(line) && resolve()));
      const jobs = APPS.map((app) => startCli(['populate', '-s', sources.get(app)!, '-r', app, '-i', `img-${app}`, '--batch-files', '8'], env));
      const results: CliResult[] = await Promise.all(jobs.map((j) => j.result));
      const pruned = await prune.result;
      const seconds = (Date.now() - started) / 1000;
      console.log(`load: 20 publishes and prune --all in ${seconds.toFixed(1)} s`);

      expect({ code: pruned.code, stderr: pruned.stderr }).toEqual({ code: 0, stderr: '' });
      for (const [i, app] of APPS.entries()) {
        expect({ app, code: results[i].code, stderr: results[i].stderr }).toEqual({ app, code: 0, stderr: '' });
      }

      let keptSecond = 0;
      for (const app of APPS) {
        const source = sources.get(app)!;
        const tree = (await scanSource(source)).files.map((f) => f.path).sort();
        const manifestKeys = await listKeys(storage, manifestPrefix(app));
        // The oldest build is aged out whenever the prune reaches the app; the second one too
        // if the prune came after the new build's manifest (then it is at position 1 as well).
        const second = `${manifestPrefix(app)}${t - 9_000}`;
        const secondKept = manifestKeys.includes(second);
        expect({ app, first: manifestKeys.includes(`${manifestPrefix(app)}${t - 10_000}`) }).toEqual({ app, first: false });
        const newest = manifestKeys.filter((k) => k !== second);
        expect({ app, newBuilds: newest.length }).toEqual({ app, newBuilds: 1 });
        const manifest = parseManifest(newest[0], (await storage.get(newest[0]))!.toString('utf8'));
        expect([...manifest.files].sort()).toEqual(tree);
        if (secondKept) keptSecond++;

        // data/<app>/ holds exactly the new tree plus the kept old build's file: nothing of
        // another app, and the files only pruned builds named are deleted.
        const keys = await listKeys(storage, dataPrefix(app));
        expect(keys).toEqual([...tree, ...(secondKept ? [`old/second-${app}.js`] : [])].map((f) => dataKey(app, f)).sort());
        for (const file of tree) {
          const bytes = await storage.get(dataKey(app, file));
          expect({ app, file, equal: bytes?.equals(readFileSync(path.join(source, file))) }).toEqual({ app, file, equal: true });
        }
        if (secondKept) expect((await storage.get(dataKey(app, `old/second-${app}.js`)))?.toString()).toBe(`content of old/second-${app}.js`);
      }
      console.log(`load: the prune reached ${APPS.length - keptSecond} apps after their new manifest, ${keptSecond} before`);
      expect(await listKeys(storage, 'pushcache/staging/')).toEqual([]);
    } finally {
      await harness.close();
    }
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { dataPrefix, manifestPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { scanSource } from '../../src/source/scan';
import { runCli, startCli } from '../helpers/cli';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness } from '../helpers/servers';
import { generatedTree, readObject, sha256 } from '../helpers/trees';

jest.setTimeout(240_000);

/** A slow, serial publish, so the Job can be killed in the middle of it. */
const SLOW = ['--batch-files', '40', '--batch-parallelism', '1', '--upload-concurrency', '1', '--heartbeat-timeout', '3s'];

describe('durability', () => {
  it('finishes a publish whose Job was killed, without re-uploading finished batches', async () => {
    const harness = await startHarness();
    try {
      const bucket = await newBucket('resume');
      const source = generatedTree(2000, 1024);
      const args = ['populate', '-s', source, '-r', 'resumed', '-i', 'img:resume', ...SLOW];
      const env = jobEnv(harness.taskQueue, bucket);

      const first = startCli(args, env);
      let doneAtKill = -1;
      first.onLine((line) => {
        const m = /uploading: (\d+)\/(\d+) files/.exec(line);
        if (m && doneAtKill < 0 && Number(m[1]) > 0 && Number(m[1]) < Number(m[2]) / 2) {
          doneAtKill = Number(m[1]);
          first.child.kill('SIGKILL');
        }
      });
      const killed = await first.result;
      expect(doneAtKill).toBeGreaterThan(0);
      expect(killed.code).toBeNull(); // killed, not finished
      expect(await listKeys(openTestStorage(bucket), manifestPrefix('resumed'))).toEqual([]);

      await sleep(1100); // LastModified has one-second resolution on some stores
      const restartedAt = Date.now();
      const second = await runCli(args, env);
      expect(second.stderr).toBe('');
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/rejoined publish of resumed/);

      const tree = await scanSource(source);
      const storage = openTestStorage(bucket);
      const objects: Array<{ key: string; lastModified: Date }> = [];
      for await (const o of storage.list(dataPrefix('resumed'))) objects.push(o);
      expect(objects.map((o) => o.key).sort()).toEqual(tree.files.map((f) => `data/resumed/${f.path}`).sort());
      // Everything the first Job reported done was left alone by the second.
      const untouched = objects.filter((o) => o.lastModified.getTime() < restartedAt - 500).length;
      expect(untouched).toBeGreaterThanOrEqual(doneAtKill);
      expect(untouched).toBeLessThan(tree.files.length);

      const [manifestKey] = await listKeys(storage, manifestPrefix('resumed'));
      const manifest = parseManifest(manifestKey, (await storage.get(manifestKey))!.toString());
      expect(manifest.files).toHaveLength(tree.files.length);
      for (const f of tree.files.filter((_, i) => i % 97 === 0)) {
        expect(sha256((await readObject(bucket, `data/resumed/${f.path}`)).body)).toBe(f.sha256);
      }
    } finally {
      await harness.close();
    }
  });

  it('finishes a publish when the shared worker is replaced mid-run', async () => {
    const bucket = await newBucket('worker');
    const first = await startHarness();
    const source = generatedTree(600, 512);
    const job = startCli(['populate', '-s', source, '-r', 'moved', ...SLOW], jobEnv(first.taskQueue, bucket));
    let replaced = false;
    job.onLine((line) => {
      if (!replaced && /uploading: [1-9]\d*\//.test(line)) {
        replaced = true;
        void first.close();
      }
    });
    // Wait until the first worker is gone, then start a new one on the same queue.
    while (!replaced) await sleep(50);
    await first.running;
    const second = await startHarness({ taskQueue: first.taskQueue });
    try {
      const r = await job.result;
      expect(r.code).toBe(0);
      expect(await listKeys(openTestStorage(bucket), manifestPrefix('moved'))).toHaveLength(1);
      expect((await listKeys(openTestStorage(bucket), dataPrefix('moved'))).length).toBe(602);
    } finally {
      await second.close();
    }
  });
});

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildCopyKey, dataKey, dataPrefix, manifestPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { scanSource } from '../../src/source/scan';
import { runCli, startCli } from '../helpers/cli';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness } from '../helpers/servers';
import { generatedTree, readLocal, readObject, sha256 } from '../helpers/trees';

jest.setTimeout(240_000);

describe('durability between fed-mods.json and the manifest', () => {
  it('finishes a publish whose Job was killed in the go-live step (uploading fed-mods.json), with one manifest', async () => {
    const harness = await startHarness();
    try {
      const bucket = await newBucket('entry');
      const source = generatedTree(40, 512);
      // A large fed-mods.json (valid JSON), so the go-live step lasts long enough for the
      // Job's once-a-second progress line to show it before the upload ends.
      const padding = 'x'.repeat(64 * 1024 * 1024);
      writeFileSync(path.join(source, 'fed-mods.json'), JSON.stringify({ app: { entry: ['/apps/x/chunks/0/c0.0.js'] }, padding }));
      const args = ['populate', '-s', source, '-r', 'entry', '-i', 'img:entry', '--heartbeat-timeout', '3s'];
      const env = jobEnv(harness.taskQueue, bucket);

      const first = startCli(args, env);
      let killedAtEntryPoint = false;
      first.onLine((line) => {
        if (!killedAtEntryPoint && line.includes('going live: writing')) {
          killedAtEntryPoint = true;
          first.child.kill('SIGKILL');
        }
      });
      const killed = await first.result;
      expect(killedAtEntryPoint).toBe(true);
      expect(killed.code).toBeNull(); // killed, not finished
      const storage = openTestStorage(bucket);
      expect(await listKeys(storage, manifestPrefix('entry'))).toEqual([]);

      const second = await runCli(args, env);
      expect(second.stderr).toBe('');
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/rejoined publish of entry/);

      const tree = await scanSource(source);
      const manifestKeys = await listKeys(storage, manifestPrefix('entry'));
      expect(manifestKeys).toHaveLength(1);
      const body = (await storage.get(manifestKeys[0]))!.toString('utf8');
      const manifest = parseManifest(manifestKeys[0], body);
      expect([...manifest.files].sort()).toEqual(tree.files.map((f) => f.path));
      expect(await listKeys(storage, dataPrefix('entry'))).toEqual(tree.files.map((f) => dataKey('entry', f.path)));
      for (const f of tree.files) {
        expect({ file: f.path, sha256: sha256((await readObject(bucket, dataKey('entry', f.path))).body) }).toEqual({ file: f.path, sha256: f.sha256 });
      }
      // The rollback copy of fed-mods.json kept for this build is whole as well.
      const publishId = (JSON.parse(body) as { publishId: string }).publishId;
      expect(sha256((await readObject(bucket, buildCopyKey('entry', publishId, 'fed-mods.json'))).body)).toBe(sha256(readLocal(source, 'fed-mods.json')));
      expect(await listKeys(storage, 'pushcache/staging/')).toEqual([]);
    } finally {
      await harness.close();
    }
  });
});

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildCopyKey, dataKey, dataPrefix, manifestPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { scanSource } from '../../src/source/scan';
import { runCli, startCli } from '../helpers/cli';
import { startFaultProxy } from '../helpers/fault-proxy';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness, testServers } from '../helpers/servers';
import { generatedTree, readLocal, readObject, sha256 } from '../helpers/trees';

jest.setTimeout(240_000);

describe('durability between fed-mods.json and the manifest', () => {
  it('finishes a publish whose Job was killed in the go-live step (uploading fed-mods.json), with one manifest', async () => {
    const harness = await startHarness();
    const proxy = await startFaultProxy(testServers().minioEndpoint);
    try {
      const bucket = await newBucket('entry');
      const source = generatedTree(40, 512);
      // Larger than one part (valid JSON), so the live write of fed-mods.json is a multipart upload.
      const padding = 'x'.repeat(20 * 1024 * 1024);
      writeFileSync(path.join(source, 'fed-mods.json'), JSON.stringify({ app: { entry: ['/apps/x/chunks/0/c0.0.js'] }, padding }));
      const args = ['populate', '-s', source, '-r', 'entry', '-i', 'img:entry', '--heartbeat-timeout', '3s'];
      const env = { ...jobEnv(harness.taskQueue, bucket), PUSHCACHE_AWS_ENDPOINT: proxy.endpoint };

      // The Job is killed when its first write of the live fed-mods.json reaches the store, and
      // that write is held unanswered: the kill lands inside the go-live step however fast the
      // machine is, before the manifest can be written.
      const liveEntryPoint = `/${bucket}/${dataKey('entry', 'fed-mods.json')}`;
      const isLiveEntryWrite = (req: { method?: string; url?: string }) =>
        (req.method === 'PUT' || req.method === 'POST') && new URL(req.url ?? '/', 'http://proxy').pathname === liveEntryPoint;
      const first = startCli(args, env);
      let killedAtEntryPoint = false;
      proxy.when(isLiveEntryWrite, 1, () => {
        killedAtEntryPoint = true;
        first.child.kill('SIGKILL');
      });
      proxy.stall(isLiveEntryWrite, 1);
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
      await proxy.close();
      await harness.close();
    }
  });
});

import { rmSync } from 'node:fs';
import { resolvePublishSettings } from '../../src/config';
import { manifestPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { populate } from '../../src/client/populate';
import { scanSource } from '../../src/source/scan';
import { payloadSizes } from '../helpers/history';
import { listKeys, newBucket, openTestStorage, populateDeps, startHarness } from '../helpers/servers';
import { generatedTree } from '../helpers/trees';

jest.setTimeout(240_000);

describe('one app with 50,000 files', () => {
  it('publishes every file with default settings, in a history far from Temporal limits', async () => {
    const harness = await startHarness();
    const source = generatedTree(50_000, 8);
    try {
      const bucket = await newBucket('wide');
      const settings = resolvePublishSettings({ source, prefix: 'wide', image: 'img:wide', prune: false });
      const started = Date.now();
      const outcome = await populate(settings, populateDeps(harness, bucket));
      console.log(`wide: 50,002 files published in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expect(outcome.files).toBe(50_002);

      const history = await harness.client.workflow.getHandle(outcome.workflowId, outcome.runId).fetchHistory();
      const events = history.events!.length;
      const sizes = payloadSizes(history);
      console.log(`wide: ${events} history events, largest payload ${Math.max(...sizes)} bytes`);
      // 101 upload batches of 500 files (fed-mods.json goes up on its own). Each batch costs
      // its activity's three events and, for most, a workflow task's three; the rest is stage,
      // entry point, manifest and the lock. So the history grows with batches, not with files,
      // and stays far below Temporal's 10,240-event warning (measured: 627 to 654 events in three runs).
      const batches = Math.ceil(50_001 / 500);
      expect(events).toBeLessThan(7 * batches + 60);
      expect(Math.max(...sizes)).toBeLessThan(64 * 1024);

      const storage = openTestStorage(bucket);
      const [manifestKey, ...more] = await listKeys(storage, manifestPrefix('wide'));
      expect(more).toEqual([]);
      const manifest = parseManifest(manifestKey, (await storage.get(manifestKey))!.toString('utf8'));
      const tree = (await scanSource(source)).files.map((f) => f.path);
      expect([...manifest.files].sort()).toEqual(tree);
      expect((await listKeys(storage, 'data/wide/')).length).toBe(50_002);
    } finally {
      await harness.close();
      rmSync(source, { recursive: true, force: true });
    }
  });
});

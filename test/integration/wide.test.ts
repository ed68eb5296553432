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
      // At most 16 upload batches whatever the tree (issue 16): about six events each (the
      // activity's three and a workflow task's three) plus stage, entry copies, go-live and the lock.
      expect(events).toBeLessThanOrEqual(250);
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

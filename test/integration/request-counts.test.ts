import { rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { resolvePublishSettings } from '../../src/config';
import { populate, type PopulateOutcome } from '../../src/client/populate';
import { MemoryStorage } from '../../src/storage/memory';
import { S3Storage } from '../../src/storage/s3';
import type { Storage } from '../../src/storage/storage';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { payloadSizes } from '../helpers/history';
import { newBucket, populateDeps, startHarness, testServers, type Harness } from '../helpers/servers';
import { generatedTree, readLocal } from '../helpers/trees';

// What CI can check of performance on any machine: requests a publish sends, and the size of
// its history. Speed itself is the bench's (docs/benchmarks.md).
jest.setTimeout(240_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

/** PUTs seen by the proxy, by key (path-style: /bucket/key), copies apart. */
interface Seen {
  puts: string[];
  copies: string[];
}

async function countingProxy(bucket: string): Promise<{ proxy: FaultProxy; seen: Seen; storage: Storage }> {
  const seen: Seen = { puts: [], copies: [] };
  const prefix = `/${bucket}/`;
  const proxy = await startFaultProxy(testServers().minioEndpoint, {
    onRequest: (req: http.IncomingMessage) => {
      if (req.method !== 'PUT' || !req.url?.startsWith(prefix)) return;
      const key = decodeURIComponent(req.url.slice(prefix.length).split('?')[0]);
      (req.headers['x-amz-copy-source'] ? seen.copies : seen.puts).push(key);
    },
  });
  const storage = S3Storage.open({ endpoint: proxy.endpoint, bucket, credentials: testServers().credentials });
  return { proxy, seen, storage };
}

async function publish(source: string, image: string, bucket: string, storage: Storage): Promise<PopulateOutcome> {
  const settings = resolvePublishSettings({ source, prefix: 'wide', image, prune: false });
  return populate(settings, populateDeps(harness, bucket, storage));
}

async function history(outcome: PopulateOutcome): Promise<{ events: number; largest: number }> {
  const h = await harness.client.workflow.getHandle(outcome.workflowId, outcome.runId).fetchHistory();
  return { events: h.events!.length, largest: Math.max(...payloadSizes(h)) };
}

const dataPuts = (seen: Seen) => seen.puts.filter((k) => k.startsWith('data/wide/')).map((k) => k.slice('data/wide/'.length));

describe('requests and history of a publish of 10,000 files', () => {
  it('PUTs every file once cold, no data object unchanged, and the changed file alone', async () => {
    const bucket = await newBucket('counts');
    const source = generatedTree(10_000, 16);
    const { proxy, seen, storage } = await countingProxy(bucket);
    try {
      const cold = await publish(source, 'img:1', bucket, storage);
      expect(cold.files).toBe(10_002);
      const coldPuts = dataPuts(seen);
      // Exactly one PUT per file: no retries of a whole batch, no file twice.
      expect(coldPuts).toHaveLength(10_002);
      expect(new Set(coldPuts).size).toBe(10_002);
      const h = await history(cold);
      console.log(`request-counts: cold 10,002 files, ${h.events} history events, largest payload ${h.largest} bytes`);
      expect(h.events).toBeLessThanOrEqual(250);
      expect(h.largest).toBeLessThan(64 * 1024);

      // A new image of the same tree: the live fed-mods.json already is this build's, so no data object is written.
      seen.puts.length = 0;
      const same = await publish(source, 'img:2', bucket, storage);
      expect(same).toMatchObject({ files: 10_002, skipped: 10_002, uploaded: 0 });
      expect(dataPuts(seen)).toEqual([]);

      // One file changed: that file alone (fed-mods.json, unchanged, stays as it is).
      seen.puts.length = 0;
      const changed = 'chunks/3/c13.d.js';
      writeFileSync(path.join(source, changed), Buffer.alloc(readLocal(source, changed).length, 'x'));
      await publish(source, 'img:3', bucket, storage);
      expect(dataPuts(seen)).toEqual([changed]);
    } finally {
      await proxy.close();
      rmSync(source, { recursive: true, force: true });
    }
  });
});

describe('history of a publish of 100,000 files', () => {
  it('stays under 250 events with no payload over 64 KB', async () => {
    // The history depends on the batches, not on the store: an in-memory store keeps this test
    // about the workflow and cheap on a 2-core CI machine (MinIO takes ~3 minutes for 100,000 PUTs).
    const source = generatedTree(100_000, 4);
    try {
      const outcome = await publish(source, 'img:wide', 'memory', new MemoryStorage());
      expect(outcome.files).toBe(100_002);
      const h = await history(outcome);
      console.log(`request-counts: 100,002 files, ${h.events} history events, largest payload ${h.largest} bytes`);
      expect(h.events).toBeLessThanOrEqual(250);
      expect(h.largest).toBeLessThan(64 * 1024);
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  });
});

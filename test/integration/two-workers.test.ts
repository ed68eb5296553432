import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { dataKey, dataPrefix } from '../../src/contract/keys';
import { parseManifest } from '../../src/contract/manifest';
import { publishWorkflowId } from '../../src/client/workflow-id';
import { startCli, runCli, type CliResult } from '../helpers/cli';
import { startFaultProxy } from '../helpers/fault-proxy';
import { jobEnv, listKeys, newBucket, openTestStorage, testServers } from '../helpers/servers';
import { generatedTree } from '../helpers/trees';

jest.setTimeout(300_000);

const APPS = ['shop', 'chat', 'docs', 'admin'];
// generatedTree adds index.html and fed-mods.json to its chunks.
const CHUNKS = 120;
const FILES = CHUNKS + 2;

/** A `pushcache worker` process, as one replica of the Deployment. */
function startWorker(taskQueue: string, bucket: string) {
  const worker = startCli(['worker', '--metrics-address', 'off', '--health-address', 'off'], jobEnv(taskQueue, bucket));
  const polling = new Promise<void>((resolve) => worker.onLine((line) => line.includes('worker polling') && resolve()));
  return { ...worker, polling };
}

describe('two worker replicas', () => {
  let connection: Connection;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  beforeAll(async () => {
    connection = await Connection.connect({ address: testServers().temporalAddress });
    proxy = await startFaultProxy(testServers().minioEndpoint);
  });
  afterAll(async () => {
    await connection?.close();
    await proxy?.close();
  });

  it('when the replica running every publish is killed mid-run, the other finishes every app', async () => {
    const client = new Client({ connection });
    const bucket = await newBucket('replicas');
    const taskQueue = `replicas-${Date.now()}`;
    // The doomed replica starts alone, so every run has tasks on it when it dies; the survivor
    // joins just before, as a second replica would, and must take over all of them.
    const doomed = startWorker(taskQueue, bucket);
    await doomed.polling;

    // Small batches one at a time: each publish needs a workflow task per batch, so the runs are
    // long enough to be cut in the middle. One app's uploads are held at the store until the
    // replica is dead, so at least that run is cut in the middle however fast the machine is.
    const heldApp = APPS[0];
    const isHeldUpload = (req: { method?: string; url?: string }) =>
      (req.method === 'PUT' || req.method === 'POST') && new URL(req.url ?? '/', 'http://proxy').pathname.startsWith(`/${bucket}/${dataPrefix(heldApp)}`);
    let uploadHeld = false;
    proxy.when(isHeldUpload, 1, () => (uploadHeld = true));
    const releaseUploads = proxy.hold(isHeldUpload);
    const sources = new Map(APPS.map((app) => [app, generatedTree(CHUNKS, 512)]));
    const jobs: Array<Promise<CliResult>> = APPS.map((app) =>
      runCli(['populate', '-s', sources.get(app)!, '-r', app, '-i', `img-${app}`, '--batch-files', '4', '--batch-parallelism', '1'], {
        ...jobEnv(taskQueue, bucket),
        PUSHCACHE_AWS_ENDPOINT: proxy.endpoint,
      }),
    );
    const handles = () => APPS.map((app) => client.workflow.getHandle(publishWorkflowId(bucket, app, `img-${app}`, '')));
    const doomedIdentity = `${doomed.child.pid}@`;
    for (;;) {
      const tasksByDoomed = await Promise.all(handles().map((h) => workflowTasksBy(h, doomedIdentity).catch(() => 0)));
      if (tasksByDoomed.every((n) => n > 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const survivor = startWorker(taskQueue, bucket);
    await survivor.polling;
    const running = await Promise.all(handles().map(async (h) => (await h.describe()).status.name));
    doomed.child.kill('SIGKILL');
    expect((await doomed.result).code).toBeNull();
    releaseUploads();
    expect(uploadHeld).toBe(true);
    expect(running[APPS.indexOf(heldApp)]).toBe('RUNNING');

    const results = await Promise.all(jobs);
    survivor.child.kill('SIGTERM');
    expect((await survivor.result).code).toBe(0);

    const storage = openTestStorage(bucket);
    for (const [i, app] of APPS.entries()) {
      expect({ app, code: results[i].code, stderr: results[i].stderr }).toEqual({ app, code: 0, stderr: '' });
      const [manifestKey] = await listKeys(storage, `manifests/${app}/`);
      const manifest = parseManifest(manifestKey, (await storage.get(manifestKey))!.toString('utf8'));
      expect(manifest.files).toHaveLength(FILES);
      for (const file of manifest.files) {
        const bytes = await storage.get(dataKey(app, file));
        expect({ file, equal: bytes?.equals(readFileSync(path.join(sources.get(app)!, file))) }).toEqual({ file, equal: true });
      }
    }
    // Each app's prune left the other apps' files alone.
    expect((await listKeys(storage, 'data/')).length).toBe(FILES * APPS.length);
  });
});

async function workflowTasksBy(handle: ReturnType<Client['workflow']['getHandle']>, identityPrefix: string): Promise<number> {
  let count = 0;
  const history = await handle.fetchHistory();
  for (const event of history.events ?? []) {
    if (event.workflowTaskCompletedEventAttributes?.identity?.startsWith(identityPrefix)) count++;
  }
  return count;
}

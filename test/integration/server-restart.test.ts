import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dataPrefix, manifestPrefix } from '../../src/contract/keys';
import { freePort } from '../../src/dev/process';
import { startTemporalDev, type TemporalDevServer } from '../../src/dev/temporal-server';
import { startCli } from '../helpers/cli';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness } from '../helpers/servers';
import { generatedTree } from '../helpers/trees';

jest.setTimeout(240_000);

it('finishes a publish across a restart of the Temporal server (SQLite history)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-restart-'));
  const port = await freePort();
  const start = () => startTemporalDev({ port, dbFile: path.join(dir, 'temporal.db'), logDir: dir });
  let server: TemporalDevServer = await start();
  const harness = await startHarness({ temporalAddress: server.address });
  try {
    const bucket = await newBucket('restart');
    const job = startCli(
      ['populate', '-s', generatedTree(1500, 1024), '-r', 'restarted', '-i', 'img:restart',
        '--batch-files', '40', '--batch-parallelism', '1', '--upload-concurrency', '1', '--heartbeat-timeout', '5s'],
      jobEnv(harness.taskQueue, bucket, server.address),
    );
    let progressed = false;
    job.onLine((line) => {
      if (/uploading: [1-9]\d*\//.test(line)) progressed = true;
    });
    while (!progressed) await sleep(50);
    await server.process.stop();
    await sleep(1000);
    server = await start();

    const r = await job.result;
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(await listKeys(openTestStorage(bucket), manifestPrefix('restarted'))).toHaveLength(1);
    expect(await listKeys(openTestStorage(bucket), dataPrefix('restarted'))).toHaveLength(1502);
  } finally {
    await harness.close();
    await server.process.stop();
  }
});

it('publishes on a namespace without pushcache search attributes, with a warning', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-plain-'));
  const server = await startTemporalDev({ port: await freePort(), registerSearchAttributes: false, logDir: dir });
  const harness = await startHarness({ temporalAddress: server.address });
  try {
    const bucket = await newBucket('plain');
    const r = await startCli(['populate', '-s', generatedTree(5), '-r', 'plain', '-i', 'img:plain'], jobEnv(harness.taskQueue, bucket, server.address)).result;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/warning: namespace lacks search attributes/);
    expect(await listKeys(openTestStorage(bucket), manifestPrefix('plain'))).toHaveLength(1);
  } finally {
    await harness.close();
    await server.process.stop();
  }
});

import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, type CliResult } from '../helpers/cli';
import { historyText, listRuns } from '../helpers/history';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness, testServers, type Harness } from '../helpers/servers';
import { generatedTree } from '../helpers/trees';

jest.setTimeout(180_000);

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

describe('credentials never leave the process that was given them', () => {
  it('are in no event of any workflow a publish and prunes create, and in no line they print', async () => {
    const { accessKeyId, secretAccessKey } = testServers().credentials;
    const since = new Date(Date.now() - 1000);
    const bucket = await newBucket('creds');
    const app = `creds-${bucket.slice(-8)}`;
    const env = jobEnv(harness.taskQueue, bucket);
    const outputs: CliResult[] = [];

    // As the operator runs valpop today: the keys on the command line, nothing in the environment.
    const { PUSHCACHE_AWS_ACCESS_KEY_ID: _key, PUSHCACHE_AWS_SECRET_ACCESS_KEY: _secret, ...withoutKeys } = env;
    const source = generatedTree(30, 256);
    const first = await runCli(['populate', '-s', source, '-r', app, '-n', '1', '-t', '0', '-u', accessKeyId, '-c', secretAccessKey], withoutKeys);
    outputs.push(first);
    expect(first.stderr).toMatch(/credentials given on the command line/);
    expect(first.code).toBe(0);
    await sleep(1100); // the second build starts in a later second
    // As recommended: the keys in the environment. This publish's own prune deletes the first build.
    const second = await runCli(['populate', '-s', generatedTree(31, 256), '-r', app, '-i', 'img:2', '-n', '1', '-t', '0'], env);
    outputs.push(second);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`pruned ${app}: 1 old builds`));
    const pruneAll = await runCli(['prune', '--all', '-n', '1', '-t', '0'], env);
    outputs.push(pruneAll);
    expect(pruneAll.code).toBe(0);
    expect(await listKeys(openTestStorage(bucket), `manifests/${app}/`)).toHaveLength(1);
    // Refused keys are reported as refused, without being echoed.
    const refused = await runCli(['populate', '-s', source, '-r', app, '-u', accessKeyId, '-c', `${secretAccessKey}-wrong`], withoutKeys);
    outputs.push(refused);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/credentials were refused/);

    const ours = (id: string) => id.includes(app) || id.includes(bucket);
    let runs: Awaited<ReturnType<typeof listRuns>> = [];
    // Visibility is updated asynchronously; wait until every kind of workflow is listed.
    for (;;) {
      runs = await listRuns(harness.client, since, ours);
      const types = new Set(runs.map((r) => r.type));
      const prunes = runs.filter((r) => r.type === 'PruneWorkflow').length;
      // Two publishes, the second's prune (the first build aged nothing out, so its publish ran
      // none), the prune-all and its child for the app, and the app's lock.
      if (runs.filter((r) => r.type === 'PublishWorkflow').length >= 2 && prunes >= 3 && types.has('AppLockWorkflow')) break;
      await sleep(200);
    }
    expect(runs.map((r) => r.workflowId)).toEqual(expect.arrayContaining([`pushcache-lock/${bucket}/${app}`]));

    expect(runs.filter((r) => r.type === 'PublishWorkflow' && r.workflowId.includes('tree-'))).toHaveLength(1);
    for (const run of runs) {
      const text = historyText(await harness.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory());
      // The search sees inside payloads: the publish's input (a payload) names its source directory.
      if (run.type === 'PublishWorkflow' && run.workflowId.includes('tree-')) expect(text).toContain(source);
      expect({ run: run.workflowId, accessKeyId: text.includes(accessKeyId), secret: text.includes(secretAccessKey) }).toEqual({
        run: run.workflowId,
        accessKeyId: false,
        secret: false,
      });
    }
    for (const { stdout, stderr } of outputs) {
      for (const credential of [accessKeyId, secretAccessKey]) {
        expect(stdout).not.toContain(credential);
        expect(stderr).not.toContain(credential);
      }
    }
  });
});

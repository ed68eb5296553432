import { runCli, startCli, type CliResult } from '../helpers/cli';
import { newBucket, startHarness, testServers, type Harness } from '../helpers/servers';
import { copyExample } from '../helpers/trees';

jest.setTimeout(120_000);

let harness: Harness;
let bucket: string;
beforeAll(async () => {
  harness = await startHarness();
  bucket = await newBucket('logs');
});
afterAll(async () => harness?.close());

interface Line {
  time: string;
  level: string;
  msg: string;
  event?: string;
  [field: string]: unknown;
}

/** Every line of both streams as JSON; a line that is not JSON fails the test with the line in the message. */
function parseLines(r: CliResult): { stdout: Line[]; stderr: Line[] } {
  const parse = (text: string) =>
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        try {
          return JSON.parse(l) as Line;
        } catch {
          throw new Error(`not a JSON line: ${l}`);
        }
      });
  const lines = { stdout: parse(r.stdout), stderr: parse(r.stderr) };
  for (const line of [...lines.stdout, ...lines.stderr]) {
    expect(line).toEqual(expect.objectContaining({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: expect.any(String), msg: expect.any(String) }));
  }
  return lines;
}

function expectNoCredentials(r: CliResult): void {
  const { credentials } = testServers();
  expect(r.stdout + r.stderr).not.toContain(credentials.secretAccessKey);
  expect(r.stdout + r.stderr).not.toContain(credentials.accessKeyId);
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { TEMPORAL_ADDRESS: testServers().temporalAddress, PUSHCACHE_TASK_QUEUE: harness.taskQueue, PUSHCACHE_AWS_BUCKET_NAME: bucket, ...extra };
}

/** Credentials on the command line, as the operator passes them: the case most likely to leak. */
function storageFlags(): string[] {
  const { credentials, minioEndpoint } = testServers();
  return ['--endpoint', minioEndpoint, '-u', credentials.accessKeyId, '-c', credentials.secretAccessKey];
}

describe('--log-format json', () => {
  it('makes every line of a publish and a prune a JSON event, credentials nowhere', async () => {
    const published = await runCli(['populate', '-s', copyExample(), '-r', 'logs', '-i', 'img:1', '--log-format', 'json', '--temporal-ui-url', 'http://ui', ...storageFlags()], env());
    expect(published.code).toBe(0);
    expectNoCredentials(published);
    const job = parseLines(published);
    // The command-line credentials warning is the only line on stderr.
    expect(job.stderr).toEqual([expect.objectContaining({ level: 'warn', event: 'credentials-on-command-line' })]);
    const started = job.stdout.find((l) => l.event === 'publish-started')!;
    expect(started).toMatchObject({ level: 'info', app: 'logs', files: 22, workflowId: `publish/${bucket}/logs/img:1`, runId: expect.any(String) });
    expect(job.stdout.find((l) => l.event === 'run-link')).toMatchObject({ url: expect.stringMatching(/^http:\/\/ui\/namespaces\/default\/workflows\//) });
    // Last, as the pretty line is: an operator often sees only the last line of a Job.
    expect(job.stdout.at(-1)).toMatchObject({
      level: 'info',
      event: 'published',
      msg: expect.stringMatching(/^published logs: 22 files/),
      app: 'logs',
      workflowId: started.workflowId,
      runId: started.runId,
      files: 22,
      bytes: started.bytes,
      uploaded: 22,
      skipped: 0,
      manifestKey: expect.stringMatching(/^manifests\/logs\/\d+$/),
    });

    // At debug the SDK's own lines (the Job's worker) join in; they are JSON too.
    // A new image: with the same one the Job would write nothing (an up-to-date event instead).
    const again = await runCli(['populate', '-s', copyExample(), '-r', 'logs', '-i', 'img:2', '--log-level', 'debug', ...storageFlags()], env({ PUSHCACHE_LOG_FORMAT: 'json' }));
    expect(again.code).toBe(0);
    expectNoCredentials(again);
    const debug = parseLines(again);
    expect(debug.stdout.filter((l) => l.level === 'debug' && l.logger === 'temporal').length).toBeGreaterThan(0);
    expect(debug.stdout.find((l) => l.event === 'published')).toMatchObject({ app: 'logs', files: 22, skipped: 22 });

    const pruned = await runCli(['prune', '-r', 'logs', '--log-format', 'json', ...storageFlags()], env({ PUSHCACHE_LOG_FORMAT: 'pretty' }));
    expect(pruned.code).toBe(0);
    expectNoCredentials(pruned);
    const prune = parseLines(pruned);
    expect(prune.stderr.map((l) => l.event)).toEqual([]);
    expect(prune.stdout.find((l) => l.event === 'prune-started')).toMatchObject({ app: 'logs', workflowId: expect.stringMatching(new RegExp(`^prune/${bucket}/logs/`)), dryRun: false });
    expect(prune.stdout.find((l) => l.event === 'pruned')).toMatchObject({
      level: 'info',
      app: 'logs',
      status: 'pruned',
      manifestsKept: 2,
      manifestsDeleted: 0,
      objectsDeleted: 0,
      deleted: 0,
    });
  });

  it('ends a failed run with a JSON error line that carries the exit code', async () => {
    const r = await runCli(['populate', '-s', '/nonexistent/build', '-r', 'logs'], env({ PUSHCACHE_LOG_FORMAT: 'json' }));
    expect(r.code).toBe(2);
    const { stdout, stderr } = parseLines(r);
    expect(stdout).toEqual([]);
    expect(stderr.at(-1)).toMatchObject({ level: 'error', event: 'failed', exitCode: 2, msg: expect.stringMatching(/source directory \/nonexistent\/build does not exist/) });
  });

  it('reports a bad --log-format in the text it can be sure of', async () => {
    const r = await runCli(['prune', '--all', '--log-format', 'xml'], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("pushcache: error: --log-format must be 'pretty' or 'json'\n");
  });

  it("gives the worker's start and stop lines as events", async () => {
    const worker = startCli(['worker', '--task-queue', `logs-worker-${Date.now()}`, '--metrics-address', 'off', '--health-address', 'off', '--log-format', 'json', ...storageFlags()], env());
    await new Promise<void>((resolve) => worker.onLine((line) => line.includes('"worker-started"') && resolve()));
    worker.child.kill('SIGTERM');
    const r = await worker.result;
    expect(r.code).toBe(0);
    expectNoCredentials(r);
    const { stdout } = parseLines(r);
    expect(stdout[0]).toMatchObject({ event: 'worker-started', taskQueue: expect.stringMatching(/^logs-worker-/), storageEndpoint: testServers().minioEndpoint });
    expect(stdout.at(-1)).toMatchObject({ level: 'info', event: 'worker-stopped', msg: 'worker stopped' });
  });
});

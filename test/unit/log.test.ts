import { resolveLogSettings } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { createLog, REDACTED, reportTo, type LogSettings } from '../../src/telemetry/log';
import { createLogger } from '../../src/telemetry/runtime';

const NOW = new Date('2024-05-01T12:00:00.000Z');

/** A log writing into two arrays of lines instead of the process' streams. */
function capture(settings: LogSettings) {
  const out = { stdout: [] as string[], stderr: [] as string[] };
  const sink = (lines: string[]) => ({ write: (text: string) => lines.push(...text.split('\n').slice(0, -1)) });
  const log = createLog(settings, { stdout: sink(out.stdout), stderr: sink(out.stderr) }, () => NOW);
  return { log, out, json: () => [...out.stdout, ...out.stderr].map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('pretty logs', () => {
  it("print today's lines: info on stdout, warnings and errors on stderr saying so", () => {
    const { log, out } = capture({ format: 'pretty', level: 'info' });
    log.info('worker stopped', { event: 'worker-stopped' });
    log.warn('credentials given on the command line', { event: 'x' });
    log.error('source directory /x does not exist', { exitCode: 2 });
    expect(out).toEqual({
      stdout: ['pushcache: worker stopped'],
      stderr: ['pushcache: warning: credentials given on the command line', 'pushcache: error: source directory /x does not exist'],
    });
  });

  it("keep a job's report on stdout, warnings included, and honour a line's own text and stream", () => {
    const { log, out } = capture({ format: 'pretty', level: 'info' });
    const report = reportTo(log);
    report('published app: 3 files', { event: 'published', files: 3 });
    report('namespace lacks search attributes', { event: 'search-attributes-missing', level: 'warn' });
    reportTo(log, '  ')('uploading', { event: 'progress' });
    log.write({ level: 'warn', msg: 'stopped by SIGTERM', pretty: 'pushcache: stopped by SIGTERM' });
    log.write({ level: 'debug', msg: 'sdk line', pretty: 'sdk text', prettyStream: 'stderr' });
    expect(out).toEqual({
      stdout: ['pushcache: published app: 3 files', 'pushcache: warning: namespace lacks search attributes', '  uploading'],
      stderr: ['pushcache: stopped by SIGTERM'],
    });
  });
});

describe('json logs', () => {
  it('write one object per line with time, level, msg first and the fields after', () => {
    const { log, out, json } = capture({ format: 'json', level: 'info' });
    log.info('published', { event: 'published', app: 'app', files: 3, bytes: 10, absent: undefined });
    log.error('failed', { exitCode: 1 });
    expect(out.stdout).toEqual(['{"time":"2024-05-01T12:00:00.000Z","level":"info","msg":"published","event":"published","app":"app","files":3,"bytes":10}']);
    expect(json()[1]).toEqual({ time: NOW.toISOString(), level: 'error', msg: 'failed', exitCode: 1 });
    expect(out.stderr).toHaveLength(1);
  });

  it('never let a field replace time, level or msg, and ignore the pretty text and stream', () => {
    const { log, out, json } = capture({ format: 'json', level: 'info' });
    log.write({ level: 'warn', msg: 'real', fields: { msg: 'fake', level: 'info', time: 'then', n: 1 }, pretty: 'text', prettyStream: 'stdout' });
    expect(out.stdout).toEqual([]);
    expect(json()).toEqual([{ time: NOW.toISOString(), level: 'warn', msg: 'real', n: 1 }]);
  });

  it("turn a job's warning into a warn event with the report's fields", () => {
    const { log, json } = capture({ format: 'json', level: 'info' });
    reportTo(log)('the build is published but pruning app failed: boom', { event: 'prune-failed', level: 'warn', app: 'app' });
    expect(json()).toEqual([{ time: NOW.toISOString(), level: 'warn', msg: 'the build is published but pruning app failed: boom', event: 'prune-failed', app: 'app' }]);
  });

  it('make bigints, errors, dates and cycles printable', () => {
    const { log, json } = capture({ format: 'json', level: 'info' });
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    log.info('m', { big: 10n, err: new TypeError('bad'), at: NOW, cycle });
    expect(json()[0]).toMatchObject({ big: '10', err: { name: 'TypeError', message: 'bad' }, at: NOW.toISOString(), cycle: { a: 1, self: '[...]' } });
  });
});

describe('levels', () => {
  it.each([
    ['debug', ['d', 'i', 'w', 'e']],
    ['info', ['i', 'w', 'e']],
    ['warn', ['w', 'e']],
    ['error', ['e']],
  ] as const)('%s drops the lines below it, in both formats', (level, kept) => {
    for (const format of ['pretty', 'json'] as const) {
      const { log, out } = capture({ format, level });
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
      const msgs = [...out.stdout, ...out.stderr].map((l) => (format === 'json' ? (JSON.parse(l) as { msg: string }).msg : l.split(': ').at(-1)));
      expect({ format, msgs }).toEqual({ format, msgs: kept });
    }
  });
});

describe('redaction', () => {
  it('writes no value of a field whose name looks secret, at any depth', () => {
    const { log, out, json } = capture({ format: 'json', level: 'info' });
    const storage = { endpoint: 'http://minio:9000', credentials: { accessKeyId: 'AKIAEXAMPLEID', secretAccessKey: 'wJalrEXAMPLESECRET' } };
    const connection = { address: 't:7233', apiKey: 'api-key-value', tls: { clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('PRIVATE') } }, metadata: { authorization: 'Bearer tok' } };
    log.info('settings', {
      storage,
      connection,
      secretAccessKey: 'wJalrEXAMPLESECRET',
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEID',
      password: 'pw-value',
      sessionToken: 'session-value',
      list: [{ token: 'list-token' }],
      app: 'kept',
    });
    const text = out.stdout.join('\n');
    for (const secret of ['AKIAEXAMPLEID', 'wJalrEXAMPLESECRET', 'api-key-value', 'PRIVATE', 'Bearer tok', 'pw-value', 'session-value', 'list-token']) {
      expect(text).not.toContain(secret);
    }
    expect(json()[0]).toMatchObject({
      app: 'kept',
      storage: { endpoint: 'http://minio:9000', credentials: REDACTED },
      connection: { address: 't:7233', apiKey: REDACTED, tls: REDACTED, metadata: REDACTED },
      password: REDACTED,
      list: [{ token: REDACTED }],
    });
  });
});

describe("the Temporal SDK's lines", () => {
  it('go through the same log: JSON in json mode, stamped with their own time', () => {
    const { log, out, json } = capture({ format: 'json', level: 'info' });
    const sdk = createLogger(log, 'WARN');
    sdk.info('dropped below the SDK level');
    sdk.warn('Workflow task failed', { workflowId: 'publish/app/img', attempt: 2, apiKey: 'k' });
    expect(out.stdout).toEqual([]);
    expect(json()).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'Workflow task failed', logger: 'temporal', workflowId: 'publish/app/img', attempt: 2, apiKey: REDACTED }),
    ]);
    expect(Date.parse(json()[0].time as string)).toBeGreaterThan(NOW.getTime());
  });

  it('say a failed activity attempt in one line, without its task token or stack', () => {
    const { log, out } = capture({ format: 'pretty', level: 'info' });
    const error = new Error('write data/app/a.js failed: the object store did not answer');
    createLogger(log, 'WARN').warn('Activity failed', { activityType: 'uploadBatch', attempt: 3, workflowId: 'publish/app/img', taskToken: 'Q2lSa1lX', error });
    expect(out.stderr).toHaveLength(1);
    expect(out.stderr[0]).toMatch(/\[WARN\] activity uploadBatch attempt 3 failed: write data\/app\/a.js failed: the object store did not answer$/);
    expect(out.stderr[0]).not.toContain('Q2lSa1lX');
  });

  it("say an activity's own line in one line in pretty mode, without its task token", () => {
    const { log, out } = capture({ format: 'pretty', level: 'info' });
    const context = { sdkComponent: 'activity', taskQueue: 'pushcache-files/publish/b/app/img', taskToken: 'Q2lSa1lX', activityType: 'checkReferences', workflowId: 'publish/b/app/img', attempt: 1 };
    createLogger(log, 'WARN').warn('the entry files of the build of app have 1 parts that could not be read', context);
    expect(out.stderr).toEqual([expect.stringMatching(/\[WARN\] the entry files of the build of app have 1 parts that could not be read \(checkReferences of publish\/b\/app\/img\)$/)]);
  });

  it('redact secret-looking fields of any other line in pretty mode too', () => {
    const { log, out } = capture({ format: 'pretty', level: 'info' });
    createLogger(log, 'WARN').warn('Workflow task failed', { workflowId: 'publish/app/img', apiKey: 'k-value', taskToken: 'Q2lSa1lX' });
    expect(out.stderr).toHaveLength(1);
    expect(out.stderr[0]).toContain("workflowId: 'publish/app/img'");
    expect(out.stderr[0]).not.toMatch(/k-value|Q2lSa1lX/);
  });

  it('keep their text on stderr in pretty mode, whatever their level', () => {
    const { log, out } = capture({ format: 'pretty', level: 'debug' });
    createLogger(log, 'DEBUG').debug('polling', { taskQueue: 'q' });
    expect(out.stdout).toEqual([]);
    expect(out.stderr).toEqual([expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z \[DEBUG\] polling \{ taskQueue: 'q' \}$/)]);
  });
});

describe('resolveLogSettings', () => {
  it('defaults to pretty at info, with the SDK at WARN as before', () => {
    expect(resolveLogSettings({}, {})).toEqual({ format: 'pretty', level: 'info', sdkLevel: 'WARN' });
  });

  it('takes flags over the environment, in any case, and gives the SDK the same level', () => {
    expect(resolveLogSettings({}, { PUSHCACHE_LOG_FORMAT: 'JSON', PUSHCACHE_LOG_LEVEL: 'DEBUG' })).toEqual({ format: 'json', level: 'debug', sdkLevel: 'DEBUG' });
    expect(resolveLogSettings({ logFormat: 'pretty', logLevel: 'error' }, { PUSHCACHE_LOG_FORMAT: 'json', PUSHCACHE_LOG_LEVEL: 'debug' })).toEqual({
      format: 'pretty',
      level: 'error',
      sdkLevel: 'ERROR',
    });
  });

  it('reports every problem at once', () => {
    const err = (() => {
      try {
        resolveLogSettings({ logFormat: 'xml', logLevel: 'loud' }, {});
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/--log-format must be 'pretty' or 'json'.*--log-level must be/);
  });
});

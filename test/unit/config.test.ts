import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolvePublishSettings, resolveStorageSettings, resolveTemporalSettings } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('storage settings', () => {
  it('defaults to a local MinIO and the frontend bucket', () => {
    expect(resolveStorageSettings({}, {})).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      bucket: 'frontend',
      region: 'us-east-1',
      credentials: undefined,
      credentialSource: 'the AWS default credential chain',
      timeouts: { connectMs: 10_000, requestMs: 30_000 },
    });
  });

  it('reads the store deadlines from flags or PUSHCACHE_AWS_*_TIMEOUT, flags first', () => {
    expect(resolveStorageSettings({ connectTimeout: '500ms', requestTimeout: '2m' }, {}).timeouts).toEqual({ connectMs: 500, requestMs: 120_000 });
    expect(resolveStorageSettings({}, { PUSHCACHE_AWS_CONNECT_TIMEOUT: '3s', PUSHCACHE_AWS_REQUEST_TIMEOUT: '45s' }).timeouts).toEqual({ connectMs: 3000, requestMs: 45_000 });
    expect(resolveStorageSettings({ requestTimeout: '5s' }, { PUSHCACHE_AWS_REQUEST_TIMEOUT: '45s' }).timeouts.requestMs).toBe(5000);
    expect(() => resolveStorageSettings({ connectTimeout: '10', requestTimeout: '0s' }, {})).toThrow(
      /--connect-timeout must look like 500ms, 10s or 2m; --request-timeout must be more than 0/,
    );
  });

  it('builds the endpoint from -a/-p and uses TLS on 443', () => {
    expect(resolveStorageSettings({ hostname: 'minio.svc', port: '9000' }, {}).endpoint).toBe('http://minio.svc:9000');
    expect(resolveStorageSettings({ hostname: 's3.example', port: '443' }, {}).endpoint).toBe('https://s3.example:443');
    expect(resolveStorageSettings({ hostname: 'h', port: '443', scheme: 'http' }, {}).endpoint).toBe('http://h:443');
    expect(resolveStorageSettings({ endpoint: 'https://x.example/', hostname: 'ignored' }, {}).endpoint).toBe('https://x.example');
  });

  it("falls back to the operator's PUSHCACHE_AWS_* settings", () => {
    const s = resolveStorageSettings(
      {},
      {
        PUSHCACHE_AWS_ENDPOINT: 'minio.ns.svc',
        PUSHCACHE_AWS_PORT: '443',
        PUSHCACHE_AWS_BUCKET_NAME: 'assets',
        PUSHCACHE_AWS_REGION: 'eu-west-1',
        PUSHCACHE_AWS_ACCESS_KEY_ID: 'AK',
        PUSHCACHE_AWS_SECRET_ACCESS_KEY: 'SK',
      },
    );
    expect(s).toMatchObject({
      endpoint: 'https://minio.ns.svc:443',
      bucket: 'assets',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
      credentialSource: 'PUSHCACHE_AWS_* environment',
    });
  });

  it('lets flags win over the environment', () => {
    const s = resolveStorageSettings(
      { username: 'u', password: 'p', bucket: 'b-flag' },
      { PUSHCACHE_AWS_ACCESS_KEY_ID: 'AK', PUSHCACHE_AWS_SECRET_ACCESS_KEY: 'SK', PUSHCACHE_AWS_BUCKET_NAME: 'b-env' },
    );
    expect(s.credentials).toEqual({ accessKeyId: 'u', secretAccessKey: 'p' });
    expect(s.bucket).toBe('b-flag');
  });

  it('reports every problem at once and never echoes the secret', () => {
    let error: ConfigError | undefined;
    try {
      resolveStorageSettings({ mode: 'valkey', port: 'x', bucket: 'Bad_Bucket', password: 'hunter2-secret' }, {});
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toHaveLength(4);
    expect(error!.message).toMatch(/mode/);
    expect(error!.message).toMatch(/port/);
    expect(error!.message).toMatch(/bucket/);
    expect(error!.message).toMatch(/credentials are incomplete/);
    expect(error!.message).not.toContain('hunter2-secret');
  });
});

describe('endpoint credentials', () => {
  it('refuses an endpoint URL that carries credentials, since endpoints are logged', () => {
    expect(() => resolveStorageSettings({ endpoint: 'https://key:secret@minio.example:9000' }, {})).toThrow(/must not contain credentials/);
  });
});

describe('temporal settings', () => {
  it('reads TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE, flags first', () => {
    expect(resolveTemporalSettings({}, { TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'fe' })).toEqual({
      address: 'temporal:7233',
      namespace: 'fe',
      taskQueue: 'pushcache',
      uiUrl: undefined,
    });
    expect(resolveTemporalSettings({ temporalAddress: 'a:1' }, { TEMPORAL_ADDRESS: 'b:2' }).address).toBe('a:1');
    expect(() => resolveTemporalSettings({ temporalAddress: 'no-port' }, {})).toThrow(/host:port/);
  });

  describe('with a TOML profile file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-envconfig-'));
    const file = path.join(dir, 'temporal.toml');
    writeFileSync(path.join(dir, 'ca.pem'), 'CA PEM');
    writeFileSync(
      file,
      ['[profile.default]', 'address = "default.example:7233"', '[profile.cloud]', 'address = "ns.acct.tmprl.cloud:7233"', 'namespace = "ns.acct"', 'api_key = "from-toml"', ''].join('\n'),
    );

    it('takes the default profile, or the one named by TEMPORAL_PROFILE or --temporal-profile', () => {
      expect(resolveTemporalSettings({}, { TEMPORAL_CONFIG_FILE: file }).address).toBe('default.example:7233');
      const cloud = resolveTemporalSettings({}, { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
      expect(cloud).toMatchObject({ address: 'ns.acct.tmprl.cloud:7233', namespace: 'ns.acct', connection: { apiKey: 'from-toml', tls: true } });
      expect(resolveTemporalSettings({ temporalProfile: 'cloud', temporalConfigFile: file }, {}).namespace).toBe('ns.acct');
    });

    it('lets the environment override the file and flags override both', () => {
      const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud', TEMPORAL_API_KEY: 'from-env', TEMPORAL_NAMESPACE: 'env-ns' };
      expect(resolveTemporalSettings({}, env)).toMatchObject({ namespace: 'env-ns', connection: { apiKey: 'from-env' } });
      const keyFile = path.join(dir, 'key');
      writeFileSync(keyFile, 'from-file\n');
      expect(resolveTemporalSettings({ namespace: 'flag-ns', temporalApiKeyFile: keyFile }, env)).toMatchObject({ namespace: 'flag-ns', connection: { apiKey: 'from-file' } });
    });

    it('reports a profile that does not exist and a config file that does not exist', () => {
      expect(() => resolveTemporalSettings({ temporalProfile: 'nope', temporalConfigFile: file }, {})).toThrow(/Temporal configuration: Profile 'nope' not found/);
      expect(() => resolveTemporalSettings({ temporalConfigFile: path.join(dir, 'missing.toml') }, {})).toThrow(/--temporal-config-file .* does not exist/);
    });

    it('turns TLS on with any TLS flag and loads the CA file', () => {
      const settings = resolveTemporalSettings({ temporalTlsCa: path.join(dir, 'ca.pem'), temporalTlsServerName: 'temporal.internal' }, {});
      expect(settings.connection?.tls).toEqual({ serverRootCACertificate: Buffer.from('CA PEM'), serverNameOverride: 'temporal.internal', clientCertPair: undefined });
      // TLS with the system's trusted roots, as for Temporal Cloud.
      expect(resolveTemporalSettings({ temporalTls: true }, {}).connection?.tls).toEqual({ serverNameOverride: undefined, serverRootCACertificate: undefined, clientCertPair: undefined });
      expect(resolveTemporalSettings({}, {}).connection).toBeUndefined();
      expect(resolveTemporalSettings({}, { TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' }).connection).toEqual({ apiKey: 'k', tls: false });
    });
  });
});

describe('publish settings', () => {
  it("applies valpop's defaults", () => {
    expect(resolvePublishSettings({ source: '/assets', prefix: 'app' })).toMatchObject({
      source: '/assets',
      app: 'app',
      image: '',
      timeout: 30,
      minAssetRecords: 3,
      cacheMaxAge: 86400,
    });
  });

  it.each([
    [{ prefix: 'app' }, /-s\/--source is required/],
    [{ source: '/a' }, /-r\/--prefix .* is required/],
    [{ source: '/a', prefix: '../x' }, /not allowed/],
    [{ source: '/a', prefix: '' }, /empty/],
    [{ source: '/a', prefix: 'a/b' }, /not allowed/],
    [{ source: '/a', prefix: 'a', minAssetRecords: '-1' }, /min-asset-records/],
    [{ source: '/a', prefix: 'a', heartbeatTimeout: 'soon' }, /heartbeat-timeout/],
  ])('rejects %j', (options, message) => {
    expect(() => resolvePublishSettings(options)).toThrow(ConfigError);
    expect(() => resolvePublishSettings(options)).toThrow(message);
  });
});

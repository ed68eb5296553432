import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, type CliResult } from '../helpers/cli';
import { jobEnv, listKeys, newBucket, openTestStorage, startHarness, testServers, type Harness } from '../helpers/servers';
import { makeCertificates, startGrpcTlsProxy, type Certificates, type GrpcTlsProxy } from '../helpers/tls';
import { copyExample } from '../helpers/trees';

jest.setTimeout(120_000);

// The shared worker talks to the dev server directly; the Job goes through nginx terminating
// TLS, as it would through an ingress or to Temporal Cloud.
const API_KEY = 'pc-test-api-key-7f3a9c';
let harness: Harness;
let certs: Certificates;
let proxy: GrpcTlsProxy;
let bucket: string;

beforeAll(async () => {
  harness = await startHarness();
  certs = makeCertificates();
  proxy = await startGrpcTlsProxy(testServers().temporalAddress, certs, API_KEY);
  bucket = await newBucket('tls');
});
afterAll(async () => {
  await proxy?.stop();
  await harness?.close();
});

/** A Job's environment without TEMPORAL_ADDRESS, which each test sets (or a profile supplies). */
function storageEnv(): Record<string, string> {
  const { TEMPORAL_ADDRESS: _direct, ...env } = jobEnv(harness.taskQueue, bucket);
  return env;
}

function populate(app: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCli(['populate', '-s', copyExample(), '-r', app, '-i', `img-${app}`, ...args], { ...storageEnv(), ...env });
}

async function expectPublished(r: CliResult, app: string): Promise<void> {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`published ${app}: 22 files`));
  expect(await listKeys(openTestStorage(bucket), `manifests/${app}/`)).toHaveLength(1);
}

describe('connecting to Temporal over TLS', () => {
  it("publishes over TLS with a private CA given the way Temporal's own tools take it (TEMPORAL_* variables)", async () => {
    const r = await populate('tls-env', [], { TEMPORAL_ADDRESS: proxy.tlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca });
    await expectPublished(r, 'tls-env');
  });

  it('publishes over mTLS with a client certificate given as flags', async () => {
    const r = await populate(
      'mtls-flags',
      ['--temporal-address', proxy.mtlsAddress, '--temporal-tls-ca', certs.ca, '--temporal-tls-cert', certs.clientCert, '--temporal-tls-key', certs.clientKey],
      {},
    );
    await expectPublished(r, 'mtls-flags');
  });

  it('reads a profile of the TOML config file', async () => {
    const file = path.join(certs.dir, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.prod]',
        `address = "${proxy.mtlsAddress}"`,
        'namespace = "default"',
        '[profile.prod.tls]',
        `server_ca_cert_path = "${certs.ca}"`,
        `client_cert_path = "${certs.clientCert}"`,
        `client_key_path = "${certs.clientKey}"`,
        '',
      ].join('\n'),
    );
    const r = await populate('mtls-profile', ['--temporal-profile', 'prod'], { TEMPORAL_CONFIG_FILE: file });
    await expectPublished(r, 'mtls-profile');
  });

  it('sends an API key from the environment or a file, and never prints it', async () => {
    const fromEnv = await populate('api-key-env', [], { TEMPORAL_ADDRESS: proxy.apiKeyAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca, TEMPORAL_API_KEY: API_KEY });
    await expectPublished(fromEnv, 'api-key-env');

    const keyFile = path.join(certs.dir, 'api-key');
    writeFileSync(keyFile, `${API_KEY}\n`);
    const fromFile = await populate('api-key-file', ['--temporal-api-key-file', keyFile, '--temporal-tls-ca', certs.ca], { TEMPORAL_ADDRESS: proxy.apiKeyAddress });
    await expectPublished(fromFile, 'api-key-file');

    const wrong = await populate('api-key-wrong', [], { TEMPORAL_ADDRESS: proxy.apiKeyAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca, TEMPORAL_API_KEY: 'not-the-key' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^pushcache: error: cannot reach Temporal at 127\.0\.0\.1:\d+ over TLS/);
    for (const r of [fromEnv, fromFile, wrong]) {
      expect(r.stdout + r.stderr).not.toContain(API_KEY);
      expect(r.stdout + r.stderr).not.toContain('not-the-key');
    }
  });

  it('fails fast with a clear reason when the CA is wrong', async () => {
    const r = await populate('tls-wrong-ca', [], { TEMPORAL_ADDRESS: proxy.tlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.otherCa });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:\d+ over TLS .*--temporal-tls-ca/);
    expect(await listKeys(openTestStorage(bucket), 'manifests/tls-wrong-ca/')).toHaveLength(0);
  });

  it('fails fast with a clear reason when the server requires a client certificate and none is given', async () => {
    const r = await populate('mtls-no-cert', ['--temporal-address', proxy.mtlsAddress, '--temporal-tls-ca', certs.ca], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:\d+ over TLS .*client certificate/);
  });

  it('refuses a client certificate without its key, and a TLS file that does not exist, as bad input', async () => {
    const halfPair = await populate('mtls-half', ['--temporal-address', proxy.mtlsAddress, '--temporal-tls-cert', certs.clientCert], {});
    expect(halfPair.code).toBe(2);
    expect(halfPair.stderr).toMatch(/a TLS client certificate needs its key/);
    const missing = await populate('tls-missing', [], { TEMPORAL_ADDRESS: proxy.tlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca.pem' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Temporal TLS: .*\/nonexistent\/ca\.pem/);
  });
});

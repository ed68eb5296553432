import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { ensureBucket, startMinio, type MinioServer } from '../../src/dev/minio-server';
import { freePort } from '../../src/dev/process';
import { createS3Client, S3Storage } from '../../src/storage/s3';
import { runCli, type CliResult } from '../helpers/cli';
import { listKeys, startHarness, testServers, type Harness } from '../helpers/servers';
import { makeCertificates, type Certificates } from '../helpers/tls';
import { copyExample } from '../helpers/trees';

jest.setTimeout(120_000);

// A second MinIO that serves https with a certificate from a private CA, and encrypts with a
// built-in KMS key so that SSE-S3 and SSE-KMS can be asked for.
const KMS_KEY = 'pushcache-test-key';
const BUCKET = 'tls-bucket';
let certs: Certificates;
let minio: MinioServer;
let harness: Harness;

const credentials = () => testServers().credentials;
const openTls = (bucket: string) =>
  S3Storage.open({ endpoint: minio.endpoint, bucket, credentials: credentials(), caCertificates: [readFileSync(certs.ca, 'utf8')] });

beforeAll(async () => {
  certs = makeCertificates();
  const certsDir = path.join(certs.dir, 'minio-certs');
  mkdirSync(certsDir);
  copyFileSync(certs.serverCert, path.join(certsDir, 'public.crt'));
  copyFileSync(certs.serverKey, path.join(certsDir, 'private.key'));
  minio = await startMinio({
    port: await freePort(),
    consolePort: await freePort(),
    dataDir: path.join(certs.dir, 'minio-data'),
    logDir: certs.dir,
    ...credentials(),
    tls: { certsDir, ca: readFileSync(certs.ca, 'utf8') },
    env: { MINIO_KMS_SECRET_KEY: `${KMS_KEY}:${randomBytes(32).toString('base64')}` },
  });
  const client = createS3Client({ endpoint: minio.endpoint, bucket: BUCKET, credentials: credentials(), caCertificates: [readFileSync(certs.ca, 'utf8')] });
  await ensureBucket(client, BUCKET);
  client.destroy();
  // The shared worker writes manifests and deletes for prunes, so it talks to the same https store.
  harness = await startHarness({ openStorage: openTls });
});
afterAll(async () => {
  await harness?.close();
  await minio?.process.stop();
});

function cli(args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, {
    TEMPORAL_ADDRESS: testServers().temporalAddress,
    PUSHCACHE_TASK_QUEUE: harness.taskQueue,
    PUSHCACHE_AWS_ENDPOINT: minio.endpoint,
    PUSHCACHE_AWS_BUCKET_NAME: BUCKET,
    PUSHCACHE_AWS_ACCESS_KEY_ID: credentials().accessKeyId,
    PUSHCACHE_AWS_SECRET_ACCESS_KEY: credentials().secretAccessKey,
    ...extra,
  });
}

async function head(key: string) {
  const client = createS3Client({ endpoint: minio.endpoint, bucket: BUCKET, credentials: credentials(), caCertificates: [readFileSync(certs.ca, 'utf8')] });
  try {
    const out = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    const body = await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray();
    return { sse: out.ServerSideEncryption, kmsKeyId: out.SSEKMSKeyId, body: Buffer.from(body) };
  } finally {
    client.destroy();
  }
}

describe('an https object store signed by a private CA', () => {
  it('publishes with --ca-bundle and SSE-S3, every object encrypted and byte-equal', async () => {
    const source = copyExample();
    const r = await cli(['populate', '-s', source, '-r', 'tls-app', '-i', 'img:1', '--ca-bundle', certs.ca, '--sse', 'AES256']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Small files go up as directly signed PUTs, larger ones through the SDK: check both kinds.
    for (const file of ['fed-mods.json', 'index.html']) {
      const object = await head(`data/tls-app/${file}`);
      expect(object.sse).toBe('AES256');
      expect(object.body.equals(readFileSync(path.join(source, file)))).toBe(true);
    }
    const [manifest] = await listKeys(openTls(BUCKET), 'manifests/tls-app/');
    expect((await head(manifest)).body.toString()).toContain('"image":"img:1"');
  });

  it('asks for SSE-KMS with a key id (AWS_CA_BUNDLE names the CA, as for the AWS CLI)', async () => {
    const r = await cli(['populate', '-s', copyExample(), '-r', 'kms-app', '-i', 'img:1', '--sse', 'aws:kms', '--sse-kms-key-id', KMS_KEY], { AWS_CA_BUNDLE: certs.ca });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const object = await head('data/kms-app/fed-mods.json');
    expect(object.sse).toBe('aws:kms');
    expect(object.kmsKeyId).toContain(KMS_KEY);
  });

  it('prunes over https', async () => {
    await cli(['populate', '-s', copyExample(), '-r', 'tls-prune', '-i', 'img:1', '--ca-bundle', certs.ca, '--no-prune']);
    expect((await listKeys(openTls(BUCKET), 'data/tls-prune/')).length).toBeGreaterThan(0);
    // Manifest timestamps are whole seconds; be sure this one is older than -t 0.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const r = await cli(['prune', '-r', 'tls-prune', '-t', '0', '-n', '0', '--orphan-grace', '0', '--ca-bundle', certs.ca]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deleted 1 of 1 builds, 20 objects of those builds/);
    // A prune never deletes the app's entry point, nor what the live entry files are (docs/design.md, "How pruning works").
    expect(await listKeys(openTls(BUCKET), 'data/tls-prune/')).toEqual(['data/tls-prune/fed-mods.json', 'data/tls-prune/index.html']);
    expect(await listKeys(openTls(BUCKET), 'manifests/tls-prune/')).toEqual([]);
  });

  it("fails fast, before writing anything, when the store's CA is not trusted", async () => {
    const r = await cli(['populate', '-s', copyExample(), '-r', 'untrusted', '-i', 'img:1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/the TLS connection failed: trust the CA that signed the store's certificate with --ca-bundle/);
    expect(await listKeys(openTls(BUCKET), 'data/untrusted/')).toEqual([]);
  });

  it('refuses a CA bundle that is not PEM, and --sse-kms-key-id without aws:kms, as bad input', async () => {
    const notPem = await cli(['populate', '-s', copyExample(), '-r', 'bad-ca', '--ca-bundle', path.join(certs.dir, 'server.ext')]);
    expect(notPem.code).toBe(2);
    expect(notPem.stderr).toMatch(/holds no PEM certificate/);
    const keyWithoutKms = await cli(['populate', '-s', copyExample(), '-r', 'bad-sse', '--sse', 'AES256', '--sse-kms-key-id', 'k']);
    expect(keyWithoutKms.code).toBe(2);
    expect(keyWithoutKms.stderr).toMatch(/--sse-kms-key-id needs --sse aws:kms/);
  });
});

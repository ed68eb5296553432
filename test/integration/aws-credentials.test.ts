import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBucket, startMinio, type MinioServer } from '../../src/dev/minio-server';
import { freePort } from '../../src/dev/process';
import { createS3Client, S3Storage } from '../../src/storage/s3';
import { runCli, type CliResult } from '../helpers/cli';
import { listKeys, newBucket, openTestStorage, startHarness, testServers, type Harness } from '../helpers/servers';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc';
import { copyExample } from '../helpers/trees';

jest.setTimeout(120_000);

// With no PUSHCACHE_AWS_* keys and no -u/-c, the AWS SDK's default credential chain is used,
// so whatever the pod has (environment, a profile, a web identity token) works unchanged.
let harness: Harness;
let bucket: string;
beforeAll(async () => {
  harness = await startHarness();
  bucket = await newBucket('chain');
});
afterAll(async () => harness?.close());

function populate(app: string, env: Record<string, string>, endpoint = testServers().minioEndpoint, target = bucket, taskQueue = harness.taskQueue): Promise<CliResult> {
  return runCli(['populate', '-s', copyExample(), '-r', app, '-i', `img-${app}`, '--no-prune'], {
    TEMPORAL_ADDRESS: testServers().temporalAddress,
    PUSHCACHE_TASK_QUEUE: taskQueue,
    PUSHCACHE_AWS_ENDPOINT: endpoint,
    PUSHCACHE_AWS_BUCKET_NAME: target,
    AWS_EC2_METADATA_DISABLED: 'true',
    ...env,
  });
}

describe('the AWS default credential chain', () => {
  it('uses AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment', async () => {
    const { credentials } = testServers();
    const r = await populate('chain-env', { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await listKeys(openTestStorage(bucket), 'manifests/chain-env/')).toHaveLength(1);
  });

  it('uses a named profile of the shared credentials file', async () => {
    const { credentials } = testServers();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-aws-'));
    writeFileSync(path.join(dir, 'credentials'), `[deploy]\naws_access_key_id = ${credentials.accessKeyId}\naws_secret_access_key = ${credentials.secretAccessKey}\n`);
    writeFileSync(path.join(dir, 'config'), '[profile deploy]\nregion = us-east-1\n');
    const r = await populate('chain-profile', {
      AWS_PROFILE: 'deploy',
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
      AWS_CONFIG_FILE: path.join(dir, 'config'),
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await listKeys(openTestStorage(bucket), 'manifests/chain-profile/')).toHaveLength(1);
  });

  it('reports refused credentials from the chain as such', async () => {
    const r = await populate('chain-wrong', { AWS_ACCESS_KEY_ID: 'nobody', AWS_SECRET_ACCESS_KEY: 'wrong-secret-value' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/credentials were refused/);
    expect(r.stdout + r.stderr).not.toContain('wrong-secret-value');
  });

  describe('with a web identity token (IRSA, EKS pod identity)', () => {
    // A MinIO whose STS trusts a test OIDC issuer, as IAM trusts the cluster's.
    let issuer: OidcIssuer;
    let minio: MinioServer;
    let irsa: Harness;
    const IRSA_BUCKET = 'irsa';
    beforeAll(async () => {
      issuer = await startOidcIssuer();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-irsa-'));
      minio = await startMinio({
        port: await freePort(),
        consolePort: await freePort(),
        dataDir: path.join(dir, 'data'),
        logDir: dir,
        ...testServers().credentials,
        env: { MINIO_IDENTITY_OPENID_CONFIG_URL: issuer.configUrl, MINIO_IDENTITY_OPENID_CLIENT_ID: 'sts.amazonaws.com' },
      });
      const client = createS3Client({ endpoint: minio.endpoint, bucket: IRSA_BUCKET, credentials: testServers().credentials });
      await ensureBucket(client, IRSA_BUCKET);
      client.destroy();
      irsa = await startHarness({ openStorage: (b) => S3Storage.open({ endpoint: minio.endpoint, bucket: b, credentials: testServers().credentials }) });
    });
    afterAll(async () => {
      await irsa?.close();
      await minio?.process.stop();
      await issuer?.close();
    });

    it('exchanges the projected token for temporary credentials and publishes', async () => {
      const tokenFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'pushcache-token-')), 'token');
      writeFileSync(tokenFile, issuer.token({ sub: 'system:serviceaccount:frontends:pushcache', aud: 'sts.amazonaws.com', policy: 'readwrite' }));
      const r = await populate(
        'irsa-app',
        {
          AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
          AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/pushcache',
          AWS_ROLE_SESSION_NAME: 'pushcache-test',
          AWS_REGION: 'us-east-1',
          // STS is MinIO itself here; in AWS it is the regional STS endpoint.
          AWS_ENDPOINT_URL_STS: minio.endpoint,
        },
        minio.endpoint,
        IRSA_BUCKET,
        irsa.taskQueue,
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const storage = S3Storage.open({ endpoint: minio.endpoint, bucket: IRSA_BUCKET, credentials: testServers().credentials });
      expect(await listKeys(storage, 'manifests/irsa-app/')).toHaveLength(1);
      expect(r.stdout + r.stderr).not.toContain(readFileSync(tokenFile, 'utf8'));

      // The same with a token for another audience: STS refuses it, so the chain really was used.
      writeFileSync(tokenFile, issuer.token({ sub: 'system:serviceaccount:frontends:pushcache', aud: 'someone-else', policy: 'readwrite' }));
      const refused = await populate('irsa-refused', { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/pushcache', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_STS: minio.endpoint }, minio.endpoint, IRSA_BUCKET, irsa.taskQueue);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^pushcache: error: check bucket s3:\/\/irsa .* failed: .*Token/);
      expect(await listKeys(storage, 'manifests/irsa-refused/')).toHaveLength(0);
    });
  });
});

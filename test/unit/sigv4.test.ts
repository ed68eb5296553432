import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { canonicalQuery, SigV4Signer } from '../../src/storage/sigv4';

/** @smithy/signature-v4, as SignedPut used it before it signed by itself: the reference. */
class NodeSha256 {
  private readonly hash;
  // The signer passes strings and Uint8Arrays only.
  constructor(secret?: unknown) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret as string | Uint8Array);
  }
  update(data: unknown): void {
    this.hash.update(data as string | Uint8Array);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

async function reference(path: string, headers: Record<string, string>, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, region: string, at: Date) {
  const signer = new SignatureV4({ credentials, region, service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
  const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path, query: {}, headers }, { signingDate: at });
  return signed.headers as Record<string, string>;
}

describe('SigV4Signer', () => {
  const headers = {
    'content-type': 'text/javascript; charset=utf-8',
    'cache-control': 'public,  max-age=86400 ',
    'x-amz-meta-sha256': 'ab'.repeat(32),
    'if-none-match': '*',
    host: '127.0.0.1:9000',
    'content-length': '1234',
    'x-amz-content-sha256': 'cd'.repeat(32),
  };
  const path = '/bucket/data/app/a%20b%2Bc%281%29.js';

  it('signs a PUT exactly as @smithy/signature-v4 does, with and without a session token', async () => {
    const signer = new SigV4Signer('s3');
    for (const credentials of [
      { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      { accessKeyId: 'ASIA1', secretAccessKey: 'secret', sessionToken: 'token/with+chars=' },
    ]) {
      for (const at of [new Date('2026-12-01T17:59:59.123Z'), new Date('2026-12-02T00:00:01Z')]) {
        const mine = signer.sign('PUT', path, headers, credentials, 'us-east-1', at);
        const theirs = await reference(path, headers, credentials, 'us-east-1', at);
        expect(mine.authorization).toBe(theirs.authorization);
        expect(mine['x-amz-date']).toBe(theirs['x-amz-date']);
        expect(mine['x-amz-security-token']).toBe(theirs['x-amz-security-token']);
      }
    }
  });

  it('derives a new signing key when the day, region or secret changes', async () => {
    const signer = new SigV4Signer('s3');
    const at = new Date('2026-12-01T10:00:00Z');
    const a = { accessKeyId: 'A', secretAccessKey: 'one' };
    const b = { accessKeyId: 'A', secretAccessKey: 'two' };
    expect(signer.sign('PUT', path, headers, a, 'eu-west-1', at).authorization).toBe((await reference(path, headers, a, 'eu-west-1', at)).authorization);
    expect(signer.sign('PUT', path, headers, b, 'eu-west-1', at).authorization).toBe((await reference(path, headers, b, 'eu-west-1', at)).authorization);
    expect(signer.sign('PUT', path, headers, b, 'us-east-1', at).authorization).toBe((await reference(path, headers, b, 'us-east-1', at)).authorization);
  });

  it('signs a listing with its query string exactly as @smithy/signature-v4 does', async () => {
    const signer = new SigV4Signer('s3');
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    const at = new Date('2026-12-01T17:59:59Z');
    const query = { 'list-type': '2', prefix: "data/a b+c/(1)*!'/", 'continuation-token': '1/Ab+c==', 'encoding-type': 'url' };
    const get = { host: '127.0.0.1:9000', 'x-amz-content-sha256': EMPTY_SHA256 };
    const theirs = await new SignatureV4({ credentials, region: 'us-east-1', service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false }).sign(
      { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: '/bucket/', query, headers: get },
      { signingDate: at },
    );
    expect(canonicalQuery(query)).toBe('continuation-token=1%2FAb%2Bc%3D%3D&encoding-type=url&list-type=2&prefix=data%2Fa%20b%2Bc%2F%281%29%2A%21%27%2F');
    expect(signer.sign('GET', '/bucket/', get, credentials, 'us-east-1', at, canonicalQuery(query)).authorization).toBe((theirs.headers as Record<string, string>).authorization);
  });
});

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

import { createHmac, hash } from 'node:crypto';

/** sha256 of an empty body: requests without one (GET, CopyObject) sign it as their payload hash. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * AWS Signature Version 4 for one request: SignedPut's PUTs (no query string) and listings.
 * @smithy/signature-v4 is generic (any query, any body type, async hashing through a
 * constructor per digest) and derived the signing key anew for every request; a cold publish
 * signs 10,000 PUTs, so this keeps the key per day, region and secret and builds the canonical
 * request in one string. test/unit/sigv4.test.ts checks it against @smithy/signature-v4.
 */
export class SigV4Signer {
  private key: { scope: string; secret: string; inner: Buffer; outer: Buffer } | undefined;
  // x-amz-date has a resolution of one second: formatted once per second, not per request.
  private date: { second: number; amzDate: string } | undefined;

  constructor(private readonly service: string) {}

  /**
   * The headers to send: `headers` (names in lower case, `host` and `x-amz-content-sha256`
   * among them) plus x-amz-date, the session token if any, and authorization. Every header is
   * signed but those a proxy may change, as @smithy/signature-v4 leaves them out.
   */
  sign(method: string, path: string, headers: Record<string, string>, credentials: SigningCredentials, region: string, now = new Date(), query = ''): Record<string, string> {
    const amzDate = this.amzDate(now);
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${region}/${this.service}/aws4_request`;
    const out: Record<string, string> = { ...headers, 'x-amz-date': amzDate };
    if (credentials.sessionToken) out['x-amz-security-token'] = credentials.sessionToken;
    const names = Object.keys(out).filter((name) => !UNSIGNED.has(name)).sort();
    let canonical = `${method}\n${path}\n${query}\n`;
    for (const name of names) canonical += `${name}:${normalize(out[name])}\n`;
    const signedHeaders = names.join(';');
    canonical += `\n${signedHeaders}\n${out['x-amz-content-sha256']}`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash('sha256', canonical)}`;
    const key = this.signingKey(scope, day, region, credentials.secretAccessKey);
    // HMAC-SHA256 (RFC 2104) from the key's padded blocks, with one-shot hashes: a cold publish
    // signs one PUT per file, and a Hmac object per request cost more than the two digests.
    const inner = hash('sha256', Buffer.concat([key.inner, Buffer.from(stringToSign)]), 'buffer');
    const signature = hash('sha256', Buffer.concat([key.outer, inner]));
    out.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return out;
  }

  private amzDate(now: Date): string {
    const second = Math.floor(now.getTime() / 1000);
    if (this.date?.second !== second) this.date = { second, amzDate: now.toISOString().replace(/[-:]|\.\d{3}/g, '') };
    return this.date.amzDate;
  }

  /** The signing key of the day, region and secret, as the inner and outer HMAC blocks (key XOR ipad, key XOR opad). */
  private signingKey(scope: string, day: string, region: string, secret: string): { inner: Buffer; outer: Buffer } {
    if (this.key?.scope === scope && this.key.secret === secret) return this.key;
    const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), this.service), 'aws4_request');
    // A 32-byte key is shorter than SHA-256's 64-byte block: zero-padded, then XORed.
    const inner = Buffer.alloc(64, 0x36);
    const outer = Buffer.alloc(64, 0x5c);
    for (let i = 0; i < key.length; i++) {
      inner[i] ^= key[i];
      outer[i] ^= key[i];
    }
    this.key = { scope, secret, inner, outer };
    return this.key;
  }
}

/**
 * A query string in SigV4's canonical form, which is also a valid one to send: names sorted,
 * names and values percent-encoded per RFC 3986.
 */
export function canonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((name) => `${rfc3986(name)}=${rfc3986(params[name])}`)
    .join('&');
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// @smithy/signature-v4's ALWAYS_UNSIGNABLE_HEADERS.
const UNSIGNED = new Set([
  'authorization',
  'cache-control',
  'connection',
  'expect',
  'from',
  'keep-alive',
  'max-forwards',
  'pragma',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-amzn-trace-id',
]);

/** SigV4's canonical header value: trimmed, runs of spaces made one. */
function normalize(value: string): string {
  return value.includes('  ') ? value.trim().replace(/\s+/g, ' ') : value.trim();
}

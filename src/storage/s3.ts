import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import pMap from 'p-map';
import type { ServerSideEncryption } from '../config';
import { StorageError, type StorageFailureKind } from '../errors';
import { PART_SIZE } from './etag';
import { SIGNED_PUT_ATTEMPTS, SignedPut } from './signed-put';
import type { ObjectBody, ObjectInfo, ObjectStream, ReadableStorage, WriteOptions } from './storage';

export interface S3StorageOptions {
  /** Full endpoint URL, e.g. `http://127.0.0.1:9000`; undefined means AWS S3 for `region`. */
  endpoint?: string;
  bucket: string;
  /** Any string works for MinIO; AWS needs the bucket's region. Default `us-east-1`. */
  region?: string;
  /** Undefined uses the AWS SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style addressing; MinIO needs it. Default true when an endpoint is given. */
  forcePathStyle?: boolean;
  /** Sockets kept open to the store; shared by every upload of the process. Default 64. */
  maxSockets?: number;
  /** Part size of multipart uploads, and the size from which a file is uploaded in parts. Default 8 MiB. */
  partSize?: number;
  /** PEM certificates trusted besides Node's roots, for an https endpoint signed by a private CA. */
  caCertificates?: string[];
  /** Server-side encryption asked for on every write. */
  serverSideEncryption?: ServerSideEncryption;
}

// DeleteObjects refuses more than 1,000 keys in one call.
const MAX_BULK_DELETE = 1000;
// Below this, bodies are read into memory: cheap, and the SDK can retry a request with a buffer.
// Above it they stream from disk, since a consumed stream cannot be resent.
const BUFFER_LIMIT = 1024 * 1024;
// GCS's S3 interoperability API has no DeleteObjects. A store that says so is asked with single
// DeleteObject calls for the rest of the process (keyed by description: endpoint and bucket),
// instead of failing every prune or paying a refused request per batch.
const STORES_WITHOUT_BULK_DELETE = new Set<string>();
// Single deletes at once, per batch of keys; well under the socket limit even with parallel batches.
const SINGLE_DELETES_IN_FLIGHT = 16;
// Parts in flight per multipart upload; each holds one part in memory.
const PARTS_IN_FLIGHT = 2;
// Attempts per request within one activity attempt (the SDK's, the signed PUT's, a streamed upload's).
const SDK_ATTEMPTS = SIGNED_PUT_ATTEMPTS;

interface Agents {
  http: http.Agent;
  https: https.Agent;
}

function keepAliveAgents(maxSockets = 64, caCertificates?: string[]): Agents {
  // Setting `ca` replaces Node's trusted roots, so they are passed along with the extra ones.
  const ca = caCertificates ? [...tls.rootCertificates, ...extraCaCertificates(), ...caCertificates] : undefined;
  return { http: new http.Agent({ keepAlive: true, maxSockets }), https: new https.Agent({ keepAlive: true, maxSockets, ...(ca ? { ca } : {}) }) };
}

/** NODE_EXTRA_CA_CERTS is read by Node at start-up into its defaults, which an explicit `ca` drops. */
function extraCaCertificates(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [readFileSync(file, 'utf8')];
  } catch {
    return [];
  }
}

export function createS3Client(options: S3StorageOptions, agents: Agents = keepAliveAgents(options.maxSockets, options.caCertificates)): S3Client {
  return new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? 'us-east-1',
    credentials: options.credentials,
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    // Temporal retries whole activities with backoff; the SDK's own retries cover blips only.
    maxAttempts: SDK_ATTEMPTS,
    // We keep our own sha256 per object, and aws-chunked trailers cost a copy per request.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      httpAgent: agents.http,
      httpsAgent: agents.https,
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
    }),
  });
}

export class S3Storage implements ReadableStorage {
  readonly description: string;
  private readonly partSize: number;
  private readonly encryption: EncryptionHeaders;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    options: { endpoint?: string; partSize?: number; serverSideEncryption?: ServerSideEncryption } = {},
    /** Sends small bodies without the SDK's middleware; absent for virtual-hosted AWS S3. */
    private readonly signedPut?: SignedPut,
  ) {
    this.description = `s3://${bucket}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
    this.partSize = options.partSize ?? PART_SIZE;
    this.encryption = encryptionHeaders(options.serverSideEncryption);
  }

  static open(options: S3StorageOptions): S3Storage {
    const agents = keepAliveAgents(options.maxSockets, options.caCertificates);
    const client = createS3Client(options, agents);
    const pathStyle = options.endpoint !== undefined && options.forcePathStyle !== false;
    const endpoint = pathStyle ? new URL(options.endpoint!) : undefined;
    const signedPut = endpoint
      ? new SignedPut({
          endpoint,
          bucket: options.bucket,
          agent: endpoint.protocol === 'https:' ? agents.https : agents.http,
          credentials: () => client.config.credentials(),
          region: () => client.config.region(),
        })
      : undefined;
    return new S3Storage(client, options.bucket, options, signedPut);
  }

  async checkAccess(): Promise<void> {
    await this.call('check bucket', undefined, () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  async put(key: string, body: ObjectBody, options: WriteOptions): Promise<void> {
    if (Buffer.isBuffer(body) || body.size < BUFFER_LIMIT) {
      const bytes = Buffer.isBuffer(body) ? body : await readAll(body.open());
      if (this.signedPut) {
        // A data file's sha256 is signed as the payload hash: the store verifies the bytes it got.
        const headers = { 'content-type': options.contentType, 'cache-control': options.cacheControl, ...metaHeaders(options.metadata), ...this.encryption.headers };
        await this.call('write', key, () => this.signedPut!.put(key, bytes, headers, options.metadata?.sha256));
        return;
      }
      await this.call('write', key, () => this.client.send(new PutObjectCommand(this.putInput(key, bytes, options))));
      return;
    }
    // The SDK does not resend a streamed body; these retries do, each from a fresh stream.
    await this.retryUnavailable(async () => {
      if (body.size <= this.partSize) {
        const input = { ...this.putInput(key, body.open(), options), ContentLength: body.size };
        await this.call('write', key, () => this.client.send(new PutObjectCommand(input)));
        return;
      }
      const upload = new Upload({
        client: this.client,
        params: this.putInput(key, body.open(), options),
        partSize: this.partSize,
        queueSize: PARTS_IN_FLIGHT,
        leavePartsOnError: false,
      });
      await this.call('write', key, () => upload.done());
    });
  }

  /** Runs `fn` again while it fails with StorageUnavailable, up to the SDK's own attempt count. */
  private async retryUnavailable(fn: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= SDK_ATTEMPTS || !(err instanceof StorageError) || err.kind !== 'StorageUnavailable') throw err;
        await sleep(Math.random() * 100 * 2 ** attempt);
      }
    }
  }

  async putIfAbsent(key: string, body: Buffer, options: WriteOptions): Promise<boolean> {
    try {
      await this.client.send(new PutObjectCommand({ ...this.putInput(key, body, options), IfNoneMatch: '*' }));
      return true;
    } catch (err) {
      if (statusOf(err) === 412) return false;
      throw this.translate(err, 'write', key);
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      if (nameOf(err) === 'NoSuchKey') return undefined;
      throw this.translate(err, 'read', key);
    }
  }

  async read(key: string): Promise<ObjectStream | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        // A Node.js Readable in this runtime; the SDK types it for browsers too.
        body: out.Body as Readable,
        size: out.ContentLength ?? 0,
        contentType: out.ContentType,
        cacheControl: out.CacheControl,
        metadata: out.Metadata ?? {},
        etag: out.ETag?.replace(/"/g, ''),
      };
    } catch (err) {
      if (nameOf(err) === 'NoSuchKey') return undefined;
      throw this.translate(err, 'read', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const pages = paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.bucket, Prefix: prefix });
    try {
      for await (const page of pages) {
        for (const o of page.Contents ?? []) {
          yield { key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0), etag: o.ETag?.replace(/"/g, '') };
        }
      }
    } catch (err) {
      throw this.translate(err, 'list', prefix);
    }
  }

  async listChildren(prefix: string): Promise<string[]> {
    const pages = paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.bucket, Prefix: prefix, Delimiter: '/' });
    const children: string[] = [];
    try {
      for await (const page of pages) {
        for (const p of page.CommonPrefixes ?? []) children.push(p.Prefix!.slice(prefix.length, -1));
      }
    } catch (err) {
      throw this.translate(err, 'list', prefix);
    }
    return children;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += MAX_BULK_DELETE) {
      const chunk = keys.slice(i, i + MAX_BULK_DELETE);
      if (STORES_WITHOUT_BULK_DELETE.has(this.description) || !(await this.deleteBulk(chunk))) await this.deleteEach(chunk);
    }
  }

  /** One DeleteObjects call; false when the store does not implement it, which is remembered for the process. */
  private async deleteBulk(chunk: string[]): Promise<boolean> {
    let out;
    try {
      out = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
        }),
      );
    } catch (err) {
      if (!isNotImplemented(err)) throw this.translate(err, 'delete', chunk[0]);
      STORES_WITHOUT_BULK_DELETE.add(this.description);
      return false;
    }
    const failed = out.Errors?.[0];
    if (failed) {
      throw new StorageError(
        kindOfCode(failed.Code) ?? 'StorageError',
        `could not delete ${failed.Key} from ${this.description}: ${failed.Code} ${failed.Message ?? ''}`.trim(),
      );
    }
    return true;
  }

  /** DeleteObject per key, for stores without DeleteObjects. Like DeleteObjects, a missing key counts as deleted. */
  private async deleteEach(chunk: string[]): Promise<void> {
    await pMap(
      chunk,
      async (key) => {
        try {
          await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
        } catch (err) {
          // GCS answers 404 for a key that is already gone; S3 and MinIO answer 204.
          if (nameOf(err) === 'NoSuchKey' || (statusOf(err) === 404 && nameOf(err) !== 'NoSuchBucket')) return;
          throw this.translate(err, 'delete', key);
        }
      },
      { concurrency: SINGLE_DELETES_IN_FLIGHT },
    );
  }

  private putInput(key: string, body: PutObjectCommandInput['Body'], options: WriteOptions): PutObjectCommandInput {
    return {
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentType: options.contentType,
      CacheControl: options.cacheControl,
      Metadata: options.metadata,
      ...this.encryption.input,
    };
  }

  private async call<T>(action: string, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.translate(err, action, key);
    }
  }

  private translate(err: unknown, action: string, key: string | undefined): StorageError {
    if (err instanceof StorageError) return err;
    const where = key === undefined ? this.description : `${key} in ${this.description}`;
    const kind = classify(err);
    const hint: Record<StorageFailureKind, string> = {
      AccessDenied: 'the credentials were refused; check the access key and secret (PUSHCACHE_AWS_* or -u/-c)',
      BucketNotFound: `the bucket does not exist; create it or pass the right one with -b`,
      TlsFailure: "the TLS connection failed: trust the CA that signed the store's certificate with --ca-bundle / AWS_CA_BUNDLE, check that the host name matches it, or use http:// if the store does not speak TLS",
      StorageUnavailable: 'the object store did not answer, or asked to slow down; retried with backoff up to --max-attempts times',
      StorageError: 'unexpected answer from the object store',
    };
    return new StorageError(kind, `${action} ${where} failed: ${hint[kind]} (${describe(err)})`, { cause: err });
  }
}

// Includes what the default credential chain throws when it finds no credentials or STS refuses
// a web identity token: waiting does not fix either.
const ACCESS_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'Forbidden',
  'InvalidToken',
  'ExpiredToken',
  'CredentialsProviderError',
  'InvalidIdentityToken',
  'IDPRejectedClaim',
  'ExpiredTokenException',
]);
const UNAVAILABLE_CODES = new Set(['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'TimeoutError', 'XMinioServerNotInitialized']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

function kindOfCode(code: string | undefined): StorageFailureKind | undefined {
  if (code === undefined) return undefined;
  if (ACCESS_CODES.has(code)) return 'AccessDenied';
  if (code === 'NoSuchBucket') return 'BucketNotFound';
  if (UNAVAILABLE_CODES.has(code)) return 'StorageUnavailable';
  return undefined;
}

function classify(err: unknown): StorageFailureKind {
  const byName = kindOfCode(nameOf(err)) ?? kindOfCode(codeOf(err));
  if (byName) return byName;
  const status = statusOf(err);
  // HeadBucket answers with a bare status and no error code.
  if (status === 403) return 'AccessDenied';
  if (status === 404 && nameOf(err) === 'NotFound') return 'BucketNotFound';
  if (status !== undefined && (status >= 500 || status === 429)) return 'StorageUnavailable';
  if (NETWORK_CODES.has(codeOf(err) ?? '')) return 'StorageUnavailable';
  if (isTlsFailure(codeOf(err))) return 'TlsFailure';
  return 'StorageError';
}

// Node's codes for a certificate it does not trust or that names another host, and OpenSSL's
// for a server that does not speak TLS. Waiting fixes none of them.
const TLS_CODES = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO']);

function isTlsFailure(code: string | undefined): boolean {
  return code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_'));
}

/**
 * The store does not implement the call: HTTP 501, or the NotImplemented code GCS sends (with 501
 * or, as reported by its users, with 400) for `POST /?delete`.
 */
function isNotImplemented(err: unknown): boolean {
  return nameOf(err) === 'NotImplemented' || codeOf(err) === 'NotImplemented' || statusOf(err) === 501;
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string })?.name;
}
function codeOf(err: unknown): string | undefined {
  const e = err as { code?: string; Code?: string; cause?: { code?: string } };
  return e?.code ?? e?.Code ?? e?.cause?.code;
}
function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
function describe(err: unknown): string {
  const parts = [nameOf(err), codeOf(err), statusOf(err) ? `HTTP ${statusOf(err)}` : undefined];
  const message = err instanceof Error && err.message && err.message !== 'UnknownError' ? err.message : undefined;
  return [...new Set(parts.filter(Boolean)), message].filter(Boolean).join(': ');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function metaHeaders(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [`x-amz-meta-${k.toLowerCase()}`, v]));
}

interface EncryptionHeaders {
  input: Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId'>;
  /** The same, as the headers of a directly signed PUT. */
  headers: Record<string, string>;
}

function encryptionHeaders(sse: ServerSideEncryption | undefined): EncryptionHeaders {
  if (!sse) return { input: {}, headers: {} };
  const kmsKeyId = sse.mode === 'aws:kms' ? sse.kmsKeyId : undefined;
  return {
    input: { ServerSideEncryption: sse.mode, ...(kmsKeyId ? { SSEKMSKeyId: kmsKeyId } : {}) },
    headers: { 'x-amz-server-side-encryption': sse.mode, ...(kmsKeyId ? { 'x-amz-server-side-encryption-aws-kms-key-id': kmsKeyId } : {}) },
  };
}

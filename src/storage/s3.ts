import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
  UploadPartCopyCommand,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import pMap from 'p-map';
import { ContentMismatchError, isPushcacheError, StorageError, type StorageFailureKind } from '../errors';
import { PART_SIZE } from './etag';
import { UploadSlots } from './upload-slots';
import { SignedCopy } from './signed-copy';
import { canDeleteInBulk, SignedDelete, type DeleteFailure } from './signed-delete';
import { SignedList } from './signed-list';
import { SignedUploads } from './signed-uploads';
import { BucketRequests, DEFAULT_TIMEOUTS, encodeKey, SIGNED_PUT_ATTEMPTS, SignedPut, StoreTimeoutError, type StoreTimeouts } from './signed-put';
import type { CopyFromOptions, CopyOutcome, ObjectBody, ObjectInfo, ObjectStream, ReadableStorage, WriteOptions } from './storage';
import { VerifyingStream } from './verify';

/** Server-side encryption asked for on every write; config parses it from the command line into this. */
export type ServerSideEncryption = { mode: 'AES256' } | { mode: 'aws:kms'; kmsKeyId?: string };

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
  /** Deadlines of every request. Default 10 s to connect, 30 s of silence. */
  timeouts?: StoreTimeouts;
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
// Stores that refused a server-side copy (NotImplemented, AccessDenied): uploads only, for the
// rest of the process, so a store without CopyObject costs one refused request, not one per file.
const STORES_WITHOUT_COPY = new Set<string>();
// Single deletes at once, per batch of keys; well under the socket limit even with parallel batches.
const SINGLE_DELETES_IN_FLIGHT = 16;
// Parts in flight per multipart upload through the SDK (virtual-hosted AWS S3, and copies in
// parts); each holds one part in memory. SignedUploads, used for every other store, holds none.
const PARTS_IN_FLIGHT = 2;
// Multipart uploads at once in the process. lib-storage holds up to PARTS_IN_FLIGHT + 1 parts of
// each in memory (those in flight and the one it assembles): measured 24 MiB live per upload, so
// four big files at once made 70-90 MiB of the Job's peak. This bounds it to
// MULTIPART_UPLOADS_IN_FLIGHT × (PARTS_IN_FLIGHT + 1) × part size for any tree and concurrency.
// SignedUploads streams its parts, but sends one part at a time per file: two files at once keep
// a big file's upload from being the only request on the wire.
export const MULTIPART_UPLOADS_IN_FLIGHT = 2;

/** S3's ETag of a multipart object: the MD5 of its parts' MD5s, a dash, the number of parts. */
const MULTIPART_ETAG = /^[0-9a-f]{32}-\d+$/;
const MULTIPART_SLOTS = new UploadSlots(MULTIPART_UPLOADS_IN_FLIGHT);
// Attempts per request within one activity attempt (the SDK's, the signed PUT's, a streamed upload's).
const SDK_ATTEMPTS = SIGNED_PUT_ATTEMPTS;

const SDK_LOGGER = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

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
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? 'us-east-1',
    credentials: options.credentials,
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    // Temporal retries whole activities with backoff; the SDK's own retries cover blips only.
    maxAttempts: SDK_ATTEMPTS,
    // We keep our own sha256 per object, and aws-chunked trailers cost a copy per request.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler(deadlines(agents, options.timeouts ?? DEFAULT_TIMEOUTS)),
    // Without a logger the SDK prints to the console, e.g. a warning for every failed streamed
    // request; pushcache's retries and typed errors report those failures once, with the fix.
    logger: SDK_LOGGER,
  });
  // Parts of a streamed upload go with an unsigned payload. Their bytes come through a
  // VerifyingStream, which withholds the file's last chunk unless the whole file matches the
  // staged size and sha256, so a changed file never completes an upload. A signed part hash made
  // the SDK hash every part again (over plain HTTP) and the store hash it to verify: on a cold
  // publish, most of the tree's bytes hashed twice more for no added check.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (context.commandName === 'UploadPartCommand' && request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'pushcacheUnsignedParts' },
  );
  return client;
}

/**
 * The handler options that make the SDK's deadlines fire, as @smithy/node-http-handler 4.x
 * implements them (read in its source, proven by test/integration/storage-deadlines.test.ts):
 * - `connectionTimeout` destroys a request whose socket has not connected in time;
 * - `socketTimeout` is an idle timer on the connected socket (reset by every byte either way):
 *   it fires on a store that never answers, that goes silent mid-upload, or mid-download;
 * - `requestTimeout` is not used: it runs from the start of a request to its answer's headers,
 *   body upload included, so it would cap how long an 8 MiB part may take on a slow link; and
 *   without `throwOnRequestTimeout` it only logs a warning.
 * The socket timer is armed 3 s late for values of 6 s and more, so a silence is noticed after
 * at most requestMs + 3 s.
 */
function deadlines(agents: Agents, timeouts: StoreTimeouts) {
  return { httpAgent: agents.http, httpsAgent: agents.https, connectionTimeout: timeouts.connectMs, socketTimeout: timeouts.requestMs };
}

export class S3Storage implements ReadableStorage {
  readonly description: string;
  private readonly partSize: number;
  private readonly encryption: EncryptionHeaders;
  /** The endpoint as messages name it. */
  private readonly endpoint: string;
  private readonly timeouts: StoreTimeouts;
  // Without the SDK's middleware stack and XML parser: the requests a publish makes by the thousand.
  private readonly signedPut?: SignedPut;
  private readonly signedList?: SignedList;
  private readonly signedCopy?: SignedCopy;
  private readonly signedDelete?: SignedDelete;
  /** Streams bodies from disk without lib-storage's part buffers. */
  private readonly signedUploads?: SignedUploads;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    options: { endpoint?: string; partSize?: number; serverSideEncryption?: ServerSideEncryption; timeouts?: StoreTimeouts } = {},
    /** The bucket's requests pushcache signs itself; absent for virtual-hosted AWS S3, which keeps the SDK. */
    requests?: BucketRequests,
  ) {
    this.description = `s3://${bucket}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
    this.partSize = options.partSize ?? PART_SIZE;
    this.encryption = encryptionHeaders(options.serverSideEncryption);
    this.endpoint = options.endpoint ?? 'the AWS S3 endpoint of the region';
    this.timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
    if (requests) {
      this.signedPut = new SignedPut(requests);
      this.signedList = new SignedList(requests);
      this.signedCopy = new SignedCopy(requests);
      this.signedDelete = new SignedDelete(requests);
      this.signedUploads = new SignedUploads(requests, this.partSize);
    }
  }

  static open(options: S3StorageOptions): S3Storage {
    const agents = keepAliveAgents(options.maxSockets, options.caCertificates);
    const client = createS3Client(options, agents);
    const pathStyle = options.endpoint !== undefined && options.forcePathStyle !== false;
    const endpoint = pathStyle ? new URL(options.endpoint!) : undefined;
    const target = endpoint && {
      endpoint,
      bucket: options.bucket,
      agent: endpoint.protocol === 'https:' ? agents.https : agents.http,
      credentials: () => client.config.credentials(),
      region: () => client.config.region(),
      timeouts: options.timeouts,
    };
    return new S3Storage(client, options.bucket, options, target && new BucketRequests(target));
  }

  async checkAccess(): Promise<void> {
    await this.call('check bucket', undefined, () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  async put(key: string, body: ObjectBody, options: WriteOptions): Promise<boolean> {
    if (Buffer.isBuffer(body) || body.size < BUFFER_LIMIT) {
      const bytes = Buffer.isBuffer(body) ? body : await readAll(body.open(), body.size);
      if (!Buffer.isBuffer(body) && bytes.length > body.size) throw new ContentMismatchError(key, `more than the ${body.size} bytes staged`);
      if (!Buffer.isBuffer(body) && bytes.length !== body.size) throw new ContentMismatchError(key, `${bytes.length} bytes instead of the ${body.size} staged`);
      const written = await this.putBuffer(key, bytes, options);
      if (written) options.onProgress?.(bytes.length);
      return written;
    }
    // The SDK does not resend a streamed body; these retries do, each from a fresh stream.
    // SignedUploads sends a file's parts as they are read, so a failed part fails its attempt; the
    // attempts after one that failed go through lib-storage, which holds each part and resends it.
    return this.retryUnavailable('write', key, (attempt) => this.putStream(key, body, options, attempt > 1));
  }

  /** Same as put with ifAbsent. */
  async putIfAbsent(key: string, body: Buffer, options: WriteOptions): Promise<boolean> {
    return this.put(key, body, { ...options, ifAbsent: true });
  }

  private async putBuffer(key: string, bytes: Buffer, options: WriteOptions): Promise<boolean> {
    // Signed as the payload hash (the staged sha256, or a data file's sha256 metadata): the store
    // then refuses other bytes itself, and the refusal is a ContentMismatchError, never retried.
    const staged = options.sha256 ?? options.metadata?.sha256;
    try {
      if (this.signedPut) {
        await this.signedPut.put(key, bytes, { ...this.signedHeaders(options), ...(options.ifAbsent ? { 'if-none-match': '*' } : {}) }, staged);
      } else {
        // Without a signed payload hash the SDK signs what it sends: compare before sending.
        if (options.sha256 !== undefined) {
          const actual = createHash('sha256').update(bytes).digest('hex');
          if (actual !== options.sha256) throw new ContentMismatchError(key, `sha256 ${actual} instead of ${options.sha256}`);
        }
        await this.client.send(new PutObjectCommand({ ...this.putInput(key, bytes, options), ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}) }));
      }
      return true;
    } catch (err) {
      if (options.ifAbsent && statusOf(err) === 412) return false;
      if (staged !== undefined && isPayloadHashRefusal(err)) {
        throw new ContentMismatchError(key, `the store computed another sha256 than the staged ${staged}: ${describe(err)}`, { cause: err });
      }
      throw this.translate(err, 'write', key);
    }
  }

  /**
   * The parts of a streamed upload go unsigned (see createS3Client): the store's ETag, the MD5 of
   * the MD5s of the parts it received, is what shows they arrived as sent. Under SSE-KMS an ETag
   * is no MD5, and a store that answers another form of ETag follows another rule: nothing to
   * compare then. A mismatch is retried: the next attempt writes the
   * key again, or, create-only, finds it taken and leaves it to the go-live step, which rewrites
   * an object whose ETag is not this file's.
   */
  private checkReceived(key: string, expected: string | undefined, answered: string | undefined): void {
    if (expected === undefined || answered === undefined || this.encryption.input.ServerSideEncryption === 'aws:kms') return;
    const etag = answered.replace(/"/g, '');
    if (!MULTIPART_ETAG.test(etag)) return;
    if (etag !== expected) throw new StorageError('StorageUnavailable', `the store holds ${key} with ETag ${etag}, not the ${expected} of the bytes sent: damaged on the way; it is written again`);
  }

  /**
   * One attempt at a streamed body: the file is read through a VerifyingStream, so a body that
   * differs from the staged size or sha256 fails before its last bytes go out. The single PUT
   * is then aborted; the multipart upload is aborted and never completed.
   */
  private putStream(key: string, body: { size: number; open: () => Readable }, options: WriteOptions, viaSdk: boolean): Promise<boolean> {
    if (body.size <= this.partSize) return this.putStreamNow(key, body, options, viaSdk);
    const { onProgress } = options;
    // Opened only once it has a slot, so a waiting file holds no descriptor and no buffer.
    return MULTIPART_SLOTS.run(
      (progressed) => this.putStreamNow(key, body, { ...options, onProgress: (n) => (onProgress?.(n), progressed()) }, viaSdk),
      onProgress && (() => onProgress(0)),
    );
  }

  private async putStreamNow(key: string, body: { size: number; open: () => Readable }, options: WriteOptions, viaSdk: boolean): Promise<boolean> {
    const verifier = new VerifyingStream(key, body.size, options.sha256, options.onProgress);
    const abort = new AbortController();
    let bodyError: unknown;
    verifier.on('error', (err) => {
      bodyError ??= err;
      abort.abort();
    });
    // A failing source (a vanished file) destroys the verifier with its own error.
    pipeline(body.open(), verifier, () => undefined);
    const conditional = options.ifAbsent ? { IfNoneMatch: '*' } : {};
    try {
      if (this.signedUploads && !viaSdk) {
        const ifAbsent: Record<string, string> = options.ifAbsent ? { 'if-none-match': '*' } : {};
        if (body.size <= this.partSize) await this.signedUploads.put(key, verifier, body.size, { ...this.signedHeaders(options), ...ifAbsent }, options.sha256);
        else this.checkReceived(key, options.etag, await this.signedUploads.multipart(key, verifier, body.size, this.signedHeaders(options), ifAbsent));
      } else if (body.size <= this.partSize) {
        const input = { ...this.putInput(key, verifier, options), ...conditional, ContentLength: body.size };
        await this.client.send(new PutObjectCommand(input), { abortSignal: abort.signal });
      } else {
        // IfNoneMatch rides along to CompleteMultipartUpload (lib-storage passes its params on),
        // where MinIO and S3 apply it: the object appears only if the key is still free.
        const upload = new Upload({
          client: this.client,
          params: { ...this.putInput(key, verifier, options), ...conditional },
          partSize: this.partSize,
          queueSize: PARTS_IN_FLIGHT,
          leavePartsOnError: false,
        });
        const done = await upload.done();
        this.checkReceived(key, options.etag, done.ETag);
      }
      return true;
    } catch (err) {
      if (bodyError !== undefined) throw new BodyReadError(bodyError);
      if (options.ifAbsent && statusOf(err) === 412) return false;
      // A store may answer 412 as soon as it has the headers and close the connection while the
      // body is still going out; the client then sees only the broken pipe. A conditional write
      // that failed this way wrote nothing of ours, so an object at the key is someone else's.
      if (options.ifAbsent && statusOf(err) === undefined && (await this.exists(key))) return false;
      throw err;
    } finally {
      verifier.destroy();
    }
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch {
      return false;
    }
  }

  /** Runs `fn` again while it fails with StorageUnavailable, up to the SDK's own attempt count. */
  private async retryUnavailable<T>(action: string, key: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (raw) {
        // The body's own failure (a mismatch, a vanished source file) says what happened; it is never retried here.
        if (raw instanceof BodyReadError) throw raw.cause;
        const err = isPushcacheError(raw) ? raw : this.translate(raw, action, key, attempt);
        if (attempt >= SDK_ATTEMPTS || !(err instanceof StorageError) || err.kind !== 'StorageUnavailable') throw err;
        await sleep(Math.random() * 100 * 2 ** attempt);
      }
    }
  }

  async copy(fromKey: string, toKey: string): Promise<boolean> {
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: toKey,
          CopySource: `${this.bucket}/${encodeKey(fromKey)}`,
          MetadataDirective: 'COPY',
          ...this.encryption.input,
        }),
      );
      return true;
    } catch (err) {
      if (nameOf(err) === 'NoSuchKey') return false;
      if (nameOf(err) === 'InvalidRequest' && /size|larger/i.test(err instanceof Error ? err.message : '')) {
        throw new StorageError('StorageError', `copy ${fromKey} to ${toKey} in ${this.description} failed: a single CopyObject copies at most 5 GiB (${describe(err)})`, {
          cause: err,
        });
      }
      throw this.translate(err, 'copy', `${fromKey} to ${toKey}`);
    }
  }

  /**
   * Copies with the source's ETag checked in the same request (`CopySourceIfMatch`), the
   * destination's own headers (`MetadataDirective: REPLACE`) and, when asked, only if the
   * destination is free (`If-None-Match: *`; AWS S3 honours it on CopyObject, MinIO ignores it
   * there). A source above one part is copied part by part with UploadPartCopy at pushcache's
   * part size, so the copy gets the very ETag an upload of the file would get (a single
   * CopyObject would give it the MD5 of the whole), and no 5 GiB single-copy limit applies.
   */
  async copyFrom(sourceKey: string, destKey: string, options: CopyFromOptions): Promise<CopyOutcome> {
    if (STORES_WITHOUT_COPY.has(this.description)) return 'unsupported';
    // Under SSE-KMS an object's ETag is no MD5 of its bytes, so no recorded ETag can match: not worth a request.
    if (this.encryption.input.ServerSideEncryption === 'aws:kms') return 'precondition-failed';
    try {
      if (options.size > this.partSize) await this.copyInParts(sourceKey, destKey, options);
      else if (this.signedCopy) {
        await this.signedCopy.copy(sourceKey, destKey, {
          'x-amz-copy-source-if-match': `"${options.ifMatch}"`,
          'x-amz-metadata-directive': 'REPLACE',
          ...this.signedHeaders(options.headers),
          ...(options.ifAbsent ? { 'if-none-match': '*' } : {}),
        });
      } else {
        await this.client.send(
          new CopyObjectCommand({
            ...this.copyDestination(destKey, options),
            CopySource: `${this.bucket}/${encodeKey(sourceKey)}`,
            CopySourceIfMatch: `"${options.ifMatch}"`,
            MetadataDirective: 'REPLACE',
            ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}),
          }),
        );
      }
      return 'copied';
    } catch (err) {
      // 412: the source's ETag is not the one asked for, or the destination exists; 404: the source
      // is gone; 409: AWS saw a concurrent write to the destination. The upload that follows is create-only too.
      if (statusOf(err) === 412 || statusOf(err) === 409 || nameOf(err) === 'NoSuchKey' || nameOf(err) === 'PreconditionFailed') return 'precondition-failed';
      if (isNotImplemented(err) || classify(err) === 'AccessDenied') {
        STORES_WITHOUT_COPY.add(this.description);
        return 'unsupported';
      }
      throw this.translate(err, 'copy', `${sourceKey} to ${destKey}`);
    }
  }

  private copyDestination(destKey: string, options: CopyFromOptions) {
    return {
      Bucket: this.bucket,
      Key: destKey,
      ContentType: options.headers.contentType,
      CacheControl: options.headers.cacheControl,
      Metadata: options.headers.metadata,
      ...this.encryption.input,
    };
  }

  /** A multipart copy whose parts are pushcache's upload parts; completed only if every part's source matched. */
  private async copyInParts(sourceKey: string, destKey: string, options: CopyFromOptions): Promise<void> {
    const { Metadata, ContentType, CacheControl, ...where } = this.copyDestination(destKey, options);
    const created = await this.client.send(new CreateMultipartUploadCommand({ ...where, ContentType, CacheControl, Metadata }));
    const uploadId = created.UploadId!;
    try {
      const ranges: Array<[number, number]> = [];
      for (let start = 0; start < options.size; start += this.partSize) ranges.push([start, Math.min(start + this.partSize, options.size) - 1]);
      const parts = await pMap(
        ranges,
        async ([start, end], i) => {
          const out = await this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: destKey,
              UploadId: uploadId,
              PartNumber: i + 1,
              CopySource: `${this.bucket}/${encodeKey(sourceKey)}`,
              CopySourceIfMatch: `"${options.ifMatch}"`,
              CopySourceRange: `bytes=${start}-${end}`,
            }),
          );
          options.onProgress?.();
          return { PartNumber: i + 1, ETag: out.CopyPartResult?.ETag };
        },
        { concurrency: PARTS_IN_FLIGHT },
      );
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: destKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}),
        }),
      );
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: destKey, UploadId: uploadId })).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const bytes = await out.Body!.transformToByteArray();
      // The SDK collected the body into memory of its own: wrapped, not copied (a manifest can be megabytes).
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
    if (this.signedList) {
      try {
        yield* this.signedList.objects(prefix);
      } catch (err) {
        throw this.translate(err, 'list', prefix);
      }
      return;
    }
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
      // A key XML cannot name (a control character) is deleted on its own, with its batch.
      const bulk = !STORES_WITHOUT_BULK_DELETE.has(this.description) && chunk.every(canDeleteInBulk);
      if (!bulk || !(await this.deleteBulk(chunk))) await this.deleteEach(chunk);
    }
  }

  /** One DeleteObjects call; false when the store does not implement it, which is remembered for the process. */
  private async deleteBulk(chunk: string[]): Promise<boolean> {
    let failures: DeleteFailure[];
    try {
      failures = this.signedDelete ? await this.signedDelete.deleteObjects(chunk) : await this.deleteObjectsThroughSdk(chunk);
    } catch (err) {
      if (!isNotImplemented(err)) throw this.translate(err, 'delete', chunk[0]);
      STORES_WITHOUT_BULK_DELETE.add(this.description);
      return false;
    }
    const failed = failures[0];
    if (failed) {
      throw new StorageError(kindOfCode(failed.code) ?? 'StorageError', `could not delete ${failed.key} from ${this.description}: ${failed.code} ${failed.message ?? ''}`.trim());
    }
    return true;
  }

  private async deleteObjectsThroughSdk(chunk: string[]): Promise<DeleteFailure[]> {
    const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }));
    return (out.Errors ?? []).map((e) => ({ key: e.Key ?? '', code: e.Code ?? 'UnknownError', message: e.Message }));
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

  /** The object's own headers, as a directly signed write sends them. */
  private signedHeaders(options: Pick<WriteOptions, 'contentType' | 'cacheControl' | 'metadata'>): Record<string, string> {
    return { 'content-type': options.contentType, 'cache-control': options.cacheControl, ...metaHeaders(options.metadata), ...this.encryption.headers };
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

  private translate(err: unknown, action: string, key: string | undefined, attempts?: number): StorageError {
    if (err instanceof StorageError) return err;
    const where = key === undefined ? this.description : `${key} in ${this.description}`;
    const deadline = this.deadlineMessage(err, attempts);
    if (deadline) return new StorageError('StorageUnavailable', `${action} ${where} failed: ${deadline} (${describe(err)})`, { cause: err });
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

  /** What to check when a request hit one of the deadlines; undefined for other failures. */
  private deadlineMessage(err: unknown, attempts = attemptsOf(err)): string | undefined {
    const phase = timeoutPhase(err);
    if (!phase) return undefined;
    const tries = attempts && attempts > 1 ? ` (${attempts} attempts)` : '';
    if (phase === 'connect') {
      return `could not connect to the store at ${this.endpoint} within ${seconds(this.timeouts.connectMs)}${tries}: check the endpoint's host and port, and that the network lets this pod reach it (--connect-timeout)`;
    }
    return (
      `the store at ${this.endpoint} accepted the connection but sent no answer within ${seconds(this.timeouts.requestMs)}${tries}: ` +
      `check that ${this.endpoint} is an S3/MinIO endpoint and that it is up (--request-timeout)`
    );
  }
}

/** Which deadline a failed request hit: the SDK's connection or socket timeout, or the signed PUT's. */
function timeoutPhase(err: unknown): 'connect' | 'answer' | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof StoreTimeoutError) return e.phase;
    if (e.name === 'TimeoutError' && /establish a connection/.test(e.message)) return 'connect';
    if (e.name === 'TimeoutError' && /inactivity|requestTimeout/.test(e.message)) return 'answer';
  }
  return undefined;
}

function attemptsOf(err: unknown): number | undefined {
  const e = err as { attempts?: number; $metadata?: { attempts?: number } };
  return e?.attempts ?? e?.$metadata?.attempts;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Marks an error of the body's stream, so that it is not taken for a problem of the store. */
class BodyReadError extends Error {
  constructor(override readonly cause: unknown) {
    super('reading the body failed', { cause });
  }
}

/** The store's refusal of a body whose sha256 is not the signed payload hash (MinIO and S3 codes). */
function isPayloadHashRefusal(err: unknown): boolean {
  const name = nameOf(err) ?? '';
  return name === 'XAmzContentSHA256Mismatch' || name === 'BadDigest' || name === 'XAmzContentChecksumMismatch' || name === 'InvalidDigest';
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
  if (NETWORK_CODES.has(codeOf(err) ?? '') || networkCodeInMessage(err)) return 'StorageUnavailable';
  if (isTlsFailure(codeOf(err))) return 'TlsFailure';
  return 'StorageError';
}

// Node's codes for a certificate it does not trust or that names another host, and OpenSSL's
// for a server that does not speak TLS. Waiting fixes none of them.
const TLS_CODES = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO']);

/**
 * The SDK's retry layer rewraps a thrown value that is not an `Error` of its own realm (Node's
 * socket errors seen from a vm context, as under Jest) into a bare Error whose message alone
 * still names the socket's code.
 */
function networkCodeInMessage(err: unknown): boolean {
  const message = (err as { message?: unknown })?.message;
  return typeof message === 'string' && message.startsWith('AWS SDK error wrapper for ') && [...NETWORK_CODES].some((c) => message.includes(c));
}

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

/** Reads a stream whole, stopping once it holds more than `limit` bytes (a file that grew). */
async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length > limit) break;
  }
  return Buffer.concat(chunks);
}

function metaHeaders(metadata: Record<string, string> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const k of Object.keys(metadata ?? {})) headers[`x-amz-meta-${k.toLowerCase()}`] = metadata![k];
  return headers;
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

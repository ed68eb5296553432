import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { SigV4Signer } from './sigv4';

/**
 * A PutObject of an in-memory body, signed with SigV4 and sent on a keep-alive agent, without
 * the SDK's middleware stack. Profiling a 10,000-file publish showed the Job spending most of
 * its CPU in that stack, one request at a time; small files are most of every build.
 * Path-style addressing only (MinIO, or any store given an explicit endpoint).
 */
export interface SignedPutTarget {
  endpoint: URL;
  bucket: string;
  agent: http.Agent;
  /** The S3 client's own resolved providers, so the credential chain and its caching are shared. */
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  region: () => Promise<string>;
  /** Deadlines of each attempt; see StoreTimeouts. Default DEFAULT_TIMEOUTS. */
  timeouts?: StoreTimeouts;
}

/**
 * Deadlines of every request to the store. `connectMs` bounds opening the TCP (and TLS)
 * connection; `requestMs` bounds any silence once connected: while the body goes out, and
 * between the last byte sent and the answer. Neither bounds a request that keeps making progress.
 */
export interface StoreTimeouts {
  connectMs: number;
  requestMs: number;
}

export const DEFAULT_TIMEOUTS: StoreTimeouts = { connectMs: 10_000, requestMs: 30_000 };

/**
 * A request that hit one of the StoreTimeouts: `phase` says which. Its code ETIMEDOUT makes it
 * transient for the retries here and for the SDK's classifier alike.
 */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly phase: 'connect' | 'answer',
    readonly timeoutMs: number,
  ) {
    super(phase === 'connect' ? `no connection within ${timeoutMs} ms` : `no answer within ${timeoutMs} ms of silence`);
  }
}

/** An S3 error answer, shaped like the SDK's errors so one classifier serves both. */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number };
  constructor(
    override readonly name: string,
    message: string,
    status: number,
  ) {
    super(message);
    this.$metadata = { httpStatusCode: status };
  }
}

/**
 * Signs and sends requests to one bucket of a path-style store: what SignedPut and SignedList
 * share (the bucket's path, the transport, the signer and the region, resolved once).
 */
export class BucketRequests {
  private readonly signer = new SigV4Signer('s3');
  private region: Promise<string> | string | undefined;
  /** `/<bucket>/` under the endpoint's own path. */
  readonly bucketPath: string;
  readonly bucket: string;
  private readonly port: number | undefined;
  private readonly transport: typeof http | typeof https;

  constructor(private readonly target: SignedPutTarget) {
    this.bucket = target.bucket;
    this.bucketPath = `${target.endpoint.pathname.replace(/\/$/, '')}/${target.bucket}/`;
    this.port = target.endpoint.port ? Number(target.endpoint.port) : undefined;
    this.transport = target.endpoint.protocol === 'https:' ? https : http;
  }

  /**
   * Signs `headers` (with `x-amz-content-sha256`; `host` is added) and sends the request;
   * resolves the answer's body when `collect` is set, else nothing. A Buffer body is sent again
   * on a transient failure; a streamed one cannot be, and fails at once.
   */
  async send(method: string, path: string, headers: Record<string, string>, body?: Buffer | Readable, options: { query?: string; collect?: boolean } = {}): Promise<Buffer | undefined> {
    return (await this.exchange(method, path, headers, body, options)).body;
  }

  /** As send, resolving the answer's headers too (an ETag). */
  async exchange(method: string, path: string, headers: Record<string, string>, body?: Buffer | Readable, options: { query?: string; collect?: boolean } = {}): Promise<Answer> {
    const { endpoint } = this.target;
    // The region never changes: resolved once. The credentials provider caches and refreshes on its own.
    const credentials = await this.target.credentials();
    const region = typeof this.region === 'string' ? this.region : (this.region = await (this.region ??= this.target.region()));
    const signed = this.signer.sign(method, path, { ...headers, host: endpoint.host }, credentials, region, new Date(), options.query ?? '');
    return send(
      this.transport,
      { agent: this.target.agent, method, hostname: endpoint.hostname, port: this.port, path: options.query ? `${path}?${options.query}` : path, headers: signed },
      body,
      this.target.timeouts ?? DEFAULT_TIMEOUTS,
      options.collect,
    );
  }
}

/** What the store answered: its headers, and its body when it was collected. */
export interface Answer {
  headers: http.IncomingHttpHeaders;
  body?: Buffer;
}

export class SignedPut {
  constructor(private readonly requests: BucketRequests) {}

  /** `payloadSha256` (hex), when known, is signed: the store then rejects a body that does not match it. */
  async put(key: string, body: Buffer, headers: Record<string, string>, payloadSha256?: string): Promise<void> {
    await this.requests.send('PUT', this.requests.bucketPath + encodeKey(key), {
      ...headers,
      'content-length': String(body.length),
      'x-amz-content-sha256': payloadSha256 ?? createHash('sha256').update(body).digest('hex'),
    }, body);
  }
}

/** S3 keys are sent with each segment percent-encoded per RFC 3986; `/` stays a separator. */
export function encodeKey(key: string): string {
  // Most keys of a build need no escaping: one test instead of a split, a replace per segment and a join.
  if (PLAIN_KEY.test(key)) return key;
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

// RFC 3986's unreserved characters and the separator, which encodeURIComponent leaves as they are.
const PLAIN_KEY = /^[A-Za-z0-9\-._~/]*$/;

interface WireRequest {
  agent: http.Agent;
  method: string;
  hostname: string;
  port?: number;
  path: string;
  headers: Record<string, string>;
}

/**
 * Attempts per PUT, as many as the SDK client makes for every other call (`maxAttempts` in
 * s3.ts): a throttled or dropped request is sent again here, after a short jittered wait, rather
 * than failing a whole batch and waiting for the activity's retry with backoff. With one in five
 * requests failing, a 300-file batch otherwise never got through its ten attempts.
 */
export const SIGNED_PUT_ATTEMPTS = 3;
// The SDK's standard retry strategy: full jitter over 100 ms doubling per attempt.
const RETRY_BASE_MS = 100;
// Answers and socket errors after which the same PUT can succeed; a PUT is idempotent.
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/** True for a throttled or failed answer (429, 5xx but 501) and for a connection that broke. */
export function isTransientPutError(err: unknown): boolean {
  if (err instanceof S3ResponseError) {
    const status = err.$metadata.httpStatusCode;
    // 501: the store does not implement the call (DeleteObjects on GCS); asking again changes nothing.
    return status === 429 || (status >= 500 && status !== 501);
  }
  return TRANSIENT_CODES.has((err as NodeJS.ErrnoException)?.code ?? '');
}

/** Sends `request`, a Buffer body with retries; resolves the answer's body when `collect` is set (a GET), else only its headers. */
async function send(transport: typeof http | typeof https, request: WireRequest, body: Buffer | Readable | undefined, timeouts: StoreTimeouts, collect = false): Promise<Answer> {
  const attempts = body instanceof Readable ? 1 : SIGNED_PUT_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await sendOnce(transport, request, body, timeouts, collect);
    } catch (err) {
      if (attempt >= attempts || !isTransientPutError(err)) {
        // Read by the caller's messages, as the SDK's errors carry theirs in $metadata.
        if (err instanceof Error) Object.assign(err, { attempts: attempt });
        throw err;
      }
      // A keep-alive socket the server closed in the meantime fails at once: that first retry is immediate.
      const stale = attempt === 1 && (err as NodeJS.ErrnoException).code === 'ECONNRESET';
      if (!stale) await sleep(Math.random() * RETRY_BASE_MS * 2 ** attempt);
    }
  }
}

function sendOnce(transport: typeof http | typeof https, request: WireRequest, body: Buffer | Readable | undefined, timeouts: StoreTimeouts, collect: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Node's `timeout` option arms the socket's idle timer only once it is connected.
    const req = transport.request({ ...request, timeout: timeouts.requestMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300 && collect) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        return;
      }
      if (status >= 200 && status < 300) {
        // A PUT's answer has no body worth reading: drained, not collected.
        res.on('error', reject);
        res.on('end', () => resolve({ headers: res.headers }));
        res.resume();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `HTTP${status}`;
        const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? `status ${status}`;
        reject(new S3ResponseError(code, message, status));
      });
    });
    req.on('timeout', () => req.destroy(new StoreTimeoutError('answer', timeouts.requestMs)));
    req.on('socket', (socket) => {
      // A kept-alive socket is connected already; a new one gets connectMs to connect.
      if (!socket.connecting) return;
      const timer = setTimeout(() => req.destroy(new StoreTimeoutError('connect', timeouts.connectMs)), timeouts.connectMs);
      const clear = () => clearTimeout(timer);
      socket.once(transport === https ? 'secureConnect' : 'connect', clear);
      req.once('close', clear);
    });
    req.on('error', reject);
    if (body instanceof Readable) {
      // A failing body (a source file that changed) destroys the request with its own error. Not
      // pipeline: it would also destroy the body with the socket's error (EPIPE, ECONNRESET), which
      // the caller then takes for the body's own failure and does not retry. The caller, which
      // opened the body, closes it.
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else req.end(body);
  });
}

import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What the proxy does to a request it picks:
 * - `slowdown`: answers 503 SlowDown with S3's XML error body, without forwarding (throttling);
 * - `reset-before`: resets the connection without forwarding (the store never saw the request);
 * - `reset-after`: forwards the request, lets the store apply it, then resets the connection
 *   instead of answering (the client cannot tell that the write happened).
 */
export type Fault = 'slowdown' | 'reset-before' | 'reset-after';

export interface FaultProxyOptions {
  /** Share of requests, 0..1, that get a fault. Default 0. */
  rate?: number;
  /** Which faults, picked among evenly. Default all three. */
  faults?: readonly Fault[];
  /** Seeds every decision. Default 1. */
  seed?: number;
  /** Sees every request as it arrives, e.g. to count the writes a publish sends. */
  onRequest?: (req: http.IncomingMessage) => void;
}

export interface FaultProxy {
  /** Where to point an S3 client: `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Requests seen (forwarded or not), and those given each fault. */
  readonly stats: { requests: number; refused: number; stalled: number } & Record<Fault, number>;
  /** Changes the share of faulty requests from now on. */
  setRate(rate: number): void;
  /**
   * Takes storage away: the port stops listening (new connections are refused) and open
   * connections are cut, as when the store's host goes down. Resolves once nothing is accepted.
   */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /**
   * Calls `fn` once, when the `count`-th request matching `match` arrives; that request and
   * any after it are handled in whatever state `fn` leaves the proxy.
   */
  when(match: (req: http.IncomingMessage) => boolean, count: number, fn: () => void): void;
  /**
   * The next `count` requests matching `match` get silence, as from a store that stops
   * answering mid-upload: the proxy reads their headers and first body chunk, then reads nothing
   * more and never answers, until the client gives up and closes the connection.
   */
  stall(match: (req: http.IncomingMessage) => boolean, count?: number): void;
  /**
   * Requests matching `match` wait unread, unanswered and unforwarded until the returned
   * function is called; then they, and any after, go on to the store. A test uses it to keep
   * a run in the middle of its uploads for as long as it needs, however fast the machine is.
   */
  hold(match: (req: http.IncomingMessage) => boolean): () => void;
  close(): Promise<void>;
}

const SLOW_DOWN =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>' +
  '<Resource>/</Resource><RequestId>fault-proxy</RequestId></Error>';

/**
 * An HTTP proxy in front of the test MinIO that fails a seeded share of requests. Whether a
 * request fails depends only on the seed, its method and path, and how many times the same
 * method and path were seen before: a run is reproducible although the order in which parallel
 * uploads reach the proxy is not. Requests are forwarded unchanged, the Host header included,
 * so SigV4 signatures made for the proxy's address verify at MinIO.
 */
export async function startFaultProxy(target: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  const faults = options.faults ?? ['slowdown', 'reset-before', 'reset-after'];
  const seed = options.seed ?? 1;
  let rate = options.rate ?? 0;
  const seen = new Map<string, number>();
  const stats = { requests: 0, refused: 0, stalled: 0, slowdown: 0, 'reset-before': 0, 'reset-after': 0 };
  const triggers: Array<{ match: (req: http.IncomingMessage) => boolean; left: number; fn: () => void }> = [];
  const stalls: Array<{ match: (req: http.IncomingMessage) => boolean; left: number }> = [];
  const holds: Array<{ match: (req: http.IncomingMessage) => boolean; waiting: Array<() => void> | undefined }> = [];
  const sockets = new Set<Socket>();
  let down = false;

  /** A deterministic draw in [0, 1) and a fault, from the seed and the request's identity. */
  function decide(req: http.IncomingMessage): Fault | undefined {
    // The query string is left out: it holds nothing that tells retries of one request apart,
    // except on presigned URLs, which pushcache does not use.
    const identity = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
    const nth = seen.get(identity) ?? 0;
    seen.set(identity, nth + 1);
    const digest = createHash('sha256').update(`${seed}\0${identity}\0${nth}`).digest();
    const draw = digest.readUInt32BE(0) / 2 ** 32;
    return draw < rate ? faults[digest.readUInt32BE(4) % faults.length] : undefined;
  }

  const server = http.createServer((req, res) => {
    stats.requests++;
    options.onRequest?.(req);
    for (const t of triggers) if (t.left > 0 && t.match(req) && --t.left === 0) t.fn();
    if (down) {
      stats.refused++;
      req.socket.destroy();
      return;
    }
    const stall = stalls.find((s) => s.left > 0 && s.match(req));
    if (stall) {
      stall.left--;
      stats.stalled++;
      req.once('data', () => req.pause());
      return;
    }
    const hold = holds.find((h) => h.waiting && h.match(req));
    if (hold) {
      // A client that gave up while held is not forwarded: nothing would read the answer.
      hold.waiting!.push(() => !res.destroyed && pass(req, res));
      return;
    }
    pass(req, res);
  });

  function pass(req: http.IncomingMessage, res: http.ServerResponse): void {
    const fault = decide(req);
    if (fault) stats[fault]++;
    if (fault === 'slowdown') {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml', 'retry-after': '1' }).end(SLOW_DOWN);
      return;
    }
    if (fault === 'reset-before') {
      req.socket.resetAndDestroy();
      return;
    }
    const forwarded = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        if (fault === 'reset-after') {
          // The store has applied the request; read its answer fully so the upstream socket is reused.
          answer.resume();
          answer.on('end', () => req.socket.resetAndDestroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => req.socket.destroy());
    // A client that went away (reset, or cut) must not leave the upstream socket in use forever.
    res.on('close', () => {
      if (!res.writableFinished) forwarded.destroy();
    });
    req.pipe(forwarded);
  }

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    setRate(r: number) {
      rate = r;
    },
    async cut() {
      down = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    async restore() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      down = false;
    },
    when(match, count, fn) {
      triggers.push({ match, left: count, fn });
    },
    stall(match, count = 1) {
      stalls.push({ match, left: count });
    },
    hold(match) {
      const hold = { match, waiting: [] as Array<() => void> | undefined };
      holds.push(hold);
      return () => {
        const waiting = hold.waiting ?? [];
        hold.waiting = undefined;
        for (const go of waiting) go();
      };
    },
    async close() {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

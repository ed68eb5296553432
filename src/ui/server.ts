import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatAddress, type ListenAddress } from '../config';
import { oneLine } from '../errors';
import { bearerMatches, hostAllowed, isLoopbackHost } from './auth';
import { TtlCache } from './cache';
import { appData, listApps, overviewData, type AppData, type OverviewData, type StatusDataDeps } from './data';
import { renderAppPage, renderMessage, renderOverview, type RenderContext } from './render';
import { route } from './router';

/** Thrown when the status page cannot listen where it was told to. */
export class StatusPageError extends Error {
  override readonly name = 'StatusPageError';
}

/** Where the page's data comes from; the worker reads the bucket, unit tests give fixtures. */
export interface StatusSource {
  apps(): Promise<string[]>;
  overview(): Promise<OverviewData>;
  app(app: string): Promise<AppData>;
}

export function bucketSource(deps: StatusDataDeps): StatusSource {
  return { apps: () => listApps(deps), overview: () => overviewData(deps), app: (app) => appData(app, deps) };
}

export interface StatusServerOptions {
  listen: ListenAddress;
  /** The flags that choose the address, for the error when it is taken (the worker's by default). */
  listenFlags?: string;
  source: StatusSource;
  render: RenderContext;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Host names the page answers to besides loopback names (see hostAllowed). Only a page open
   * on a loopback address without a token checks Host; startStatusServer decides.
   */
  allowedHosts?: readonly string[];
  cacheMs: number;
  /** Told about requests that failed on the server's side (the bucket or Temporal). */
  onError?: (message: string, path: string) => void;
}

export interface StatusServer {
  readonly address: ListenAddress;
  /** The overview's URL, for people. */
  readonly url: string;
  close(): Promise<void>;
}

// No script at all; styles inline; links leave without a Referer.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

/** The request handler, apart from the socket: routing, auth and caching, tested without a port. */
export function statusHandler(options: Omit<StatusServerOptions, 'listen'>): http.RequestListener {
  const names = new TtlCache<string[]>(options.cacheMs);
  const overviews = new TtlCache<OverviewData>(options.cacheMs);
  const apps = new TtlCache<AppData>(options.cacheMs);
  return (req, res) => {
    const json = (req.url ?? '').startsWith('/api/');
    const send = (status: number, body: string, type: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': `${type}; charset=utf-8`, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const fail = (status: number, title: string, message: string, extra: Record<string, string> = {}) =>
      json ? send(status, `${JSON.stringify({ error: message })}\n`, 'application/json', extra) : send(status, renderMessage(title, message), 'text/html', extra);

    if (options.allowedHosts && !hostAllowed(req.headers.host, options.allowedHosts)) {
      return fail(
        403,
        'Forbidden',
        'this status page answers only to a loopback address (http://127.0.0.1:<port>/ or http://localhost:<port>/); name a proxy in front with --ui-allowed-hosts, or require a token (--ui-token-file)',
      );
    }
    // Before routing, so that without the token not even an app's existence is told.
    if (options.token !== undefined && !bearerMatches(req.headers.authorization, options.token)) {
      return fail(401, 'Unauthorized', 'this status page needs a bearer token (Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer realm="pushcache"' });
    }
    const r = route(req.method, req.url);
    if (r.page === 'bad-method') return fail(405, 'Method not allowed', 'the status page is read-only: GET or HEAD', { allow: 'GET, HEAD' });
    if (r.page === 'not-found') return fail(404, 'Not found', 'no such page; the overview is at /');
    void (async () => {
      if (r.page === 'overview') {
        const data = await overviews.get('', () => options.source.overview());
        return r.format === 'json' ? send(200, `${JSON.stringify(data, null, 2)}\n`, 'application/json') : send(200, renderOverview(data, options.render), 'text/html');
      }
      if (!(await names.get('', () => options.source.apps())).includes(r.app)) return fail(404, 'Not found', `no app ${r.app} in this bucket`);
      const data = await apps.get(r.app, () => options.source.app(r.app));
      return r.format === 'json' ? send(200, `${JSON.stringify(data, null, 2)}\n`, 'application/json') : send(200, renderAppPage(data, options.render), 'text/html');
    })().catch((err: unknown) => {
      const message = oneLine(err);
      options.onError?.(message, (req.url ?? '/').split('?')[0]);
      if (!res.headersSent) fail(502, 'Cannot read the bucket', message);
      else res.destroy();
    });
  };
}

/** The read-only status page of the worker (issue 19), on its own port, like the health probes. */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const checksHost = options.token === undefined && isLoopbackHost(options.listen.host);
  const server = http.createServer(statusHandler({ ...options, allowedHosts: checksHost ? (options.allowedHosts ?? []) : undefined }));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new StatusPageError(`cannot serve the status page on ${formatAddress(options.listen)} (${oneLine(err)}); choose a free port and an address of this host with ${options.listenFlags ?? '--ui-port and --ui-host'}`)),
    );
    server.listen(options.listen.port, options.listen.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const address = { host: options.listen.host, port };
  return {
    address,
    url: `http://${formatAddress(address)}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatAddress, type ListenAddress } from '../config';
import { oneLine } from '../errors';

/** Thrown when the health endpoints cannot listen where they were told to. */
export class HealthEndpointError extends Error {
  override readonly name = 'HealthEndpointError';
}

/** What the probes report; read on every request. */
export interface HealthState {
  /** True while the worker polls its task queue: false while it starts and from the moment it begins to shut down. */
  ready(): boolean;
  /** A word for people reading a failed probe, e.g. the worker's state. */
  describe(): string;
}

export interface HealthServer {
  /** Where it listens (the real port when asked for port 0). */
  readonly address: ListenAddress;
  close(): Promise<void>;
}

export const LIVENESS_PATH = '/livez';
export const READINESS_PATH = '/readyz';

/**
 * Kubernetes probes for the shared worker. Liveness answers whenever the event loop does, so a
 * worker draining its activities after SIGTERM is not killed for it, and neither is one that
 * cannot reach Temporal (a restart would not fix that). Readiness follows the worker.
 */
export async function startHealthServer(listen: ListenAddress, state: HealthState): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : `${body}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed');
    if (path === LIVENESS_PATH) return reply(200, 'alive');
    if (path === READINESS_PATH) return state.ready() ? reply(200, 'ready') : reply(503, `not ready: ${state.describe()}`);
    return reply(404, `not found; probes are ${LIVENESS_PATH} and ${READINESS_PATH}`);
  });
  // A probe never holds a connection open past the pod's shutdown.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new HealthEndpointError(
          `cannot serve health probes on ${formatAddress(listen)} (${oneLine(err)}); choose a free address with --health-address / PUSHCACHE_HEALTH_ADDRESS, or 'off'`,
        ),
      ),
    );
    server.listen(listen.port, listen.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: { host: listen.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

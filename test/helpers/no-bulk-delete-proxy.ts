import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface NoBulkDeleteProxy {
  /** Where to point an S3 client: `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** `POST /<bucket>?delete` (DeleteObjects) requests answered with 501. */
  readonly refusedBulkDeletes: number;
  /** `DELETE /<bucket>/<key>` (DeleteObject) requests, forwarded or answered with 404. */
  readonly singleDeletes: number;
  close(): Promise<void>;
}

const NOT_IMPLEMENTED =
  "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NotImplemented</Code>" +
  '<Message>A header or query you provided requested a function that is not implemented.</Message>' +
  '<Details>POST ?delete is not implemented for objects.</Details></Error>';

const NO_SUCH_KEY = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";

/**
 * An S3 endpoint that behaves like GCS's S3 interoperability API where it differs from MinIO:
 * DeleteObjects is answered with 501 NotImplemented (GCS's error body), and deleting a key a
 * second time is answered with 404 NoSuchKey (GCS reports a missing key; S3 and MinIO do not).
 * Everything else goes to the MinIO at `target` unchanged, the Host header included, so SigV4
 * signatures made for the proxy's address still verify.
 */
export async function startNoBulkDeleteProxy(target: string): Promise<NoBulkDeleteProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const deletedPaths = new Set<string>();
  let refusedBulkDeletes = 0;
  let singleDeletes = 0;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (req.method === 'POST' && url.searchParams.has('delete')) {
      refusedBulkDeletes++;
      req.resume();
      res.writeHead(501, { 'content-type': 'application/xml; charset=UTF-8' }).end(NOT_IMPLEMENTED);
      return;
    }
    // A key written again exists again.
    if (req.method === 'PUT') deletedPaths.delete(url.pathname);
    if (req.method === 'DELETE') {
      singleDeletes++;
      if (deletedPaths.has(url.pathname)) {
        req.resume();
        res.writeHead(404, { 'content-type': 'application/xml; charset=UTF-8' }).end(NO_SUCH_KEY);
        return;
      }
    }
    const forwarded = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        if (req.method === 'DELETE' && answer.statusCode === 204) deletedPaths.add(url.pathname);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', (err) => res.destroy(err));
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    get refusedBulkDeletes() {
      return refusedBulkDeletes;
    },
    get singleDeletes() {
      return singleDeletes;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

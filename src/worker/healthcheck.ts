import http from 'node:http';
import { formatAddress, resolveWorkerSettings, type ListenAddress } from '../config';
import { oneLine } from '../errors';
import { LIVENESS_PATH, READINESS_PATH } from './health-server';

/**
 * The container's health check: `node dist/worker/healthcheck.js [--ready]` asks the worker's
 * health endpoint (PUSHCACHE_HEALTH_ADDRESS) and exits 0 when healthy, 1 when not.
 *
 * The image also runs one-shot commands (the Job's `populate`, `prune`, `schedule apply`),
 * which serve no probes and are judged by their exit code. So by default a refused connection
 * counts as healthy: the check catches a worker that stopped answering, and leaves the others
 * alone. `--ready` asks for readiness and needs an answer: for waiting until a worker polls.
 */
const PROBE_TIMEOUT_MS = 3000;

function probe(address: ListenAddress, path: string): Promise<{ status: number; body: string } | 'refused'> {
  // A server listening on every address answers on loopback.
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host;
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port: address.port, path, timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? resolve('refused') : reject(err)));
  });
}

async function main(args: string[]): Promise<number> {
  const ready = args.includes('--ready');
  const configured = process.env.PUSHCACHE_HEALTH_ADDRESS;
  let healthAddress: ListenAddress | undefined;
  try {
    healthAddress = resolveWorkerSettings({ healthAddress: configured }).healthAddress;
  } catch (err) {
    console.log(`healthcheck: PUSHCACHE_HEALTH_ADDRESS=${configured}: ${oneLine(err)}`);
    return 1;
  }
  if (!healthAddress) {
    console.log('healthcheck: health endpoints are off (PUSHCACHE_HEALTH_ADDRESS=off)');
    return ready ? 1 : 0;
  }
  const path = ready ? READINESS_PATH : LIVENESS_PATH;
  const where = `${formatAddress(healthAddress)}${path}`;
  try {
    const answer = await probe(healthAddress, path);
    if (answer === 'refused') {
      console.log(`healthcheck: nothing serves ${where}${ready ? '' : ' (not a worker; a one-shot command is judged by its exit code)'}`);
      return ready ? 1 : 0;
    }
    console.log(`healthcheck: ${where}: ${answer.status} ${answer.body}`);
    return answer.status === 200 ? 0 : 1;
  } catch (err) {
    console.log(`healthcheck: ${where}: ${oneLine(err)}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.log(`healthcheck: ${oneLine(err)}`);
    process.exit(1);
  },
);

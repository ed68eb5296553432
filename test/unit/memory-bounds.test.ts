import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { ReadBuffers } from '../../src/source/read-buffers';
import { UploadSlots } from '../../src/storage/upload-slots';
import { WORKER_NODE_FLAGS } from '../../src/worker/node-flags';

// Memory bounds that do not depend on the machine: bytes and tasks counted, never RSS or time.

describe('UploadSlots', () => {
  it('runs at most `size` tasks at once, for any number started', async () => {
    const slots = new UploadSlots(2);
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 40 }, async () =>
        slots.run(async () => {
          running++;
          most = Math.max(most, running);
          await nextTurn();
          await nextTurn();
          running--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(slots.active).toBe(0);
  });

  it('lets a waiting task report progress while a running one moves, and frees its slot on failure', async () => {
    const slots = new UploadSlots(1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let beats = 0;
    const first = slots.run(async (progressed) => {
      progressed();
      progressed();
      await gate;
      throw new Error('failed upload');
    });
    const second = slots.run(async () => 'second ran', () => beats++);
    await nextTurn();
    // The waiter has not run, but it beat for each of the runner's progress reports after it queued.
    expect(slots.active).toBe(1);
    release();
    await expect(first).rejects.toThrow('failed upload');
    await expect(second).resolves.toBe('second ran');
    expect(slots.active).toBe(0);
    expect(beats).toBe(0);
    // Progress after the waiter queued reaches it.
    let gate2!: () => void;
    const hold = slots.run(async (progressed) => {
      await new Promise<void>((r) => (gate2 = r));
      progressed();
    });
    const waiter = slots.run(async () => undefined, () => beats++);
    await nextTurn();
    gate2();
    await Promise.all([hold, waiter]);
    expect(beats).toBe(1);
  });
});

describe('ReadBuffers', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'read-buffers-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds no more than the reads in flight, however many files go through', async () => {
    const buffers = new ReadBuffers();
    const sizes = Array.from({ length: 300 }, (_, i) => (i * 7919) % (200 * 1024));
    sizes.forEach((size, i) => writeFileSync(path.join(dir, `f${i}`), Buffer.alloc(size, i % 251)));
    const concurrency = 8;
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < sizes.length) {
          const i = next++;
          const read = buffers.read(path.join(dir, `f${i}`), sizes[i]);
          expect(read.bytes.equals(Buffer.alloc(sizes[i], i % 251))).toBe(true);
          await nextTurn();
          read.release();
        }
      }),
    );
    // 200 KiB files take the 256 KiB class at most.
    expect(buffers.peakBytesInUse).toBeLessThanOrEqual(concurrency * 256 * 1024);
    expect(buffers.bytesInUse).toBe(0);
    // A fresh buffer per file would have allocated the sum of all sizes; the pool keeps only reused ones.
    expect(buffers.bytesHeld).toBeLessThan(sizes.reduce((a, b) => a + b, 0) / 4);
  });

  it('reads a file that grew since staging in full, so its staged size and sha256 no longer match', () => {
    const buffers = new ReadBuffers();
    const file = path.join(dir, 'grew');
    writeFileSync(file, Buffer.alloc(40_000, 1));
    const read = buffers.read(file, 100);
    expect(read.bytes.length).toBe(40_000);
    read.release();
    expect(buffers.bytesInUse).toBe(0);
  });

  it('passes on a failed read and keeps no buffer handed out', () => {
    const buffers = new ReadBuffers();
    expect(() => buffers.read(path.join(dir, 'missing'), 10)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(buffers.bytesInUse).toBe(0);
  });
});

describe('the CLI entry point', () => {
  it('starts node with the Job\'s young generation and a slowly growing old one, for the image\'s commands that run it with no environment', () => {
    const first = readFileSync(path.join(__dirname, '../../src/cli/main.ts'), 'utf8').split('\n', 1)[0];
    expect(first).toBe('#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=30');
  });

  it('runs the shared worker with flags of its own wherever pushcache deploys it', () => {
    const root = path.join(__dirname, '../..');
    const compose = parseYaml(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { entrypoint?: string[]; command?: string[] }> };
    expect(compose.services.worker.entrypoint).toEqual(['node', ...WORKER_NODE_FLAGS, '/app/dist/cli/main.js']);
    expect(compose.services.worker.command).toEqual(['worker']);
    const deployment = parseYaml(readFileSync(path.join(root, 'deploy', 'worker-deployment.yaml'), 'utf8')) as {
      spec: { template: { spec: { containers: Array<{ name: string; command?: string[]; args?: string[] }> } } };
    };
    const worker = deployment.spec.template.spec.containers.find((c) => c.name === 'worker')!;
    expect(worker.command).toEqual(['node', ...WORKER_NODE_FLAGS, '/app/dist/cli/main.js']);
    expect(worker.args).toEqual(['worker']);
  });
});

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess } from '../../src/dev/process';

/** The watchdog that keeps standalone mode's dev server from outliving the Job (needs `npm run build`). */
jest.setTimeout(60_000);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (check()) return true;
    await sleep(100);
  }
  return false;
}

describe('a server started with dieWithParent', () => {
  it('stops, and its directory goes, when its parent is SIGKILLed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-watchdog-'));
    // A parent that starts a server under the watchdog, prints the server's pid and waits to be killed.
    const script = `
      const { spawn } = require('node:child_process');
      const { startProcess } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist', 'dev', 'process.js'))});
      const p = startProcess('sh', '/bin/sh', ['-c', 'echo $$ > ${dir}/pid; exec sleep 1000'], { logFile: '${dir}/log', dieWithParent: { removeDir: '${dir}' } });
      setInterval(() => undefined, 1000);`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    expect(await eventually(() => existsSync(path.join(dir, 'pid')) && readFileSync(path.join(dir, 'pid'), 'utf8').trim() !== '')).toBe(true);
    const server = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    expect(alive(server)).toBe(true);
    parent.kill('SIGKILL');
    expect(await eventually(() => !alive(server))).toBe(true);
    expect(await eventually(() => !existsSync(dir))).toBe(true);
  });

  it('stop() stops it through the watchdog; a failed server keeps its directory for the log', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-watchdog-'));
    const pidFile = path.join(dir, 'pid');
    const p = startProcess('sh', '/bin/sh', ['-c', `echo $$ > ${pidFile}; exec sleep 1000`], { logFile: path.join(dir, 'log'), dieWithParent: { removeDir: dir } });
    // Once the server runs, the watchdog has its handlers.
    expect(await eventually(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '')).toBe(true);
    const server = Number(readFileSync(pidFile, 'utf8'));
    await p.stop();
    expect(alive(server)).toBe(false);
    expect(existsSync(dir)).toBe(false);

    const failed = mkdtempSync(path.join(os.tmpdir(), 'pushcache-watchdog-'));
    const q = startProcess('sh', '/bin/sh', ['-c', 'echo broken; exit 3'], { logFile: path.join(failed, 'log'), dieWithParent: { removeDir: failed } });
    expect(await q.exited).toBe(3);
    expect(readFileSync(path.join(failed, 'log'), 'utf8')).toBe('broken\n');
  });
});

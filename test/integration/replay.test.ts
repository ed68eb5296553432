import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const HISTORIES = path.join(ROOT, 'test', 'histories');

/**
 * Saved histories of real runs must replay against today's workflow code: a change that
 * would break workflows already running fails here. See test/histories/README.md.
 * It runs the same script a developer runs (`npm run replay`).
 */
describe('replay of saved histories', () => {
  const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));

  it('has histories to replay', () => expect(files.length).toBeGreaterThan(0));

  it.each(files)('%s replays deterministically', (file) => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'worker', 'replay-histories.js'), path.join(HISTORIES, file)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^replayed /);
    expect(r.status).toBe(0);
  });

  it('catches a history that does not match the code', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'worker', 'replay-histories.js'), path.join(__dirname, 'fixtures', 'not-a-publish.json')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/FAILED/);
  });
});

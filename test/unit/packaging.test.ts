import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

describe('container packaging', () => {
  it('has a valid docker-compose.yml with the whole local stack', () => {
    // docker-compose 1.x checks the file without an engine; .ci/run installs it.
    const out = execFileSync('docker-compose', ['config', '--services'], { cwd: root, encoding: 'utf8' });
    expect(out.trim().split('\n').sort()).toEqual(['bucket', 'minio', 'prune-schedule', 'publish-example', 'temporal', 'worker']);
    execFileSync('docker-compose', ['config', '-q'], { cwd: root });
  });

  it('builds a multi-stage, non-root image on a current LTS Node', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const stages = dockerfile.match(/^FROM\s+(\S+)/gm) ?? [];
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const from of stages) expect(from).toMatch(/node:(22|24)\b/);
    expect(dockerfile).toMatch(/^USER\s+(?!root)\w+/m);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });
});

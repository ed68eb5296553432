import { createHash } from 'node:crypto';
import { auditApp, summarizeAudit, type AuditedManifest } from '../../src/audit/audit';
import type { ListedObject } from '../../src/bucket/listings';
import { renderManifest } from '../../src/contract/manifest';
import { parseManifest } from '../../src/contract/manifest';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A build as pushcache records it: each file's size, sha256 and ETag. */
function build(timestamp: number, files: Record<string, string>, image = `img:${timestamp}`): AuditedManifest {
  const key = `manifests/app/${timestamp}`;
  const body = renderManifest({
    files: Object.entries(files).map(([path, content]) => ({ path, size: content.length, sha256: sha(content), etag: md5(content) })),
    image,
    timestamp,
    publishId: `run-${timestamp}`,
  });
  return { key, timestamp, manifest: parseManifest(key, body) };
}

function listing(files: Record<string, string>): Map<string, ListedObject> {
  return new Map(Object.entries(files).map(([p, c]) => [p, { size: c.length, etag: md5(c) }]));
}

const OLD = { 'fed-mods.json': '{"a":1}', 'index.html': '<html>old</html>', 'js/main.old.js': 'old()', 'js/common.js': 'common' };
const NEW = { 'fed-mods.json': '{"a":22}', 'index.html': '<html>new!</html>', 'js/main.new.js': 'new()', 'js/common.js': 'common' };
const BUCKET = { ...OLD, ...NEW };

describe('auditApp', () => {
  it('a bucket holding every build reports ok, holding shared paths to the newest build', () => {
    const audit = auditApp({ app: 'app', manifests: [build(100, OLD), build(200, NEW)], listing: listing(BUCKET), liveFedModsSha256: sha(NEW['fed-mods.json']) });
    expect(audit).toMatchObject({ ok: true, manifests: 2, objects: 5, missing: [], mismatched: [], unreadable: [] });
    expect(audit.newest).toEqual({ key: 'manifests/app/200', timestamp: 200, image: 'img:200', publishId: 'run-200' });
    expect(audit.liveProblem).toBeUndefined();
  });

  it('finds objects deleted behind its back, with their keys and the build that names them', () => {
    const bucket = listing(BUCKET);
    bucket.delete('js/main.old.js');
    bucket.delete('js/main.new.js');
    const audit = auditApp({ app: 'app', manifests: [build(100, OLD), build(200, NEW)], listing: bucket, liveFedModsSha256: sha(NEW['fed-mods.json']) });
    expect(audit.ok).toBe(false);
    expect(audit.missing).toEqual([
      { path: 'js/main.new.js', build: 'manifests/app/200' },
      { path: 'js/main.old.js', build: 'manifests/app/100' },
    ]);
  });

  it('finds other bytes of the same size by ETag, and another size by size', () => {
    const bucket = listing({ ...BUCKET, 'js/main.new.js': 'NEW()', 'js/common.js': 'common, longer' });
    const audit = auditApp({ app: 'app', manifests: [build(100, OLD), build(200, NEW)], listing: bucket, liveFedModsSha256: sha(NEW['fed-mods.json']) });
    expect(audit.mismatched).toEqual([
      { path: 'js/common.js', build: 'manifests/app/200', field: 'size', expected: '6', found: '14' },
      { path: 'js/main.new.js', build: 'manifests/app/200', field: 'etag', expected: md5('new()'), found: md5('NEW()') },
    ]);
  });

  it('reports unreadable manifests and audits the rest', () => {
    const audit = auditApp({ app: 'app', manifests: [{ key: 'manifests/app/150', timestamp: 150, problem: 'not JSON' }, build(200, NEW)], listing: listing(NEW), liveFedModsSha256: sha(NEW['fed-mods.json']) });
    expect(audit.ok).toBe(false);
    expect(audit.unreadable).toEqual([{ key: 'manifests/app/150', problem: 'not JSON' }]);
    expect(audit.missing).toEqual([]);
  });

  it("says when the live fed-mods.json is not the newest build's", () => {
    // The older build's fed-mods.json put back by hand, same size as the newest one's would be caught by ETag too; this one is checked by sha256.
    const audit = auditApp({ app: 'app', manifests: [build(100, OLD), build(200, NEW)], listing: listing(BUCKET), liveFedModsSha256: sha(OLD['fed-mods.json']) });
    expect(audit.ok).toBe(false);
    expect(audit.liveProblem).toMatch(/not the one manifests\/app\/200 \(the newest build\) recorded/);
  });

  it("valpop's manifests (file list only) are checked for presence", () => {
    const legacy: AuditedManifest = { key: 'manifests/app/100', timestamp: 100, manifest: parseManifest('manifests/app/100', JSON.stringify(['a.js', 'b.js'])) };
    const audit = auditApp({ app: 'app', manifests: [legacy], listing: new Map([['a.js', { size: 1 }]]) });
    expect(audit.missing).toEqual([{ path: 'b.js', build: 'manifests/app/100' }]);
    expect(audit.mismatched).toEqual([]);
  });

  it('summaries keep counts and the first keys only', () => {
    const files = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`js/${String(i).padStart(2, '0')}.js`, `x${i}`]));
    const audit = auditApp({ app: 'app', manifests: [build(100, files)], listing: new Map() });
    const summary = summarizeAudit(audit, 5);
    expect(summary.missingCount).toBe(50);
    expect(summary.missing.map((m) => m.path)).toEqual(['js/00.js', 'js/01.js', 'js/02.js', 'js/03.js', 'js/04.js']);
  });
});

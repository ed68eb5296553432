#!/usr/bin/env node
// Copies from the host's npm cache exactly what `npm ci --offline` needs for package-lock.json
// (index entries and tarball contents of the locked packages) into a new cache directory, so an
// image build installs without a registry and without the host's npm config, and the copy
// changes only when the lock file does (which keeps the build's install layer cached).
//   node scripts/npm-offline-cache.js <package-lock.json> <host npm cache> <out npm cache>
// (npm cache directories as `npm config get cache` names them: the entries live in their _cacache.)
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const [lockFile, hostCacheDir, outCacheDir] = process.argv.slice(2);
if (!outCacheDir) {
  console.error('usage: npm-offline-cache.js <package-lock.json> <host npm cache dir> <out dir>');
  process.exit(2);
}
const hostCache = path.join(hostCacheDir, '_cacache');
const outDir = path.join(outCacheDir, '_cacache');

const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
const packages = [];
for (const [where, entry] of Object.entries(lock.packages ?? {})) {
  if (!where || entry.link || !entry.version) continue;
  const name = entry.name ?? where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
  packages.push({ name, version: entry.version, integrity: entry.integrity });
}

// npm looks a locked package up by its tarball (pacote's key, or the tarball URL fetched through
// make-fetch-happen) and, for some operations, by its packument (the registry's metadata document).
const wantedKeys = new Set();
const wantedNames = new Set();
for (const { name, version } of packages) {
  wantedKeys.add(`pacote:tarball:${name}@${version}`);
  wantedNames.add(name);
}
const keyWanted = (key) => {
  if (wantedKeys.has(key)) return true;
  const m = /^make-fetch-happen:request-cache:https?:\/\/[^/]+\/(.+)$/.exec(key);
  if (!m) return false;
  const rest = decodeURIComponent(m[1]);
  const tarball = /^(.+?)\/-\/[^/]+-(\d[^/]*)\.tgz$/.exec(rest);
  if (tarball) return wantedKeys.has(`pacote:tarball:${tarball[1]}@${tarball[2]}`);
  return wantedNames.has(rest);
};

const CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

const contentPath = (integrity) => {
  const [algorithm, digest] = integrity.split('-', 2);
  const hex = Buffer.from(digest, 'base64').toString('hex');
  return path.join('content-v2', algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
};

const link = (from, to) => {
  if (fs.existsSync(to)) return;
  fs.mkdirSync(path.dirname(to), { recursive: true });
  try {
    fs.linkSync(from, to); // same filesystem: no copy
  } catch {
    fs.copyFileSync(from, to);
  }
};

fs.rmSync(outCacheDir, { recursive: true, force: true });
const indexRoot = path.join(hostCache, 'index-v5');
const contents = new Set();
const found = new Set();
let entries = 0;
const walk = (dir) => {
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) {
      walk(p);
      continue;
    }
    const kept = [];
    for (const line of fs.readFileSync(p, 'utf8').split('\n')) {
      const tab = line.indexOf('\t');
      if (tab < 0) continue;
      let entry;
      try {
        entry = JSON.parse(line.slice(tab + 1));
      } catch {
        continue;
      }
      if (!entry || !keyWanted(entry.key)) continue;
      if (entry.integrity && !fs.existsSync(path.join(hostCache, contentPath(entry.integrity)))) continue;
      // A packument fetched by `npm view` was asked for as full JSON, and make-fetch-happen serves a
      // cached response only to the same Accept header; the full document answers the install's
      // abbreviated request too, so it is filed under that header (and the line's hash redone).
      const headers = entry.metadata?.reqHeaders;
      if (!entry.key.includes('/-/') && entry.key.startsWith('make-fetch-happen:') && headers && headers.accept !== CORGI) {
        entry.metadata.reqHeaders = { ...headers, accept: CORGI };
        const json = JSON.stringify(entry);
        kept.push(`${createHash('sha1').update(json).digest('hex')}\t${json}`);
      } else {
        kept.push(line);
      }
      if (entry.integrity) contents.add(entry.integrity);
      if (entry.key.startsWith('pacote:tarball:')) found.add(entry.key);
    }
    if (!kept.length) continue;
    // Each line carries the sha1 of its JSON, which cacache checks: lines are copied as they are.
    const out = path.join(outDir, 'index-v5', path.relative(indexRoot, p));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `\n${kept.join('\n')}`);
    entries += kept.length;
  }
};
walk(indexRoot);
for (const integrity of contents) link(path.join(hostCache, contentPath(integrity)), path.join(outDir, contentPath(integrity)));
// Tarballs cached only under their URL key still count: compare by integrity.
const have = new Set([...contents]);
const missing = packages.filter((p) => !found.has(`pacote:tarball:${p.name}@${p.version}`) && !(p.integrity && have.has(p.integrity)));
const digest = createHash('sha256').update(fs.readFileSync(lockFile)).digest('hex').slice(0, 16);
console.log(`npm-offline-cache: ${entries} index entries, ${contents.size} contents for ${packages.length} locked packages (lock ${digest}); ${missing.length} not in the host cache`);
if (process.env.PUSHCACHE_VERBOSE) for (const p of missing) console.log(`  not cached: ${p.name}@${p.version}`);

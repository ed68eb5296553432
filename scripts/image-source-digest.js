#!/usr/bin/env node
// A digest of everything the image is built from (what .dockerignore lets into the build context,
// less the offline npm cache, which follows package-lock.json). `npm run image` labels the image
// with it (org.pushcache.source), so the container tests rebuild only when a source changed.
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const inputs = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'example'];
const hash = createHash('sha256');
const add = (rel) => {
  const p = path.join(root, rel);
  const st = fs.statSync(p);
  if (st.isDirectory()) {
    for (const name of fs.readdirSync(p).sort()) add(path.join(rel, name));
    return;
  }
  hash.update(`${rel}\0${st.mode & 0o111 ? 'x' : '-'}\0`);
  hash.update(fs.readFileSync(p));
  hash.update('\0');
};
for (const rel of inputs) add(rel);
console.log(hash.digest('hex').slice(0, 24));

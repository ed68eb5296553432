#!/usr/bin/env node
// Prints an image's size and what it is made of (the base image, node_modules, the app, the
// Temporal CLI), from `docker history`, as a Markdown table and a JSON line (for tests and docs).
//   node scripts/image-report.js [image]   (default pushcache:dev)
'use strict';
const { execFileSync } = require('node:child_process');

const image = process.argv[2] ?? 'pushcache:dev';
const docker = (...args) => execFileSync('docker', args, { encoding: 'utf8' });

function report(name) {
  const layers = docker('history', '--no-trunc', '--human=false', '--format', '{{.Size}}\t{{.CreatedBy}}', name)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const tab = line.indexOf('\t');
      return { size: Number(line.slice(0, tab)), createdBy: line.slice(tab + 1) };
    });
  const total = Number(docker('image', 'inspect', '-f', '{{.Size}}', name));
  // The base is what the final FROM brought: the oldest layers, as many as the base's history has.
  const dockerfileBase = /^FROM\s+(\S+)\s*$/gm;
  const froms = [...require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'Dockerfile'), 'utf8').matchAll(dockerfileBase)];
  const baseName = froms[froms.length - 1][1];
  const baseLayers = docker('history', '-q', baseName).split('\n').filter(Boolean).length;
  const own = layers.slice(0, layers.length - baseLayers);
  const parts = { base: 0, node_modules: 0, app: 0, temporal: 0 };
  for (const l of layers.slice(layers.length - baseLayers)) parts.base += l.size;
  for (const { size, createdBy } of own) {
    if (/\/usr\/local\/bin\/temporal\b/.test(createdBy)) parts.temporal += size;
    else if (/\bnode_modules\b/.test(createdBy)) parts.node_modules += size;
    else parts.app += size; // dist/, example/, package.json and the command links
  }
  return { image: name, base: baseName, total, parts };
}

const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
const r = report(image);
console.log(`| ${r.image} | size |\n|---|---:|`);
console.log(`| base (${r.base}) | ${mb(r.parts.base)} |`);
console.log(`| node_modules (production) | ${mb(r.parts.node_modules)} |`);
console.log(`| the app (dist/, example/, package.json) | ${mb(r.parts.app)} |`);
console.log(`| temporal CLI (standalone mode) | ${mb(r.parts.temporal)} |`);
console.log(`| **total** | **${mb(r.total)}** |`);
console.log(JSON.stringify(r));

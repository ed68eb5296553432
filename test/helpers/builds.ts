import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolvePublishSettings } from '../../src/config';
import { populate, type PopulateOutcome } from '../../src/client/populate';
import { populateDeps, type Harness } from './servers';

/**
 * Build n of an app: entry files that differ per build, a chunk only it has, and a chunk
 * every build shares byte for byte (as unchanged chunks are).
 */
export function buildTree(n: number, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `pushcache-build${n}-`));
  const files: Record<string, string> = {
    'fed-mods.json': JSON.stringify({ app: { entry: [`/apps/x/js/main.${n}.js`] } }),
    'index.html': `<html><script src="js/main.${n}.js"></script></html>`,
    'app-info.json': JSON.stringify({ build: n }),
    [`js/main.${n}.js`]: `console.log('build ${n}');`,
    'js/common.js': 'export const common = 1;',
    ...extra,
  };
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

export interface PublishedBuild {
  dir: string;
  outcome: PopulateOutcome;
  timestamp: number;
}

/** Publishes builds 1..count of `app` a second apart (so each has its own timestamp), without pruning. */
export async function publishBuilds(harness: Harness, bucket: string, app: string, count: number, extra: (n: number) => Record<string, string> = () => ({})): Promise<PublishedBuild[]> {
  const builds: PublishedBuild[] = [];
  for (let n = 1; n <= count; n++) {
    if (n > 1) await sleep(1000);
    const dir = buildTree(n, extra(n));
    const outcome = await populate(resolvePublishSettings({ source: dir, prefix: app, image: `img:${n}`, prune: false }), populateDeps(harness, bucket));
    builds.push({ dir, outcome, timestamp: outcome.timestamp });
  }
  return builds;
}

import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from './measure';
import type { RequestDelta } from './metrics';
import type { Peer, ToolName } from './peers';
import { seconds } from './report';
import { prng, writeFileOfSize, type TreeFile } from './trees';

/**
 * Scenario "many apps sharing files" (issue 18): APPS apps whose trees share 60% of their bytes
 * (the same vendor and asset files, under each app's own `data/<app>/` paths), published one
 * after another into one cold bucket. pushcache copies in the bucket what another app already
 * holds; `--no-copy`, s5cmd and aws-cli send every byte.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GENERATOR_VERSION = 1;
export const SHARED_APPS = 20;
/** The share of each app's bytes that every app has too. */
const SHARED_SHARE = 0.6;

export interface SharedSpec {
  name: string;
  seed: number;
  /** Small shared files and their total bytes, plus shared files above one 8 MiB part (copied part by part). */
  sharedFiles: number;
  sharedSmallBytes: number;
  sharedBig: number[];
  /** Files of each app's own. */
  ownFiles: number;
}

export const SHARED_SPECS = {
  full: { name: 'full', seed: 20261201, sharedFiles: 240, sharedSmallBytes: 3 * MiB, sharedBig: [9 * MiB], ownFiles: 240 },
  quick: { name: 'quick', seed: 20261201, sharedFiles: 30, sharedSmallBytes: 600 * KiB, sharedBig: [], ownFiles: 20 },
} satisfies Record<string, SharedSpec>;

export interface SharedTrees {
  apps: Array<{ app: string; dir: string; files: TreeFile[]; bytes: number }>;
  sharedBytes: number;
}

function sizes(count: number, total: number, rand: () => number): number[] {
  const raw = Array.from({ length: count }, () => Math.round(1 * KiB * Math.pow(40, rand())));
  const scale = total / raw.reduce((n, s) => n + s, 0);
  const scaled = raw.map((s) => Math.max(1, Math.round(s * scale)));
  scaled[0] += total - scaled.reduce((n, s) => n + s, 0);
  return scaled;
}

/** Generates the trees (shared files written once and hard-linked into every app) unless identical ones exist. */
export function ensureSharedTrees(root: string, spec: SharedSpec): SharedTrees {
  const rand = prng(spec.seed);
  const kinds = ['vendor/js', 'vendor/css', 'assets/fonts', 'assets/img'];
  const exts = ['js', 'css', 'woff2', 'png'];
  const shared: TreeFile[] = sizes(spec.sharedFiles, spec.sharedSmallBytes, rand).map((size, i) => ({ path: `${kinds[i % 4]}/lib-${i}.${exts[i % 4]}`, size }));
  spec.sharedBig.forEach((size, i) => shared.push({ path: `assets/media/shared-${i}.mp4`, size }));
  const sharedBytes = shared.reduce((n, f) => n + f.size, 0);
  const ownBytes = Math.round((sharedBytes * (1 - SHARED_SHARE)) / SHARED_SHARE);
  const base = path.join(root, `shared-apps-${spec.name}-s${spec.seed}-v${GENERATOR_VERSION}`);
  const marker = `${base}.done.json`;
  const apps = Array.from({ length: SHARED_APPS }, (_, a) => {
    const app = `app-${String(a + 1).padStart(2, '0')}`;
    const own: TreeFile[] = sizes(spec.ownFiles, ownBytes - 1000, rand).map((size, i) => ({ path: `js/${app}-chunk-${i}.js`, size }));
    own.push({ path: 'fed-mods.json', size: 500 }, { path: 'index.html', size: 500 });
    const files = [...shared, ...own];
    return { app, dir: path.join(base, app), files, bytes: files.reduce((n, f) => n + f.size, 0), own };
  });
  if (!(existsSync(marker) && readFileSync(marker, 'utf8') === JSON.stringify(spec))) {
    rmSync(base, { recursive: true, force: true });
    shared.forEach((f, i) => writeFileOfSize(path.join(base, 'shared', f.path), f.size, spec.seed + i + 1));
    apps.forEach((a, ai) => {
      for (const f of shared) {
        mkdirSync(path.dirname(path.join(a.dir, f.path)), { recursive: true });
        linkSync(path.join(base, 'shared', f.path), path.join(a.dir, f.path));
      }
      a.own.forEach((f, i) => writeFileOfSize(path.join(a.dir, f.path), f.size, spec.seed * 31 + ai * 100_003 + i + 7));
    });
    writeFileSync(marker, JSON.stringify(spec));
  }
  return { apps: apps.map(({ app, dir, files, bytes }) => ({ app, dir, files, bytes })), sharedBytes };
}

export type SharedVariant = 'pushcache' | 'pushcache --no-copy' | 's5cmd' | 'aws';
export const SHARED_VARIANTS: Array<{ variant: SharedVariant; tool: ToolName }> = [
  { variant: 'pushcache', tool: 'pushcache' },
  { variant: 'pushcache --no-copy', tool: 'pushcache' },
  { variant: 's5cmd', tool: 's5cmd' },
  { variant: 'aws', tool: 'aws' },
];

export interface SharedContext {
  peer: Peer;
  endpoint: string;
  pushcacheEnv: NodeJS.ProcessEnv;
  /** The S3 tools' environment (credentials, region, config files). */
  awsEnv: NodeJS.ProcessEnv;
}

/** The command that publishes one app's tree; each tool with its default settings. */
export function sharedCommand(variant: SharedVariant, ctx: SharedContext, dir: string, bucket: string, app: string): Command {
  const bin = ctx.peer.bin ?? ctx.peer.name;
  switch (variant) {
    case 'pushcache':
    case 'pushcache --no-copy':
      return {
        bin: process.execPath,
        args: [bin, 'populate', '-s', dir, '-r', app, '-i', `img-${app}`, ...(variant === 'pushcache' ? [] : ['--no-copy'])],
        env: { ...ctx.pushcacheEnv, PUSHCACHE_AWS_BUCKET_NAME: bucket },
      };
    case 's5cmd':
      return { bin, args: ['--endpoint-url', ctx.endpoint, 'cp', `${dir}/`, `s3://${bucket}/data/${app}/`], env: ctx.awsEnv };
    case 'aws':
      return { bin, args: ['--endpoint-url', ctx.endpoint, 's3', 'cp', '--recursive', dir, `s3://${bucket}/data/${app}/`], env: ctx.awsEnv };
  }
}

/** One publish of one app, as the bench measured it. */
export interface AppRun {
  ok: boolean;
  wallMs: number;
  requests?: RequestDelta;
  failure?: string;
}

export interface SharedRow {
  variant: SharedVariant;
  problem?: string;
  wallS?: number;
  bytesIn?: number;
  /** Bytes the store received while apps 2..N were published, over those apps' tree bytes. */
  laterShare?: number;
  put?: number;
  copy?: number;
  all?: number;
}

/** Totals over the apps of one run of one variant; a failed publish makes the row a problem. */
export function summarizeShared(variant: SharedVariant, runs: AppRun[] | undefined, trees: SharedTrees, problem?: string): SharedRow {
  if (problem) return { variant, problem };
  if (!runs?.length) return { variant, problem: 'not run' };
  const failed = runs.find((r) => !r.ok);
  if (failed) return { variant, problem: `failed: ${failed.failure}` };
  const sum = (f: (r: RequestDelta) => number, from = 0) => (runs.every((r) => r.requests) ? runs.slice(from).reduce((n, r) => n + f(r.requests!), 0) : undefined);
  const laterBytes = trees.apps.slice(1).reduce((n, a) => n + a.bytes, 0);
  const laterIn = sum((r) => r.bytesIn, 1);
  return {
    variant,
    wallS: runs.reduce((n, r) => n + r.wallMs, 0) / 1000,
    bytesIn: sum((r) => r.bytesIn),
    laterShare: laterIn === undefined ? undefined : laterIn / laterBytes,
    put: sum((r) => r.put),
    copy: sum((r) => r.copy),
    all: sum((r) => r.all),
  };
}

const int = (n: number | undefined) => (n === undefined ? '-' : Math.round(n).toLocaleString('en-US'));
const mb = (n: number | undefined) => (n === undefined ? '-' : `${(n / MiB).toFixed(1)} MiB`);

function cells(r: SharedRow, fastest: number | undefined): string[] {
  if (r.problem) return [r.variant, r.problem, '', '', '', '', '', ''];
  return [
    r.variant,
    `${seconds(r.wallS!)} s`,
    fastest ? `${(r.wallS! / fastest).toFixed(2)}×` : '-',
    mb(r.bytesIn),
    r.laterShare === undefined ? '-' : `${(r.laterShare * 100).toFixed(0)}%`,
    int(r.put),
    int(r.copy),
    int(r.all),
  ];
}

const HEAD = ['tool', `wall, ${SHARED_APPS} publishes`, 'vs fastest', 'bytes sent to the store', `apps 2-${SHARED_APPS}: sent / tree bytes`, 'PUT requests', 'COPY requests', 'all requests'];

export function renderShared(rows: SharedRow[], trees: SharedTrees, markdown: boolean): string {
  const fastest = Math.min(...rows.filter((r) => r.wallS !== undefined).map((r) => r.wallS!));
  const body = rows.map((r) => cells(r, Number.isFinite(fastest) ? fastest : undefined));
  const perApp = trees.apps[0];
  const intro =
    `${SHARED_APPS} apps of ${perApp.files.length} files and ${mb(perApp.bytes)} each; ${mb(trees.sharedBytes)} of each (${Math.round((trees.sharedBytes / perApp.bytes) * 100)}%) ` +
    `are the same vendor and asset files, under each app's own \`data/<app>/\` paths. Each tool publishes the ${SHARED_APPS} apps one after another into one new bucket.`;
  if (!markdown) {
    const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
    const fmt = (row: string[]) => row.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
    return [`== ${SHARED_APPS} apps sharing 60% of their bytes`, fmt(HEAD), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
  }
  return [
    `## ${SHARED_APPS} apps sharing 60% of their bytes, published one after another`,
    '',
    intro,
    'pushcache finds a file another app already holds by its sha256 in the newest manifest of every app and copies it in the store (CopyObject with the source\'s ETag as precondition, UploadPartCopy above 8 MiB) instead of sending it; `--no-copy` turns that off. s5cmd (`cp`) and aws-cli (`s3 cp --recursive`) send every file.',
    '"bytes sent to the store" is what MinIO received (`minio_api_requests_traffic_received_bytes`) during the publishes, request bodies of every kind (pushcache\'s staging records and manifests included); "COPY requests" counts CopyObject and UploadPartCopy. The wall time is the sum of the publishes.',
    'Over loopback, sending a byte costs next to nothing, so the saving shows in bytes and requests rather than in time, and each pushcache publish carries fixed costs the S3 tools do not have (a Temporal run, the app lock, the manifest, the prune after it, reading the content index). Against a remote store, the bytes sent from the Job are the slow part.',
    '',
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...body.map((row) => `| ${row.join(' | ')} |`),
    '',
  ].join('\n');
}

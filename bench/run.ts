import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command as Cli, Option } from 'commander';
import { toolCacheDir } from '../src/dev/binaries';
import { BenchBucket } from './bucket';
import { loadAverage, machineInfo } from './machine';
import { killRunningCommands, measure, stopRunningCommands, type Command } from './measure';
import { readCpuSeconds, readPeakRssKb, readRequestCounts, requestDelta, resetPeakRss } from './metrics';
import { provisionPeers, TOOL_NAMES, type Peers, type ToolName } from './peers';
import { renderConsoleTable, renderMarkdown, seconds, summarize, type Results, type RunRecord } from './report';
import { APP, awsEnv, commandsFor, describeCommand, scenarios, type ScenarioId, type ToolCommands } from './scenarios';
import { ensureSharedTrees, renderShared, SHARED_SPECS, SHARED_VARIANTS, sharedCommand, summarizeShared, type AppRun, type SharedRow } from './shared-apps';
import { BENCH_CREDENTIALS, killServersNow, startBenchMinio, startBenchPushcache, stopServers, type BenchPushcache } from './stack';
import { ensureChangedTree, ensureTar, ensureTinyTree, ensureTree, TREE_SPECS, touchChanged, type Tree } from './trees';

/**
 * `npm run bench [-- --quick]`: pushcache against s5cmd, aws-cli, rclone and valpop on the same
 * machine and the same local MinIO, in one run; writes docs/benchmarks.md.
 */

const repo = path.resolve(__dirname, '..', '..');
const cliPath = path.join(repo, 'dist', 'cli', 'main.js');

const MODES = {
  full: { runs: 3, tree: TREE_SPECS.full, deleteCount: 100_000, timeoutMs: 20 * 60_000 },
  quick: { runs: 1, tree: TREE_SPECS.quick, deleteCount: 5_000, timeoutMs: 5 * 60_000 },
};

interface Options {
  quick?: boolean;
  sharedOnly?: boolean;
  runs?: string;
  tools?: string;
  out: string;
  workDir: string;
  note: string[];
}

function parseOptions(argv: string[]): Options {
  const cli = new Cli('bench')
    .description('compare pushcache with s5cmd, aws-cli, rclone and valpop against one local MinIO')
    .addOption(new Option('--quick', 'small tree, one run each (under two minutes once the tools are installed)'))
    .addOption(new Option('--shared-only', 'run only the scenario of 20 apps sharing 60% of their bytes'))
    .addOption(new Option('--runs <n>', 'runs per tool and scenario (default 3, quick 1)'))
    .addOption(new Option('--tools <list>', `comma-separated subset of ${TOOL_NAMES.join(',')}`))
    .addOption(new Option('--out <file>', 'report to write').default(path.join(repo, 'docs', 'benchmarks.md')))
    .addOption(new Option('--work-dir <dir>', 'trees (kept and reused) and this run\'s MinIO data and logs').default(path.join(os.tmpdir(), 'pushcache-bench')))
    .addOption(new Option('--note <text>', 'a sentence for the report\'s notes, e.g. why this mode was run (repeatable)').argParser((v: string, acc: string[]) => [...acc, v]).default([]));
  cli.parse(argv);
  return cli.opts<Options>();
}

const log = (line: string) => console.log(`bench: ${line}`);

async function main(): Promise<void> {
  const started = Date.now();
  const options = parseOptions(process.argv);
  const modeName = options.quick ? 'quick' : 'full';
  const mode = MODES[modeName];
  const runs = options.runs === undefined ? mode.runs : Number(options.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number of at least 1, not ${options.runs}`);
  const selected = options.tools ? (options.tools.split(',').map((t) => t.trim()) as ToolName[]) : TOOL_NAMES;
  const unknown = selected.filter((t) => !TOOL_NAMES.includes(t));
  if (unknown.length) throw new Error(`unknown tool ${unknown.join(', ')}; choose from ${TOOL_NAMES.join(', ')}`);

  const treesDir = path.join(options.workDir, 'trees');
  const runDir = path.join(options.workDir, 'last-run');
  const logDir = path.join(runDir, 'logs');
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  mkdirSync(treesDir, { recursive: true });
  // The servers are found like src/dev/binaries.ts does (PATH first, then the repo's .tools/bin, then the tool cache).
  process.env.PATH = [process.env.PATH, path.join(repo, '.tools', 'bin'), toolCacheDir()].filter(Boolean).join(path.delimiter);

  const machine = machineInfo();
  log(`${modeName} mode, ${runs} run(s) per tool and scenario; logs in ${logDir}`);
  const peers = await provisionPeers({ repo, toolsDir: toolCacheDir(), cliPath, selected, log });
  for (const peer of Object.values(peers.tools)) log(`${peer.name}: ${peer.unavailable ? `not available: ${peer.unavailable}` : `${peer.version} (${peer.origin})`}`);
  if (!peers.timeBin) log(`peak RSS not measured: ${peers.timeProblem}`);

  let t = Date.now();
  const tree = ensureTree(treesDir, mode.tree);
  const changed = ensureChangedTree(treesDir, mode.tree, tree);
  const tiny = ensureTinyTree(treesDir, mode.tree.seed, mode.deleteCount);
  const tinyTar = ensureTar(tiny);
  log(`trees ${tree.generated || tiny.generated ? 'generated' : 'reused'} in ${seconds((Date.now() - t) / 1000)} s under ${treesDir}: ${tree.files.length} files / ${(tree.bytes / 1024 / 1024).toFixed(1)} MiB, delete scenario ${tiny.files.length} files`);

  t = Date.now();
  const minio = await startBenchMinio({ workDir: runDir, logDir });
  let pushcache: BenchPushcache | undefined;
  if (!peers.tools.pushcache.unavailable) {
    try {
      pushcache = await startBenchPushcache({ minio, logDir, cliPath });
    } catch (err) {
      peers.tools.pushcache.unavailable = `its Temporal server or worker did not start: ${(err as Error).message}`;
    }
  }
  log(
    `servers up in ${seconds((Date.now() - t) / 1000)} s: MinIO ${minio.endpoint} (pid ${minio.pid})` +
      (pushcache ? `, Temporal ${pushcache.temporalAddress} (pid ${pushcache.temporalPid}), worker pid ${pushcache.workerPid}` : ''),
  );

  const bucket = new BenchBucket(minio.endpoint, BENCH_CREDENTIALS);
  const notes: string[] = [];
  const requestCounts = (await readRequestCounts(minio.endpoint)) !== undefined;
  if (!requestCounts) notes.push('MinIO did not serve request counters, so request counts are missing.');
  const workerRssPerRun = pushcache ? resetPeakRss(pushcache.workerPid) : false;
  let workerRssOverallKb: number | undefined;

  const available = selected.filter((tool) => !peers.tools[tool].unavailable);
  const configDir = path.join(runDir, 'peer-config');
  mkdirSync(configDir, { recursive: true });
  const commands = new Map<ToolName, ToolCommands>(
    available.map((tool) => [
      tool,
      commandsFor(tool, {
        peer: peers.tools[tool],
        endpoint: minio.endpoint,
        host: minio.host,
        port: minio.port,
        ...BENCH_CREDENTIALS,
        pushcacheEnv: pushcache?.env ?? {},
        configDir,
      }),
    ]),
  );

  const results: Results = new Map();
  const record = (scenario: ScenarioId, tool: ToolName, r: RunRecord) => {
    if (stopping) return;
    const byTool = results.get(scenario) ?? new Map<ToolName, RunRecord[]>();
    results.set(scenario, byTool);
    byTool.set(tool, [...(byTool.get(tool) ?? []), r]);
    const what = r.ok ? `${seconds(r.wallMs / 1000)} s, ${r.requests?.put ?? '?'} PUTs` : `FAILED: ${r.failure}`;
    log(`  ${scenario.padEnd(7)} ${tool.padEnd(9)} ${what}`);
  };

  /** One timed command, with the request counters and the worker's peak RSS around it. */
  const timed = async (tool: ToolName, cmd: Command, label: string): Promise<RunRecord> => {
    const before = await readRequestCounts(minio.endpoint);
    if (tool === 'pushcache' && pushcache && workerRssPerRun) resetPeakRss(pushcache.workerPid);
    const workerCpuBefore = tool === 'pushcache' && pushcache ? readCpuSeconds(pushcache.workerPid) : undefined;
    const m = await measure(cmd, { logFile: path.join(logDir, `${label}.log`), timeBin: peers.timeBin, timeoutMs: mode.timeoutMs });
    // MinIO counts a request when its handler returns, which can be a moment after the client saw the response.
    await sleep(200);
    const after = await readRequestCounts(minio.endpoint);
    const workerPeakRssKb = tool === 'pushcache' && pushcache ? readPeakRssKb(pushcache.workerPid) : undefined;
    if (workerPeakRssKb) workerRssOverallKb = Math.max(workerRssOverallKb ?? 0, workerPeakRssKb);
    const workerCpuAfter = workerCpuBefore !== undefined && pushcache ? readCpuSeconds(pushcache.workerPid) : undefined;
    const workerCpuS = workerCpuAfter !== undefined ? workerCpuAfter - workerCpuBefore! : undefined;
    return { ok: m.ok, wallMs: m.wallMs, peakRssKb: m.peakRssKb, cpuS: m.cpuS, workerPeakRssKb, workerCpuS, requests: requestDelta(before, after), failure: m.failure };
  };

  /** Fails a run that exited 0 but left the bucket in the wrong state. */
  const check = async (r: RunRecord, bucketName: string, expected: number): Promise<RunRecord> => {
    if (!r.ok) return r;
    const found = await bucket.count(bucketName, `data/${APP}/`);
    return found === expected ? r : { ...r, ok: false, failure: `exited 0 but left ${found} objects under data/${APP}/, expected ${expected}` };
  };

  const publishers = options.sharedOnly ? [] : available;
  const deleters = options.sharedOnly ? [] : available.filter((tool) => commands.get(tool)!.remove);
  for (let run = 1; run <= runs; run++) {
    log(`run ${run} of ${runs}`);
    const order = rotate(publishers, run - 1);
    for (const tool of order) {
      const c = commands.get(tool)!;
      const b = `r${run}-${tool}-publish`;
      await bucket.create(b);
      const cold = await check(await timed(tool, c.cold(tree.dir, b, `${b}-cold`), `${b}-cold`), b, tree.files.length);
      record('cold', tool, cold);
      if (!cold.ok) {
        record('noop', tool, { ok: false, wallMs: 0, failure: 'its cold upload failed' });
        record('changed', tool, { ok: false, wallMs: 0, failure: 'its cold upload failed' });
        continue;
      }
      record('noop', tool, await check(await timed(tool, c.republish(tree.dir, b, `${b}-noop`), `${b}-noop`), b, tree.files.length));
      touchChanged(changed);
      record('changed', tool, await check(await timed(tool, c.republish(changed.dir, b, `${b}-changed`), `${b}-changed`), b, changed.files.length));
    }
    for (const tool of rotate(deleters, run - 1)) {
      const b = `r${run}-${tool}-delete`;
      await bucket.create(b);
      const seeding = Date.now();
      const how = await seedDeleteBucket(bucket, b, tiny, tinyTar);
      log(`  seeded ${b} with ${tiny.files.length} objects in ${seconds((Date.now() - seeding) / 1000)} s, ${how} (not timed)`);
      // Older than the 1 s grace pushcache is given, so every object may go.
      await sleep(2000);
      record('delete', tool, await check(await timed(tool, commands.get(tool)!.remove!(b), `${b}-remove`), b, 0));
    }
  }

  // 20 apps sharing 60% of their bytes, each published cold one after another (issue 18).
  const sharedTrees = ensureSharedTrees(treesDir, SHARED_SPECS[modeName]);
  const sharedRuns = new Map<string, SharedRow[]>();
  for (let run = 1; run <= runs; run++) {
    for (const { variant, tool } of rotate(SHARED_VARIANTS, run - 1)) {
      if (!available.includes(tool) || stopping) continue;
      const b = `r${run}-shared-${variant.replace(/[^a-z0-9]+/g, '-')}`.replace(/-+$/, '');
      await bucket.create(b);
      const ctx = { peer: peers.tools[tool], endpoint: minio.endpoint, pushcacheEnv: pushcache?.env ?? {}, awsEnv: awsEnv({ configDir, ...BENCH_CREDENTIALS }) };
      const appRuns: AppRun[] = [];
      for (const a of sharedTrees.apps) {
        const r = await timed(tool, sharedCommand(variant, ctx, a.dir, b, a.app), `${b}-${a.app}`);
        const found = r.ok ? await bucket.count(b, `data/${a.app}/`) : 0;
        appRuns.push(r.ok && found !== a.files.length ? { ...r, ok: false, failure: `exited 0 but left ${found} objects under data/${a.app}/, expected ${a.files.length}` } : r);
        if (!appRuns.at(-1)!.ok) break;
      }
      const row = summarizeShared(variant, appRuns, sharedTrees);
      sharedRuns.set(variant, [...(sharedRuns.get(variant) ?? []), row]);
      log(`  shared  ${variant.padEnd(20)} ${row.problem ?? `${seconds(row.wallS!)} s, ${row.put ?? '?'} PUTs, ${row.copy ?? '?'} COPYs, ${((row.bytesIn ?? 0) / 1024 / 1024).toFixed(1)} MiB sent`}`);
    }
  }
  const sharedRows = SHARED_VARIANTS.map(({ variant, tool }) => {
    const rows = sharedRuns.get(variant);
    if (!rows) return summarizeShared(variant, undefined, sharedTrees, available.includes(tool) ? undefined : `not available: ${peers.tools[tool].unavailable ?? 'not selected'}`);
    // The run with the median wall time stands for the variant.
    const ok = rows.filter((r) => r.wallS !== undefined).sort((x, y) => x.wallS! - y.wallS!);
    return ok.length ? ok[Math.floor((ok.length - 1) / 2)] : rows[0];
  });

  if (pushcache) {
    const last = readPeakRssKb(pushcache.workerPid);
    if (last) workerRssOverallKb = Math.max(workerRssOverallKb ?? 0, last);
  }
  bucket.destroy();
  await stopServers();

  const scenarioList = scenarios(mode.deleteCount);
  const toolsByScenario = new Map<ScenarioId, ToolName[]>(
    scenarioList.map((s) => [s.id, TOOL_NAMES.filter((tool) => describeCommand(tool, s.id) !== undefined)]),
  );
  const rows = new Map(scenarioList.map((s) => [s.id, summarize(toolsByScenario.get(s.id)!, results.get(s.id), peers)]));
  console.log('');
  for (const s of scenarioList) console.log(`${renderConsoleTable(s, rows.get(s.id)!)}\n`);
  console.log(`${renderShared(sharedRows, sharedTrees, false)}\n`);

  notes.push(...options.note, ...standingNotes(peers));
  const markdown = renderMarkdown({
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    mode: modeName,
    command: ['npm run bench', ...benchArgs(process.argv.slice(2))].join(' '),
    runs,
    durationS: (Date.now() - started) / 1000,
    machine,
    loadAtEnd: loadAverage(),
    peers,
    tree: { ...tree, spec: mode.tree },
    changedFile: changed.changed,
    deleteCount: mode.deleteCount,
    scenarios: scenarioList,
    toolsByScenario,
    rows,
    requestCounts,
    workerRssPerRun,
    workerRssOverallKb,
    notes,
    sections: [renderShared(sharedRows, sharedTrees, true)],
  });
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(options.out, markdown);
  log(`report written to ${path.relative(process.cwd(), options.out) || options.out}; took ${Math.round((Date.now() - started) / 1000)} s`);
  // Last: MinIO's data of a full run is millions of files, minutes to remove, which the report need not wait for.
  log('removing the run\'s MinIO data');
  rmSync(path.join(runDir, 'minio'), { recursive: true, force: true });
}

/** The command line for the report: `--` and the flags that change what runs, without --out, --work-dir and --note. */
function benchArgs(argv: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag] = argv[i].split('=');
    if (['--out', '--work-dir', '--note'].includes(flag)) {
      if (!argv[i].includes('=')) i++;
      continue;
    }
    kept.push(argv[i]);
  }
  return kept.length ? ['--', ...kept] : [];
}

function rotate<T>(items: T[], by: number): T[] {
  if (!items.length) return items;
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * Fills a bucket for the delete scenario: the tiny files, unpacked by MinIO from one tar (file
 * by file with the SDK if that does not give them all), and a manifest naming them, an hour old.
 */
async function seedDeleteBucket(bucket: BenchBucket, name: string, tiny: Tree, tarFile: string): Promise<string> {
  const prefix = `data/${APP}/`;
  let how = 'one tar, unpacked by MinIO';
  const unpacked = await bucket.seedFromTar(name, prefix, tarFile).then(
    () => undefined,
    (err: Error) => err.message,
  );
  const found = unpacked === undefined ? await bucket.count(name, prefix) : 0;
  if (found !== tiny.files.length) {
    how = `file by file (unpacking the tar gave ${unpacked ?? `${found} objects`})`;
    await bucket.seed(name, prefix, tiny.dir, tiny.files);
  }
  const timestamp = Math.floor(Date.now() / 1000) - 3600;
  const manifest = { files: tiny.files.map((f) => f.path), image: 'bench-seed', timestamp };
  await bucket.put(name, `manifests/${APP}/${timestamp}`, JSON.stringify(manifest));
  const total = await bucket.count(name, prefix);
  if (total !== tiny.files.length) throw new Error(`seeding ${name} left ${total} objects under ${prefix}, expected ${tiny.files.length}`);
  return how;
}

/** What a reader must know to read the tables right; true whatever the numbers. */
function standingNotes(peers: Peers): string[] {
  const notes = [
    'Only pushcache and valpop publish in the bucket contract: a manifest under `manifests/<app>/`, the contract\'s Content-Type and Cache-Control headers, and a prune of old builds after each publish; pushcache also writes `fed-mods.json` last, takes the app lock through Temporal, and writes and removes a staging record. The S3 tools copy bytes only, so they do less work. All of them write the files to `data/<app>/`.',
    'How a republish decides what to upload: pushcache lists `data/<app>/` once, reads the newest manifests, and skips a file whose object has the same size and ETag and whose newest build recorded the same sha256 ([design.md, "What a republish skips"](design.md#what-a-republish-skips)); `fed-mods.json` too when the live one already is this build\'s; it writes its staging record, the copies of the entry files and the manifest. valpop uploads every file for a new `--image`. `aws s3 sync` and `s5cmd sync` compare size and modification time against the listing; `rclone sync` does too, but reads each object\'s modification time from its metadata.',
    'pushcache\'s times include connecting to Temporal and starting the Job\'s own worker in the `pushcache populate` process, which a one-shot S3 command does not have.',
  ];
  if (process.env.AWS_CA_BUNDLE && !peers.tools.rclone.unavailable) {
    notes.push('AWS_CA_BUNDLE is set on this machine; it is removed from rclone\'s environment, since rclone 1.60 does not start with it ("unsupported transport") and the endpoint is plain HTTP.');
  }
  const valpop = peers.tools.valpop;
  if (valpop.version?.includes('built from')) {
    notes.push(`valpop was not installed by \`go install\` from the module proxy but built from a local copy of its source, as \`go version -m\` records: ${valpop.version}.`);
  }
  return notes;
}

let stopping = false;
async function shutdown(code: number, why?: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (why) console.error(`bench: ${why}; stopping the commands and servers it started`);
  await stopRunningCommands();
  await stopServers();
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(130, 'interrupted'));
process.on('SIGTERM', () => void shutdown(143, 'terminated'));
process.on('exit', () => {
  killRunningCommands();
  killServersNow();
});

main().then(
  () => shutdown(0),
  (err: Error) => {
    // After Ctrl-C the servers are going away under the running code; that error is no news.
    if (stopping) return;
    console.error(`bench: failed: ${err.stack ?? err.message}`);
    void shutdown(1);
  },
);

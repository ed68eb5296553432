import type { MachineInfo } from './machine';
import type { RequestDelta } from './metrics';
import type { Peers, ToolName } from './peers';
import { describeCommand, type Scenario, type ScenarioId } from './scenarios';
import type { Tree } from './trees';

/** Turns the measurements into tables: medians, ratios, and the markdown report. */

export interface RunRecord {
  ok: boolean;
  wallMs: number;
  peakRssKb?: number;
  /** pushcache only: the shared worker's peak RSS during this run. */
  workerPeakRssKb?: number;
  /** CPU-seconds (user+sys) of the tool's process tree. */
  cpuS?: number;
  /** pushcache only: CPU-seconds the shared worker used during this run. */
  workerCpuS?: number;
  requests?: RequestDelta;
  failure?: string;
}

export type Results = Map<ScenarioId, Map<ToolName, RunRecord[]>>;

export interface Row {
  tool: ToolName;
  /** Set when the tool has no successful run: why. */
  problem?: string;
  /** Failures of some runs while others succeeded. */
  partial?: string;
  medianS?: number;
  ratio?: number;
  runsS: number[];
  put?: string;
  del?: string;
  all?: string;
  rss?: string;
  workerRss?: string;
  cpu?: string;
  workerCpu?: string;
}

/** The median of the measured CPU-seconds, "1.23 s". */
function medianCpu(values: Array<number | undefined>): string | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length ? `${median(known).toFixed(2)} s` : undefined;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (kb: number) => `${Math.round(kb / 1024).toLocaleString('en-US')} MiB`;
export const seconds = (s: number) => (s < 10 ? s.toFixed(2) : s.toFixed(1));

/** "1,234" when every run agrees, else "1,200-1,300". */
function spread(values: number[]): string | undefined {
  if (!values.length) return undefined;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? int(lo) : `${int(lo)}-${int(hi)}`;
}

export function summarize(tools: ToolName[], byTool: Map<ToolName, RunRecord[]> | undefined, peers: Peers): Row[] {
  const rows: Row[] = tools.map((tool) => {
    const unavailable = peers.tools[tool].unavailable;
    if (unavailable) return { tool, problem: `not available: ${unavailable}`, runsS: [] };
    const runs = byTool?.get(tool) ?? [];
    const ok = runs.filter((r) => r.ok);
    const failed = runs.filter((r) => !r.ok);
    if (!ok.length) return { tool, problem: runs.length ? `failed: ${failed[0].failure}` : 'not run', runsS: [] };
    const withRequests = ok.filter((r) => r.requests);
    const rss = ok.map((r) => r.peakRssKb).filter((v): v is number => v !== undefined);
    const workerRss = ok.map((r) => r.workerPeakRssKb).filter((v): v is number => v !== undefined);
    return {
      tool,
      partial: failed.length ? `${failed.length} of ${runs.length} runs failed: ${failed[0].failure}` : undefined,
      medianS: median(ok.map((r) => r.wallMs / 1000)),
      runsS: ok.map((r) => r.wallMs / 1000),
      put: spread(withRequests.map((r) => r.requests!.put)),
      del: spread(withRequests.map((r) => r.requests!.delete)),
      all: spread(withRequests.map((r) => r.requests!.all)),
      rss: rss.length ? mib(Math.max(...rss)) : undefined,
      workerRss: workerRss.length ? mib(Math.max(...workerRss)) : undefined,
      cpu: medianCpu(ok.map((r) => r.cpuS)),
      workerCpu: medianCpu(ok.map((r) => r.workerCpuS)),
    };
  });
  const fastest = Math.min(...rows.filter((r) => r.medianS !== undefined).map((r) => r.medianS!));
  for (const r of rows) if (r.medianS !== undefined) r.ratio = r.medianS / fastest;
  return rows;
}

interface Column {
  head: string;
  cell: (r: Row) => string;
  right?: boolean;
}

function columns(scenario: ScenarioId): Column[] {
  const cols: Column[] = [
    { head: 'tool', cell: (r) => r.tool },
    { head: 'median wall', cell: (r) => (r.medianS !== undefined ? `${seconds(r.medianS)} s` : '-'), right: true },
    { head: 'vs fastest', cell: (r) => (r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '-'), right: true },
    { head: 'runs (s)', cell: (r) => r.runsS.map(seconds).join(', ') || '-' },
    { head: 'PUT requests', cell: (r) => r.put ?? '-', right: true },
  ];
  if (scenario === 'delete') cols.push({ head: 'delete requests', cell: (r) => r.del ?? '-', right: true });
  cols.push(
    { head: 'all requests', cell: (r) => r.all ?? '-', right: true },
    { head: 'peak RSS', cell: (r) => r.rss ?? '-', right: true },
    { head: 'worker peak RSS', cell: (r) => r.workerRss ?? '-', right: true },
    { head: 'CPU', cell: (r) => r.cpu ?? '-', right: true },
    { head: 'worker CPU', cell: (r) => r.workerCpu ?? '-', right: true },
  );
  return cols;
}

function problemNote(r: Row): string | undefined {
  return r.problem ?? r.partial;
}

export function renderConsoleTable(scenario: Scenario, rows: Row[]): string {
  const cols = columns(scenario.id);
  const cells = rows.map((r) => (r.problem ? [r.tool, r.problem] : cols.map((c) => c.cell(r))));
  const widths = cols.map((c, i) => Math.max(c.head.length, ...cells.filter((row) => row.length === cols.length || i === 0).map((row) => row[i].length)));
  const fmt = (row: string[]) =>
    row.length === cols.length ? row.map((v, i) => (cols[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ') : `${row[0].padEnd(widths[0])}  ${row[1]}`;
  const lines = [`== ${scenario.title}`, fmt(cols.map((c) => c.head)), fmt(widths.map((w) => '-'.repeat(w))), ...cells.map(fmt)];
  for (const r of rows) if (r.partial) lines.push(`   ${r.tool}: ${r.partial}`);
  return lines.join('\n');
}

function markdownTable(scenario: Scenario, rows: Row[]): string {
  const cols = columns(scenario.id);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`| ${cols.map((c) => c.head).join(' | ')} |`, `|${cols.map((c) => (c.right ? '---:' : '---')).join('|')}|`];
  for (const r of rows) {
    if (r.problem) lines.push(`| ${r.tool} | ${esc(r.problem)} |${' |'.repeat(cols.length - 2)}`);
    else lines.push(`| ${cols.map((c) => esc(c.cell(r))).join(' | ')} |`);
  }
  const notes = rows.filter((r) => r.partial).map((r) => `${r.tool}: ${esc(problemNote(r)!)}`);
  return [lines.join('\n'), ...(notes.length ? ['', ...notes.map((n) => `Note: ${n}`)] : [])].join('\n');
}

export interface ReportData {
  date: string;
  mode: 'full' | 'quick';
  /** The command line the bench ran with. */
  command: string;
  runs: number;
  durationS: number;
  machine: MachineInfo;
  loadAtEnd: string;
  peers: Peers;
  tree: Tree & { spec: { seed: number } };
  changedFile: string;
  deleteCount: number;
  scenarios: Scenario[];
  toolsByScenario: Map<ScenarioId, ToolName[]>;
  rows: Map<ScenarioId, Row[]>;
  /** Whether request counts could be read from MinIO, and the worker's peak RSS per run. */
  requestCounts: boolean;
  workerRssPerRun: boolean;
  workerRssOverallKb?: number;
  notes: string[];
  /** Further scenarios, each a markdown section of its own, after the numbered ones. */
  sections?: string[];
}

function treeLine(tree: Tree): string {
  const big = tree.files
    .filter((f) => f.size >= 8 * 1024 * 1024)
    .sort((a, b) => b.size - a.size)
    .map((f) => `${(f.size / 1024 / 1024).toFixed(0)} MiB`);
  return `${int(tree.files.length)} files, ${(tree.bytes / 1024 / 1024).toFixed(1)} MiB; files of 8 MiB and more: ${big.join(', ') || 'none'}`;
}

function duration(s: number): string {
  return s < 120 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function renderMarkdown(d: ReportData): string {
  const out: string[] = [];
  const p = (...lines: string[]) => out.push(...lines);
  p('# Benchmarks', '');
  p(
    `Generated by \`${d.command}\` on ${d.date}, in **${d.mode} mode**: ` +
      `${d.runs} run${d.runs > 1 ? 's' : ''} per tool and scenario; the whole bench took ${duration(d.durationS)}. ` +
      'pushcache and the standard S3 tools ran one after the other on the same machine against the same local MinIO. ' +
      'Everything is on one machine over loopback, so these numbers compare tools; they do not predict times against a remote S3.',
    '',
  );
  if (d.mode === 'quick') p(`**Quick mode:** a small tree${d.runs === 1 ? ' and one run each' : ''}; fixed costs (starting a process, connecting) weigh more than on the full tree.`, '');
  else if (d.runs < 3) p(`**Full-size trees, but ${d.runs === 1 ? 'one run' : `${d.runs} runs`} per tool and scenario** instead of the full mode's 3: each number is ${d.runs === 1 ? 'a single measurement' : 'a median of few runs'}.`, '');
  p('## Machine', '', '| | |', '|---|---|');
  p(`| CPU | ${d.machine.cpu} |`, `| memory | ${d.machine.memory} |`, `| OS | ${d.machine.os} |`);
  p(`| node | ${d.machine.node} |`, `| go | ${d.machine.go} |`, `| MinIO | ${d.machine.minio} |`, `| Temporal CLI | ${d.machine.temporal} |`);
  p(`| load average (1 min) | ${d.machine.loadAtStart} at the start, ${d.loadAtEnd} at the end (counts the bench's own build, servers and tools, and anything else running) |`, '');
  p('## Tools', '', '| tool | version | where it came from |', '|---|---|---|');
  for (const peer of Object.values(d.peers.tools)) {
    p(peer.unavailable ? `| ${peer.name} | not available: ${peer.unavailable} | |` : `| ${peer.name} | ${peer.version} | ${peer.origin} |`);
  }
  p('', 'Every tool runs with its default settings (concurrency, part size, checks).', '');
  p('## Trees', '');
  p(
    `- Main tree (seed ${d.tree.spec.seed}): ${treeLine(d.tree)}. Mixed sizes like a frontend build: ` +
      'mostly small `.js`, `.css`, `.map`, image and font files, a few hundred KiB files, and the big files above; pseudo-random (incompressible) bytes, except `fed-mods.json` and `index.html`, which load six of the tree’s scripts and a stylesheet as a build’s do.',
  );
  p(`- Changed copy: \`${d.changedFile}\` differs; every other file is a hard link to the main tree's.`);
  p(`- Delete scenario: ${int(d.deleteCount)} files of 100-400 bytes.`, '');
  p('## How it was measured', '');
  p(
    '- **wall**: from starting the command to its exit, as the bench process sees it. The median of the runs is shown, every run in "runs (s)", and "vs fastest" divides the median by the fastest median.',
    `- **PUT requests**: PutObject plus PutObjectPart requests MinIO counted during the command (\`minio_api_requests_total\` from \`/minio/metrics/v3/api/requests\`, read before and after). "all requests" counts every S3 request (lists, heads, gets, multipart bookkeeping, deletes).${d.requestCounts ? '' : ' **MinIO did not report these counters in this run.**'}`,
    [
      '- **peak RSS**: the tool process\'s maximum resident set (`/usr/bin/time -f %M`).',
      ...(d.peers.timeBin ? [] : [`**Not measured in this run: ${d.peers.timeProblem}.**`]),
      'For pushcache that is the Job (`pushcache populate` or `pushcache prune`, one Node process); the Job does the file uploads itself.',
    ].join(' '),
    `- **worker peak RSS**: pushcache only, the shared worker's VmHWM from \`/proc/<pid>/status\`, ${d.workerRssPerRun ? 'reset before each run (`/proc/<pid>/clear_refs`), so it is the peak during that run' : 'which could not be reset between runs, so it is the peak since the worker started'}. The worker runs the workflows and the app lock, and deletes for \`pushcache prune\`; the Job writes every file and the manifest of a publish.${d.workerRssOverallKb ? ` Its peak over the whole bench was ${mib(d.workerRssOverallKb)}.` : ''}`,
    '- **CPU**: CPU-seconds, user plus system, of the tool\'s process and every process it started and waited for (`/usr/bin/time -f "%U %S"`), median of the runs. On a 2-core machine shared by the tool, MinIO and (for pushcache) Temporal and the worker, CPU is what they compete for. **worker CPU**: pushcache only, what the shared worker used during the run (utime plus stime of `/proc/<pid>/stat`, read before and after); the Temporal server\'s is not counted.',
    "- What does not depend on the machine's speed is checked in CI instead (`test/integration/request-counts.test.ts`): through a counting proxy in front of MinIO, a cold publish of 10,002 files sends exactly one data PUT per file, an unchanged republish none, one changed file exactly that file's; publishes of 10,002 and 100,002 files stay under 250 history events with no payload over 64 KB.",
    '- pushcache needs its Temporal server and worker running; they were started once, before the first run, and are not part of the times.',
    '- Every run uses a new bucket (scenarios 2 and 3 reuse the bucket of the same tool\'s cold upload); the tool order is rotated from run to run.',
    '',
  );
  d.scenarios.forEach((s, i) => {
    const tools = d.toolsByScenario.get(s.id) ?? [];
    p(`## ${i + 1}. ${s.title}`, '', s.method, '');
    p(markdownTable(s, d.rows.get(s.id) ?? []), '');
    p('Commands:', '', '```');
    for (const t of tools) {
      const line = describeCommand(t, s.id);
      if (line) p(line);
    }
    p('```', '');
  });
  for (const section of d.sections ?? []) p(section);
  if (d.notes.length) {
    p('## Notes', '');
    for (const n of d.notes) p(`- ${n}`);
    p('');
  }
  return out.join('\n');
}

import { readFileSync, writeFileSync } from 'node:fs';

/**
 * What the server side saw: MinIO's request counters, and the peak RSS of a long-running
 * process (the pushcache worker) read from /proc.
 *
 * MinIO's v2 cluster endpoint (/minio/v2/metrics/cluster) carries no per-API request counters
 * in the MinIO this project builds, and the v2 node endpoint refreshes them only every few
 * seconds; the v3 endpoint below is counted live, so a reading right after a command is exact.
 * Reading it needs the server started with MINIO_PROMETHEUS_AUTH_TYPE=public.
 */
export const REQUESTS_METRICS_PATH = '/minio/metrics/v3/api/requests';

export type RequestCounts = Map<string, number>;
/** The key under which RequestCounts holds the bytes received, not a request count. */
const RECEIVED_BYTES = 'bytes:received';

/** Requests MinIO has served since it started, by S3 API name (PutObject, PutObjectPart, DeleteMultipleObjects, ...); undefined if it serves no such metrics. */
export async function readRequestCounts(endpoint: string): Promise<RequestCounts | undefined> {
  const res = await fetch(`${endpoint}${REQUESTS_METRICS_PATH}`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  if (!res?.ok) return undefined;
  const counts: RequestCounts = new Map();
  const text = await res.text();
  for (const line of text.split('\n')) {
    const m = /^minio_api_requests_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const name = /(?:^|,)name="([^"]+)"/.exec(m[1])?.[1];
    if (name) counts.set(name, (counts.get(name) ?? 0) + Number(m[2]));
  }
  // Request bodies received over the S3 API: what the clients sent.
  for (const line of text.split('\n')) {
    const m = /^minio_api_requests_traffic_received_bytes\{([^}]*)\}\s+(\S+)/.exec(line);
    if (m && /(?:^|,)type="s3"/.test(m[1])) counts.set(RECEIVED_BYTES, (counts.get(RECEIVED_BYTES) ?? 0) + Number(m[2]));
  }
  return counts;
}

export interface RequestDelta {
  /** PutObject plus multipart part uploads (PutObjectPart). */
  put: number;
  /** DeleteObject plus DeleteMultipleObjects calls (one call deletes up to 1,000 keys). */
  delete: number;
  /** Every S3 request, of any kind (lists, heads, gets, multipart bookkeeping...). */
  all: number;
  /** Server-side copies: CopyObject plus UploadPartCopy (CopyObjectPart). */
  copy: number;
  /** Bytes of request bodies MinIO received. */
  bytesIn: number;
}

export function requestDelta(before: RequestCounts | undefined, after: RequestCounts | undefined): RequestDelta | undefined {
  if (!before || !after) return undefined;
  const d = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  let all = 0;
  for (const name of after.keys()) if (name !== RECEIVED_BYTES) all += d(name);
  return { put: d('PutObject') + d('PutObjectPart'), delete: d('DeleteObject') + d('DeleteMultipleObjects'), all, copy: d('CopyObject') + d('CopyObjectPart'), bytesIn: d(RECEIVED_BYTES) };
}

/** Resets the kernel's peak-RSS mark (VmHWM) of `pid` so the next reading covers one run; false if not permitted. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU-seconds (user plus system, every thread) a running process has used so far, from /proc/<pid>/stat. */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Linux reports them in clock ticks, USER_HZ, which is 100 on every architecture Node runs on.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Peak RSS (VmHWM) of a running process in KiB. */
export function readPeakRssKb(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

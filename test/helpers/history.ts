import type { Client } from '@temporalio/client';

/**
 * Everything a history says, as searchable text. `JSON.stringify` of a fetched history leaves
 * payloads (workflow and activity inputs, results, memos, heartbeat details, failures' details)
 * as byte arrays, so a string inside them is never found; here every byte array is decoded as
 * UTF-8 (JSON payloads are text; protobuf payloads keep their strings as UTF-8 bytes too).
 */
export function historyText(history: unknown): string {
  const parts: string[] = [];
  const walk = (value: unknown): void => {
    if (value === null || value === undefined) return;
    if (value instanceof Uint8Array) {
      parts.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8'));
    } else if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        parts.push(k);
        walk(v);
      }
    } else {
      parts.push(String(value));
    }
  };
  walk(history);
  return parts.join('\n');
}

/** Every run (continued-as-new runs included) of the workflows started since `since` whose ID `select` picks. */
export async function listRuns(client: Client, since: Date, select: (workflowId: string) => boolean): Promise<Array<{ workflowId: string; runId: string; type: string }>> {
  const runs: Array<{ workflowId: string; runId: string; type: string }> = [];
  for await (const w of client.workflow.list({ query: `StartTime >= '${since.toISOString()}'` })) {
    if (select(w.workflowId)) runs.push({ workflowId: w.workflowId, runId: w.runId, type: w.type });
  }
  return runs;
}

/** Byte sizes of every payload's data in a history (inputs, results, memos, heartbeats, failures). */
export function payloadSizes(history: unknown): number[] {
  const sizes: number[] = [];
  const walk = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    if (Array.isArray(value)) return value.forEach(walk);
    for (const [k, v] of Object.entries(value)) {
      if (k === 'data' && v instanceof Uint8Array) sizes.push(v.byteLength);
      else walk(v);
    }
  };
  walk(history);
  return sizes;
}

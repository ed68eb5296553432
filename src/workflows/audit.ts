import { proxyActivities, upsertMemo } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { AuditActivities } from '../activities/audit';
import type { PruneActivities } from '../activities/prune';
import type { AuditInput, AuditResult } from '../audit/types';
import { PERMANENT, rootMessage } from './failures';
import { attemptsOf, lanes } from './helpers';

/** Keys of each kind an app's report keeps in the result; the rest are counted. */
const LIST_LIMIT = 20;
/** Apps with problems whose keys the result keeps; beyond them, counts only (a result must stay far below Temporal's 2 MB payload limit). */
const RESULT_APPS_WITH_KEYS = 100;
/** Apps with problems, and keys of each, that the memo (shown in the Web UI's run list) names. */
const MEMO_APPS = 10;
const MEMO_KEYS = 3;

/**
 * Checks that the retained builds of one app, or of every app, are whole in the bucket: each
 * object its newest naming manifest recorded, at that size and ETag, and the live fed-mods.json
 * the newest build's (issue 17). Reads only; a prune's or a publish's concurrent writes can show
 * up as a problem that the next audit no longer finds.
 */
export async function AuditWorkflow(input: AuditInput): Promise<AuditResult> {
  const retry: RetryPolicy = { initialInterval: '1s', maximumInterval: '30s', ...attemptsOf(input.maxAttempts), nonRetryableErrorTypes: PERMANENT };
  const audit = proxyActivities<AuditActivities>({ startToCloseTimeout: '30m', retry });
  const listing = proxyActivities<PruneActivities>({ startToCloseTimeout: '10m', retry });

  const apps = input.all ? (await listing.listApps({ bucket: input.bucket })).apps : [input.app!];
  const result: AuditResult = { bucket: input.bucket, apps, ok: 0, missing: 0, mismatched: 0, unreadable: 0, liveMismatches: 0, problems: [], failed: [] };
  const reports = new Array<AuditResult['problems'][number] | undefined>(apps.length);
  await lanes(input.appParallelism, apps.length, async (i) => {
    try {
      reports[i] = await audit.auditApp({ bucket: input.bucket, app: apps[i], listLimit: LIST_LIMIT });
    } catch (err) {
      result.failed.push({ app: apps[i], reason: rootMessage(err) });
    }
  });
  for (const r of reports) {
    if (!r) continue;
    result.missing += r.missingCount;
    result.mismatched += r.mismatchedCount;
    result.unreadable += r.unreadableCount;
    if (r.liveProblem) result.liveMismatches++;
    if (r.ok) result.ok++;
    else result.problems.push(r);
  }
  result.failed.sort((a, b) => a.app.localeCompare(b.app));
  result.problems = result.problems.map((p, i) => (i < RESULT_APPS_WITH_KEYS ? p : { ...p, missing: [], mismatched: [], unreadable: [] }));
  upsertMemo({ result: memoOf(result) });
  return result;
}

/** Counts and the first keys only: a memo stays small whatever the bucket holds. */
function memoOf(r: AuditResult) {
  return {
    apps: r.apps.length,
    ok: r.ok,
    missing: r.missing,
    mismatched: r.mismatched,
    unreadable: r.unreadable,
    liveMismatches: r.liveMismatches,
    failed: r.failed.length,
    problems: r.problems.slice(0, MEMO_APPS).map((p) => ({
      app: p.app,
      missing: p.missingCount,
      mismatched: p.mismatchedCount,
      unreadable: p.unreadableCount,
      ...(p.liveProblem ? { live: p.liveProblem } : {}),
      keys: [...p.missing.map((m) => m.path), ...p.mismatched.map((m) => m.path), ...p.unreadable.map((u) => u.key)].slice(0, MEMO_KEYS),
    })),
  };
}

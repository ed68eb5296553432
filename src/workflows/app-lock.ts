import {
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { LockActivities } from '../activities/lock';
import {
  appLockWorkflowId,
  lockGrantedSignal,
  lockReleaseSignal,
  lockRequestSignal,
  lockStateQuery,
  type AppLockInput,
  type AppLockWorkflowFunction,
  type LockGeneration,
  type LockMode,
  type LockOwner,
  type LockRequest,
} from './app-lock-api';

// The lock's signals, query, ID and types live in app-lock-api.ts, shared with the activity that
// starts this workflow and with the clients that read it; re-exported for existing importers.
export * from './app-lock-api';

/**
 * A readers-writer lock per app, kept by one long-lived workflow per app. Publishes hold it
 * shared from before they look at the bucket until their manifest is written; a prune holds it
 * exclusively while it reads manifests and deletes. So a prune never deletes an object that a
 * publish in progress wrote or chose not to rewrite, and a publish never starts relying on an
 * object that a running prune has already decided to delete.
 *
 * Publishes are never made to wait for a prune that is only waiting: a prune takes the lock
 * when no publish holds it, or gives up after its wait and reports the app busy.
 */

/**
 * An idle lock workflow ends after this; the next request starts a new one. Far longer than the
 * minute an early view is used within (bucket/listing-trust.ts relies on it).
 */
const IDLE_LINGER = '5 minutes';
/** While someone waits, holders are checked this often: a terminated holder must not block forever. */
const LIVENESS_INTERVAL = '1 minute';
/** A requester repeats its request this often, so a lost grant or a lock restarted by continue-as-new cannot strand it. */
const REREQUEST_INTERVAL_MS = 60_000;

export async function AppLockWorkflow(input: AppLockInput): Promise<void> {
  const holders = [...(input.holders ?? [])];
  const waiting = [...(input.waiting ?? [])];
  const regrant: LockRequest[] = [];
  // Lock workflows started before generations were counted grant without one.
  const generation: LockGeneration | undefined = patched('16-lock-generation') ? { ...(input.generation ?? { epoch: workflowInfo().runId, changes: 0 }) } : undefined;
  // The generation each holder was granted at, by token; unknown for holders carried over by continue-as-new.
  const grantedAt = new Map<string, LockGeneration>();
  let dirty = true;
  const acts = proxyActivities<LockActivities>({ startToCloseTimeout: '1m', retry: { maximumInterval: '30s' } });

  setHandler(lockRequestSignal, (request) => {
    dirty = true;
    if (holders.some((h) => h.token === request.token)) regrant.push(request);
    else if (!waiting.some((w) => w.token === request.token)) waiting.push(request);
  });
  setHandler(lockReleaseSignal, ({ token }) => {
    dirty = true;
    remove(holders, token);
    remove(waiting, token);
    grantedAt.delete(token);
  });
  setHandler(lockStateQuery, () => ({ bucket: input.bucket, app: input.app, holders, waiting, ...(generation ? { generation: { ...generation } } : {}) }));

  for (;;) {
    dirty = false;
    for (const request of [...regrant.splice(0), ...admit()]) await grant(request);
    if (dirty) continue;
    if (holders.length === 0 && waiting.length === 0) {
      if (!(await condition(() => dirty, IDLE_LINGER))) return;
    } else if (waiting.length > 0) {
      if (!(await condition(() => dirty, LIVENESS_INTERVAL))) await dropClosedHolders();
    } else {
      await condition(() => dirty);
    }
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof AppLockWorkflow>({ bucket: input.bucket, app: input.app, holders, waiting, ...(generation ? { generation } : {}) });
    }
  }

  function admit(): LockRequest[] {
    const admitted: LockRequest[] = [];
    for (let i = 0; i < waiting.length; ) {
      const r = waiting[i];
      const free =
        r.mode === 'shared' ? !holders.some((h) => h.mode === 'exclusive') : r.mode === 'go-live' ? goLiveTurn(r) : holders.length === 0;
      if (free) {
        holders.push(r);
        admitted.push(r);
        waiting.splice(i, 1);
        if (generation) {
          grantedAt.set(r.token, { ...generation });
          // Go-live turns and exclusive locks are what may change objects a build holds.
          if (r.mode !== 'shared') generation.changes++;
        }
      } else {
        i++;
      }
    }
    return admitted;
  }

  /** The requester's turn comes when no one is going live and no publish that started before it is still running. */
  function goLiveTurn(r: LockRequest): boolean {
    if (holders.some((h) => h.mode === 'go-live')) return false;
    const own = holders.findIndex((h) => h.mode === 'shared' && sameOwner(h.owner, r.owner));
    const earlier = own >= 0 ? holders.slice(0, own) : holders;
    return !earlier.some((h) => h.mode === 'shared' && !sameOwner(h.owner, r.owner));
  }

  async function grant(request: LockRequest): Promise<void> {
    try {
      const at = grantedAt.get(request.token);
      await getExternalWorkflowHandle(request.owner.workflowId, request.owner.runId).signal(lockGrantedSignal, { token: request.token, ...(at ? { generation: at } : {}) });
    } catch {
      // The requester is gone; what it was granted is free again.
      dirty = true;
      remove(holders, request.token);
      grantedAt.delete(request.token);
    }
  }

  async function dropClosedHolders(): Promise<void> {
    const closed = await acts.closedOwners(holders.map((h) => h.owner));
    for (const owner of closed) {
      for (const h of holders.filter((x) => x.owner.workflowId === owner.workflowId && x.owner.runId === owner.runId)) {
        remove(holders, h.token);
        grantedAt.delete(h.token);
      }
    }
    if (closed.length > 0) dirty = true;
  }
}

AppLockWorkflow satisfies AppLockWorkflowFunction;

function sameOwner(a: LockOwner, b: LockOwner): boolean {
  return a.workflowId === b.workflowId && a.runId === b.runId;
}

function remove(list: LockRequest[], token: string): void {
  const i = list.findIndex((r) => r.token === token);
  if (i >= 0) list.splice(i, 1);
}

export interface HeldAppLock {
  release(): Promise<void>;
  /** The lock's generation when it granted this; absent from lock workflows that do not count. */
  generation?: LockGeneration;
}

/**
 * Takes the app's lock for the calling workflow. Resolves undefined when `waitMs` passes
 * first; without `waitMs` it waits as long as it takes.
 */
export async function acquireAppLock(bucket: string, app: string, mode: LockMode, waitMs?: number): Promise<HeldAppLock | undefined> {
  const { workflowId, runId, taskQueue } = workflowInfo();
  const request: LockRequest = { token: `${workflowId}/${runId}/${uuid4()}`, owner: { workflowId, runId }, mode };
  const acts = proxyActivities<LockActivities>({ startToCloseTimeout: '1m', retry: { maximumInterval: '30s' } });
  let granted = false;
  let generation: LockGeneration | undefined;
  setHandler(lockGrantedSignal, (grant) => {
    if (grant.token !== request.token) return;
    granted = true;
    // A repeated grant (after a re-request) carries the generation of the first.
    generation ??= grant.generation;
  });

  const deadline = waitMs === undefined ? Infinity : Date.now() + waitMs;
  const release = () =>
    CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(appLockWorkflowId(bucket, app))
        .signal(lockReleaseSignal, { token: request.token })
        .catch(() => undefined),
    );
  try {
    for (;;) {
      await acts.requestAppLock({ bucket, app, taskQueue, request });
      const left = deadline - Date.now();
      if (granted || left <= 0) break;
      if (await condition(() => granted, Math.min(left, REREQUEST_INTERVAL_MS))) break;
    }
  } catch (err) {
    await release();
    throw err;
  }
  if (!granted) {
    // A grant may already be on its way; releasing the token frees it either way.
    await release();
    return undefined;
  }
  return { release, ...(generation ? { generation } : {}) };
}

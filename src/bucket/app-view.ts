import type { Storage } from '../storage/storage';
import type { LockAtListing } from './listing-trust';
import { readEarlierBuilds, type EarlierWrite, type NewestBuild } from './earlier-builds';
import { listAppObjects, type ListedObject } from './listings';

/** What staging reads of an app to decide what a publish need not upload. */
export interface AppView {
  /** Every object under `data/<app>/` with its size and ETag. */
  existing: Map<string, ListedObject>;
  /** For each path, what the newest of the app's latest builds that names it recorded. */
  earlier: Map<string, EarlierWrite>;
  newest?: NewestBuild;
}

/** A view the Job read early, with when it began (ms since the epoch) and what the app lock said right before. */
export interface EarlyView extends AppView {
  readAt: number;
  lock?: LockAtListing;
}

/** One listing of the app's objects and a read of its newest manifests, side by side. */
export async function readAppView(storage: Storage, app: string, onObject?: () => void): Promise<AppView> {
  const [existing, { earlier, newest }] = await Promise.all([listAppObjects(storage, app, onObject), readEarlierBuilds(storage, app)]);
  return { existing, earlier, newest };
}

/** How old an early view may be when staging takes it; an older one is read again. */
const EARLY_VIEW_MAX_AGE_MS = 60_000;

/**
 * The app's view, read by the Job while it hashes the tree, before the publish holds the app
 * lock. Listing a large app takes about as long as hashing its build, and it was the largest step
 * of a republish; read early, it costs next to nothing. A view taken before the lock is safe to
 * decide from: under the go-live turn the step writes every file the bucket does not hold as this
 * build has it (source/go-live-plan.ts), from a listing taken again unless the app lock proves
 * this one still holds (listing-trust.ts), so a stale view only moves work there. It is handed
 * out once, and only for its app while fresh (listing-trust.ts relies on that minute): a retried
 * staging step, or one that waited long for the lock, reads its own.
 */
export class EarlyAppView {
  private pending?: { app: string; view: Promise<EarlyView | undefined> };
  private readonly read: Promise<AppView | undefined>;
  private settle!: (view: AppView | undefined) => void;

  constructor(private readonly now: () => number = Date.now) {
    this.read = new Promise((resolve) => (this.settle = resolve));
  }

  /**
   * Starts the read. `lockState` is asked first, so that what it says held before the listing
   * began. A failure only means staging reads the view itself, and reports what went wrong then.
   */
  start(storage: Storage, app: string, lockState?: () => Promise<LockAtListing | undefined>): void {
    const view = (async (): Promise<EarlyView> => {
      const readAt = this.now();
      const lock = await lockState?.().catch(() => undefined);
      return { ...(await readAppView(storage, app)), readAt, ...(lock ? { lock } : {}) };
    })().catch(() => undefined);
    this.pending = { app, view };
    void view.then(this.settle);
  }

  /**
   * The view once read (undefined if it failed), for the scan to take ETags from; it may be
   * asked for before `start`, and any number of times. Its age does not matter there: what it
   * proves is which ETag the bytes of a sha256 have (source/etag-evidence.ts), which no later
   * write changes, and staging still decides from a view of its own age.
   */
  evidence(): Promise<AppView | undefined> {
    return this.read;
  }

  /** The early view of `app`, once; undefined when there is none to use. */
  async take(app: string): Promise<EarlyView | undefined> {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending || pending.app !== app) return undefined;
    const view = await pending.view;
    return view && this.now() - view.readAt <= EARLY_VIEW_MAX_AGE_MS ? view : undefined;
  }
}

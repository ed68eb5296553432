import type { Storage } from '../storage/storage';
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
 * decide from: the go-live step lists the app again under the go-live turn and writes every file
 * the bucket no longer holds as this build has it (source/go-live-plan.ts), so a stale view only
 * moves work there. It is handed out once, and only for its app while fresh: a retried staging
 * step, or one that waited long for the lock, reads its own.
 */
export class EarlyAppView {
  private pending?: { app: string; startedAt: number; view: Promise<AppView | undefined> };

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts the read. A failure only means staging reads the view itself, and reports what went wrong then. */
  start(storage: Storage, app: string): void {
    const view = readAppView(storage, app).catch(() => undefined);
    this.pending = { app, startedAt: this.now(), view };
  }

  /** The early view of `app`, once; undefined when there is none to use. */
  async take(app: string): Promise<AppView | undefined> {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending || pending.app !== app) return undefined;
    const view = await pending.view;
    return this.now() - pending.startedAt <= EARLY_VIEW_MAX_AGE_MS ? view : undefined;
  }
}

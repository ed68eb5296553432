/**
 * At most `size` tasks at once, process-wide; the rest wait in order. Built for multipart
 * uploads, each of which holds its parts in flight in memory (lib-storage buffers every part):
 * without a bound, 64 big files uploading at once held 64 times that.
 *
 * A waiting task reports progress whenever a running one does, through its `onWaitProgress`:
 * a batch whose files all wait on another batch's upload is not stuck while that upload moves,
 * and stops beating (and times out) when it stops, as it would uploading itself.
 */
export class UploadSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly waiterBeats = new Set<() => void>();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`upload slots must be a positive integer, not ${size}`);
  }

  /** Tasks running now; never more than `size`. */
  get active(): number {
    return this.running;
  }

  /** Runs `task` in a slot; `task` calls `progressed` whenever it moves, to let the waiters report it too. */
  async run<T>(task: (progressed: () => void) => Promise<T>, onWaitProgress?: () => void): Promise<T> {
    if (this.running >= this.size) {
      if (onWaitProgress) this.waiterBeats.add(onWaitProgress);
      try {
        await new Promise<void>((resolve) => this.waiting.push(resolve));
      } finally {
        if (onWaitProgress) this.waiterBeats.delete(onWaitProgress);
      }
    } else {
      this.running++;
    }
    try {
      return await task(() => this.waiterBeats.forEach((beat) => beat()));
    } finally {
      // The slot passes straight to the next waiter, so `running` never drops below what runs.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** A contiguous range [start, end) of a sorted file list, uploaded by one activity. */
export interface Batch {
  start: number;
  end: number;
}

export interface BatchLimits {
  /** Most files in one batch. */
  maxFiles: number;
  /** A batch closes once it holds this many bytes; a bigger file gets a batch of its own. */
  maxBytes: number;
  /**
   * Most batches for any tree: the limits above grow until the tree fits in this many, so a
   * publish's history stays the same size for 10,000 files or 1,000,000 (a batch's retries
   * resume from its heartbeat instead). Absent in runs started before it existed.
   */
  maxBatches?: number;
}

/**
 * Splits the files into batches. Deterministic in its input, so the Job can recompute batch N
 * after a restart instead of carrying file lists through workflow history.
 */
export function planBatches(sizes: readonly number[], limits: BatchLimits): Batch[] {
  let { maxFiles, maxBytes } = limits;
  for (;;) {
    const batches = split(sizes, maxFiles, maxBytes);
    if (limits.maxBatches === undefined || batches.length <= Math.max(1, limits.maxBatches)) return batches;
    // Doubling both ends in one batch at worst (maxFiles ≥ files and maxBytes ≥ bytes), so this stops.
    maxFiles *= 2;
    maxBytes *= 2;
  }
}

function split(sizes: readonly number[], maxFiles: number, maxBytes: number): Batch[] {
  const batches: Batch[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < sizes.length; i++) {
    const full = i - start >= maxFiles || (i > start && bytes + sizes[i] > maxBytes);
    if (full) {
      batches.push({ start, end: i });
      start = i;
      bytes = 0;
    }
    bytes += sizes[i];
  }
  if (start < sizes.length) batches.push({ start, end: sizes.length });
  return batches;
}

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
}

/**
 * Splits the files into batches. Deterministic in its input, so the Job can recompute batch N
 * after a restart instead of carrying file lists through workflow history.
 */
export function planBatches(sizes: readonly number[], limits: BatchLimits): Batch[] {
  const batches: Batch[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < sizes.length; i++) {
    const full = i - start >= limits.maxFiles || (i > start && bytes + sizes[i] > limits.maxBytes);
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

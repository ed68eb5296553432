import { planBatches } from '../../src/source/batches';

describe('planBatches', () => {
  it('splits by file count', () => {
    expect(planBatches([1, 1, 1, 1, 1], { maxFiles: 2, maxBytes: 100 })).toEqual([
      { start: 0, end: 2 },
      { start: 2, end: 4 },
      { start: 4, end: 5 },
    ]);
  });
  it('closes a batch before it exceeds the byte budget and gives a big file its own batch', () => {
    expect(planBatches([40, 40, 40, 500, 10], { maxFiles: 100, maxBytes: 100 })).toEqual([
      { start: 0, end: 2 },
      { start: 2, end: 3 },
      { start: 3, end: 4 },
      { start: 4, end: 5 },
    ]);
  });
  it('covers every file exactly once, in order', () => {
    const sizes = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 5000);
    const batches = planBatches(sizes, { maxFiles: 37, maxBytes: 20000 });
    expect(batches[0].start).toBe(0);
    for (let i = 1; i < batches.length; i++) expect(batches[i].start).toBe(batches[i - 1].end);
    expect(batches.at(-1)!.end).toBe(1000);
    expect(batches.every((b) => b.end - b.start <= 37)).toBe(true);
  });
  it('plans nothing for an empty tree', () => expect(planBatches([], { maxFiles: 1, maxBytes: 1 })).toEqual([]));
  it('bounds the number of batches for any tree, covering every file once, in order', () => {
    for (const count of [0, 1, 15, 16, 17, 1000, 100_000]) {
      const sizes = Array.from({ length: count }, (_, i) => (i * 7919) % 5000);
      const batches = planBatches(sizes, { maxFiles: 500, maxBytes: 256 * 1024, maxBatches: 16 });
      expect(batches.length).toBeLessThanOrEqual(16);
      expect(batches.reduce((n, b) => n + b.end - b.start, 0)).toBe(count);
      for (let i = 1; i < batches.length; i++) expect(batches[i].start).toBe(batches[i - 1].end);
    }
  });
  it('keeps the given limits when the tree fits within the bound', () => {
    const sizes = Array.from({ length: 1000 }, () => 1);
    expect(planBatches(sizes, { maxFiles: 100, maxBytes: 1e9, maxBatches: 16 })).toEqual(planBatches(sizes, { maxFiles: 100, maxBytes: 1e9 }));
    expect(planBatches(sizes, { maxFiles: 100, maxBytes: 1e9, maxBatches: 16 })).toHaveLength(10);
  });
  it('bounds trees of big files by the byte budget too', () => {
    expect(planBatches(Array.from({ length: 100 }, () => 1000), { maxFiles: 500, maxBytes: 1000, maxBatches: 4 }).length).toBeLessThanOrEqual(4);
  });
});

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
});

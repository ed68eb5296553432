/**
 * `fn` of each item, up to `concurrency` at once, yielded in the items' order: a slow one holds
 * back the results after it, never more than `concurrency` of them. `fn` must not reject: a
 * rejection waiting behind a slow item would count as unhandled.
 */
export async function* inOrder<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const running: Array<Promise<R>> = [];
  let next = 0;
  while (next < items.length && running.length < concurrency) running.push(fn(items[next++]));
  while (running.length > 0) {
    const result = await running.shift()!;
    if (next < items.length) running.push(fn(items[next++]));
    yield result;
  }
}

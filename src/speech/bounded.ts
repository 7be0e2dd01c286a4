/**
 * Runs `fn` over `items` with at most `limit` calls in flight and returns the results in input
 * order. Once `signal` aborts, no further item starts; the calls in flight finish, and the items
 * never started have no result. Used for the backfill's replies (a reply's pieces go through the
 * speech cache's fair scheduler instead).
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

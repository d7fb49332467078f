/** Polls until `predicate` holds; fails with `what` after `timeoutMs`. Tests wait on facts, never on sleeps. */
export async function waitFor<T>(
  predicate: () => T | undefined | false | Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 20, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with the first `count` values of an async iterable, then stops it. */
export async function take<T>(iterable: AsyncIterable<T>, count: number, timeoutMs = 10_000): Promise<T[]> {
  const out: T[] = [];
  const iterator = iterable[Symbol.asyncIterator]();
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms with ${out.length}/${count} values`)), timeoutMs).unref(),
  );
  try {
    while (out.length < count) {
      const result = await Promise.race([iterator.next(), timer]);
      if (result.done) break;
      out.push(result.value);
    }
  } finally {
    await iterator.return?.();
  }
  return out;
}

/**
 * Resolves with the first `count` values a push source emits, then unsubscribes: for observables that are not
 * async iterables (Apollo's, urql's). `subscribe` starts the source and returns its subscription.
 */
export function takeEmitted<T>(
  subscribe: (next: (value: T) => void, fail: (error: unknown) => void) => { unsubscribe(): void },
  count: number,
  timeoutMs = 10_000,
): Promise<T[]> {
  return new Promise<T[]>((resolve, reject) => {
    const out: T[] = [];
    // The source may finish synchronously inside subscribe(), before its subscription exists.
    const held: { subscription?: { unsubscribe(): void } } = {};
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      held.subscription?.unsubscribe();
      if (error === undefined) resolve(out);
      else reject(error instanceof Error ? error : new Error(String(error)));
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms with ${out.length}/${count} values`)), timeoutMs);
    held.subscription = subscribe(
      (value) => {
        if (done) return;
        out.push(value);
        if (out.length === count) finish();
      },
      (error) => finish(error ?? new Error('the source failed')),
    );
    if (done) held.subscription.unsubscribe();
  });
}

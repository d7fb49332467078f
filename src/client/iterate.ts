import type { Sink } from 'graphql-ws';

/** An async iterator over a sink-style subscription (what graphql-ws's `iterate` does). */
export function iterateSink<T>(subscribe: (sink: Sink<T>) => () => void): AsyncIterableIterator<T> {
  const pending: T[] = [];
  let done = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const dispose = subscribe({
    next(value) {
      pending.push(value);
      notify();
    },
    error(error) {
      failure = { error };
      done = true;
      notify();
    },
    complete() {
      done = true;
      notify();
    },
  });
  const iterator: AsyncIterableIterator<T> = {
    async next() {
      for (;;) {
        if (pending.length > 0) return { done: false, value: pending.shift() as T };
        if (failure) {
          const { error } = failure;
          failure = undefined;
          throw error;
        }
        if (done) return { done: true, value: undefined };
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async return() {
      done = true;
      dispose();
      notify();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

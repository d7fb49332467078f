import { RealtimeError } from '../errors.ts';

/**
 * What happens when a subscriber falls `limit` items behind:
 * - `conflate`: keep only the newest item (snapshots such as metrics lose nothing of value);
 * - `error`: end the subscription with SLOW_CONSUMER, so the client resumes by cursor
 *   instead of the server buffering without bound.
 */
export type OverflowPolicy = 'conflate' | 'error';

export interface SubscriberQueue<T> {
  push(item: T): void;
  /** Queues history (resume, replay) ahead of live items; it does not count against the limit. */
  preload(items: readonly T[]): void;
  /** Ends the iterator after the queued items have been read. */
  end(): void;
  readonly iterator: AsyncIterableIterator<T>;
}

/**
 * A small bounded push→pull queue. One per GraphQL subscription: a plain
 * array plus at most one pending promise, so an idle subscriber costs a few
 * hundred bytes rather than a Repeater and its promise chain.
 */
export function createSubscriberQueue<T>(options: {
  limit: number;
  overflow: OverflowPolicy;
  onClose: () => void;
}): SubscriberQueue<T> {
  let buffer: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | null = null;
  let rejectWaiting: ((error: unknown) => void) | null = null;
  let state: 'open' | 'ending' | 'closed' = 'open';
  let failure: RealtimeError | null = null;

  // History items sit at the front of the buffer; they do not count against the limit.
  let preloaded = 0;
  const take = (): T => {
    if (preloaded > 0) preloaded--;
    return buffer.shift() as T;
  };

  const close = () => {
    if (state === 'closed') return;
    state = 'closed';
    buffer = [];
    options.onClose();
  };

  const settle = () => {
    if (!waiting) return;
    const resolve = waiting;
    const reject = rejectWaiting;
    if (buffer.length > 0) {
      waiting = rejectWaiting = null;
      resolve({ value: take(), done: false });
    } else if (failure) {
      waiting = rejectWaiting = null;
      close();
      reject?.(failure);
    } else if (state !== 'open') {
      waiting = rejectWaiting = null;
      close();
      resolve({ value: undefined, done: true });
    }
  };

  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (buffer.length > 0) return Promise.resolve({ value: take(), done: false });
      if (failure) {
        const error = failure;
        close();
        return Promise.reject(error);
      }
      if (state !== 'open') {
        close();
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve, reject) => {
        waiting = resolve;
        rejectWaiting = reject;
      });
    },
    return() {
      close();
      const resolve = waiting;
      waiting = rejectWaiting = null;
      resolve?.({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error?: unknown) {
      close();
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };

  return {
    preload(items) {
      if (state !== 'open') return;
      buffer.splice(preloaded, 0, ...items);
      preloaded += items.length;
      settle();
    },
    push(item) {
      if (state !== 'open') return;
      if (buffer.length - preloaded >= options.limit) {
        if (options.overflow === 'conflate') {
          buffer = [item];
          preloaded = 0;
        } else {
          failure = new RealtimeError('SLOW_CONSUMER', 'subscriber fell too far behind; resume with the last cursor');
          state = 'ending';
          buffer = [];
        }
        settle();
        return;
      }
      buffer.push(item);
      settle();
    },
    end() {
      if (state === 'open') state = 'ending';
      settle();
    },
    iterator,
  };
}

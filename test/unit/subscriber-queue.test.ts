import { describe, expect, test, vi } from 'vitest';
import { RealtimeError } from '../../src/errors.ts';
import { createSubscriberQueue, type OverflowPolicy } from '../../src/streams/subscriber-queue.ts';

function queue(limit: number, overflow: OverflowPolicy = 'error') {
  const onClose = vi.fn();
  const q = createSubscriberQueue<string>({ limit, overflow, onClose });
  return { q, it: q.iterator, onClose };
}

const DONE = { value: undefined, done: true };
const value = (v: string) => ({ value: v, done: false });

async function drain(it: AsyncIterator<string>, max = 100): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < max; i++) {
    const r = await it.next();
    if (r.done) return out;
    out.push(r.value);
  }
  throw new Error(`iterator did not end after ${max} items`);
}

describe('subscriber queue', () => {
  test('delivers pushed items in order', async () => {
    const { q, it } = queue(10);
    q.push('a');
    q.push('b');
    q.push('c');
    q.end();
    expect(await drain(it)).toEqual(['a', 'b', 'c']);
  });

  test('a pending next is resolved by the next push', async () => {
    const { q, it } = queue(10);
    const pending = it.next();
    let settled = false;
    void pending.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    q.push('x');
    expect(await pending).toEqual(value('x'));
    // Only the one waiter was consumed: the next push queues.
    q.push('y');
    expect(await it.next()).toEqual(value('y'));
  });

  test('a pending next is resolved by a preload', async () => {
    const { q, it } = queue(10);
    const pending = it.next();
    q.preload(['h1', 'h2']);
    expect(await pending).toEqual(value('h1'));
    expect(await it.next()).toEqual(value('h2'));
  });

  test('preloaded history does not count against the limit', async () => {
    const { q, it, onClose } = queue(2, 'error');
    q.preload(['h1', 'h2', 'h3', 'h4', 'h5']);
    q.push('a');
    q.push('b');
    // Two live items at a limit of two: still fine.
    expect(await it.next()).toEqual(value('h1'));
    expect(onClose).not.toHaveBeenCalled();
    q.end();
    expect(await drain(it)).toEqual(['h2', 'h3', 'h4', 'h5', 'a', 'b']);
  });

  test('live items over the limit overflow even when history is still queued', async () => {
    const { q, it } = queue(2, 'error');
    q.preload(['h1', 'h2', 'h3']);
    expect(await it.next()).toEqual(value('h1'));
    q.push('a');
    q.push('b');
    q.push('c');
    await expect(it.next()).rejects.toMatchObject({ code: 'SLOW_CONSUMER' });
  });

  test('history preloaded after a live push is still queued ahead of it', async () => {
    // The documented contract of preload: "Queues history (resume, replay) ahead of live items".
    const { q, it } = queue(10, 'error');
    q.push('live1');
    q.preload(['h1', 'h2']);
    expect(await it.next()).toEqual(value('h1'));
    q.end();
    expect(await drain(it)).toEqual(['h2', 'live1']);
  });

  test("'error' overflow: queued items are dropped, next rejects with SLOW_CONSUMER, onClose once, later pushes ignored", async () => {
    const { q, it, onClose } = queue(2, 'error');
    q.push('a');
    q.push('b');
    q.push('c');
    const error = await it.next().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RealtimeError);
    expect((error as RealtimeError).code).toBe('SLOW_CONSUMER');
    expect(onClose).toHaveBeenCalledTimes(1);
    q.push('d');
    q.preload(['e']);
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  test("'conflate' overflow keeps only the newest item and stays open", async () => {
    const { q, it, onClose } = queue(3, 'conflate');
    for (const v of ['a', 'b', 'c', 'd']) q.push(v);
    expect(await it.next()).toEqual(value('d'));
    q.push('e');
    expect(await it.next()).toEqual(value('e'));
    expect(onClose).not.toHaveBeenCalled();
  });

  test('return while waiting settles the pending next as done and closes once', async () => {
    const { q, it, onClose } = queue(10);
    const pending = it.next();
    expect(await it.return?.()).toEqual(DONE);
    expect(await pending).toEqual(DONE);
    expect(onClose).toHaveBeenCalledTimes(1);
    q.push('late');
    expect(await it.next()).toEqual(DONE);
    await it.return?.();
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  test('return discards queued items', async () => {
    const { q, it } = queue(10);
    q.push('a');
    q.push('b');
    await it.return?.();
    expect(await it.next()).toEqual(DONE);
  });

  test('end after items: the items are read first, then done; onClose only once drained', async () => {
    const { q, it, onClose } = queue(10);
    q.push('a');
    q.push('b');
    q.end();
    q.push('ignored');
    expect(onClose).not.toHaveBeenCalled();
    expect(await it.next()).toEqual(value('a'));
    expect(await it.next()).toEqual(value('b'));
    expect(onClose).not.toHaveBeenCalled();
    expect(await it.next()).toEqual(DONE);
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(await it.next()).toEqual(DONE);
    q.end();
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  test('end while a next is pending resolves it as done', async () => {
    const { q, it, onClose } = queue(10);
    const pending = it.next();
    q.end();
    expect(await pending).toEqual(DONE);
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  test('throw closes the queue and rejects with the given error', async () => {
    const { q, it, onClose } = queue(10);
    q.push('a');
    const boom = new Error('boom');
    await expect(it.throw?.(boom)).rejects.toBe(boom);
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(await it.next()).toEqual(DONE);
  });

  test('for await consumes until end', async () => {
    const { q, it } = queue(10);
    q.preload(['h']);
    q.push('a');
    q.end();
    const out: string[] = [];
    for await (const v of it) out.push(v);
    expect(out).toEqual(['h', 'a']);
  });
});

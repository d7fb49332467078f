/**
 * The one IPC channel between the primary and a worker (WORKERS > 1). Both
 * sides speak it over node:cluster's IPC pipe (V8 "advanced" serialization,
 * so events travel as objects, never as JSON text).
 *
 * Messages sent in one turn of the event loop leave as one IPC message (an
 * array of frames), in the order they were sent: at 20,000 TPS the primary
 * writes one message per worker per turn, not one per event, and a worker
 * sees events, history resets and replies in exactly the primary's order.
 */

/** One side of the IPC pipe: `process` in a worker, a `cluster.Worker` in the primary. */
export interface ChannelPort {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

type Frame =
  | { k: string; b: unknown } // one-way message
  | { k: string; b: unknown; q: number } // request
  | { r: number; b?: unknown; e?: string }; // reply (e: the error message)

export class ChannelClosed extends Error {
  constructor() {
    super('the IPC channel to the other process is closed');
    this.name = 'ChannelClosed';
  }
}

export class ChannelTimeout extends Error {
  constructor(kind: string, ms: number) {
    super(`no answer to "${kind}" within ${ms} ms`);
    this.name = 'ChannelTimeout';
  }
}

export interface Channel {
  /** A one-way message; `listener`s registered with `on(kind)` on the other side receive `body`. */
  send(kind: string, body: unknown): void;
  /**
   * Asks the other side's `handle(kind)`; resolves its answer. Rejects with the handler's error message,
   * ChannelTimeout after `timeoutMs`, or ChannelClosed.
   */
  request<T>(kind: string, body: unknown, timeoutMs: number): Promise<T>;
  handle(kind: string, handler: (body: never) => unknown): void;
  on(kind: string, listener: (body: never) => void): void;
  /** Rejects what is pending, detaches from the port. */
  close(): void;
}

export function createChannel(port: ChannelPort): Channel {
  let outbox: Frame[] = [];
  let flushing = false;
  let closed = false;
  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  const handlers = new Map<string, (body: never) => unknown>();
  const listeners = new Map<string, ((body: never) => void)[]>();

  const flush = () => {
    flushing = false;
    if (closed || outbox.length === 0) return;
    const frames = outbox;
    outbox = [];
    try {
      port.send(frames);
    } catch {
      // The other process is gone: its exit is handled where it is watched (the primary restarts it, a worker drains).
    }
  };
  const enqueue = (frame: Frame) => {
    if (closed) return;
    outbox.push(frame);
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  };

  const answer = async (id: number, handler: (body: never) => unknown, body: unknown) => {
    try {
      enqueue({ r: id, b: await handler(body as never) });
    } catch (error) {
      enqueue({ r: id, e: error instanceof Error ? error.message : String(error) });
    }
  };

  const receive = (message: unknown) => {
    if (!Array.isArray(message)) return; // node:cluster's own messages are objects
    for (const frame of message as Frame[]) {
      if ('r' in frame) {
        const waiting = pending.get(frame.r);
        if (!waiting) continue;
        pending.delete(frame.r);
        clearTimeout(waiting.timer);
        if (frame.e !== undefined) waiting.reject(new Error(frame.e));
        else waiting.resolve(frame.b);
      } else if ('q' in frame) {
        const handler = handlers.get(frame.k);
        if (handler) void answer(frame.q, handler, frame.b);
        else enqueue({ r: frame.q, e: `no handler for "${frame.k}"` });
      } else {
        for (const listener of listeners.get(frame.k) ?? []) listener(frame.b as never);
      }
    }
  };
  port.on('message', receive);

  return {
    send: (kind, body) => enqueue({ k: kind, b: body }),
    request<T>(kind: string, body: unknown, timeoutMs: number): Promise<T> {
      if (closed) return Promise.reject(new ChannelClosed());
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new ChannelTimeout(kind, timeoutMs));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        enqueue({ k: kind, b: body, q: id });
      });
    },
    handle(kind, handler) {
      handlers.set(kind, handler);
    },
    on(kind, listener) {
      listeners.set(kind, [...(listeners.get(kind) ?? []), listener]);
    },
    close() {
      if (closed) return;
      flush();
      closed = true;
      port.off('message', receive);
      for (const [id, waiting] of pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new ChannelClosed());
        pending.delete(id);
      }
    },
  };
}

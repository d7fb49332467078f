import type { ForwardedRequest, ReservationDirectory, ReservationRecord } from '../transports/sse-directory.ts';
import type { Channel } from './channel.ts';

/**
 * Single-connection SSE across the workers of one instance (WORKERS > 1,
 * BUS=memory): the kernel hands the PUT, the GET and each POST of one stream
 * to any worker, so the reservations live in the primary and operations POSTed
 * to one worker are carried to the worker that holds the stream open. With
 * BUS=redis every worker uses the Redis directory instead (it already spans a
 * fleet). Same contract as the Redis directory (see ReservationDirectory).
 */
export const DIRECTORY_KINDS = {
  register: 'sse.register',
  claim: 'sse.claim',
  ownerOf: 'sse.owner',
  forward: 'sse.forward',
  forwarded: 'sse.forwarded',
  release: 'sse.release',
} as const;

const REQUEST_TIMEOUT_MS = 5000;

/** The worker's side: every call is a request to the primary. */
export function createWorkerDirectory(channel: Channel, instance: string): ReservationDirectory {
  const handlers: ((request: ForwardedRequest) => void)[] = [];
  channel.on(DIRECTORY_KINDS.forwarded, (request: ForwardedRequest) => {
    for (const handler of handlers) handler(request);
  });
  const ask = <T>(kind: string, body: unknown) => channel.request<T>(kind, body, REQUEST_TIMEOUT_MS);
  return {
    instance,
    register: (record, ttlMs) => ask<void>(DIRECTORY_KINDS.register, { record, ttlMs }),
    claim: (token) => ask<ReservationRecord | undefined>(DIRECTORY_KINDS.claim, { token, owner: instance }),
    ownerOf: (token) => ask<string | undefined>(DIRECTORY_KINDS.ownerOf, token),
    forward: (owner, request) => ask<void>(DIRECTORY_KINDS.forward, { owner, request }),
    onForwarded(handler) {
      handlers.push(handler);
    },
    release: (token) => ask<void>(DIRECTORY_KINDS.release, token).catch(() => {}),
    start: async () => {},
    stop: async () => {},
  };
}

interface Entry {
  subject: string | undefined;
  owner: string | undefined;
  /** Unclaimed reservations expire (ms since epoch); claimed ones live until released or their owner exits. */
  expiresAt: number;
}

/**
 * The primary's side: the table, answering every worker's channel. `deliver(owner, request)` sends a forwarded
 * request to the worker named `owner` (false when it is gone).
 */
export function createDirectoryTable(deliver: (owner: string, request: ForwardedRequest) => boolean, now: () => number = Date.now) {
  const entries = new Map<string, Entry>();
  const live = (token: string): Entry | undefined => {
    const entry = entries.get(token);
    if (entry && entry.owner === undefined && entry.expiresAt <= now()) {
      entries.delete(token);
      return undefined;
    }
    return entry;
  };
  return {
    /** Answers one worker's directory requests on its channel. */
    serve(channel: Channel): void {
      channel.handle(DIRECTORY_KINDS.register, ({ record, ttlMs }: { record: ReservationRecord; ttlMs: number }) => {
        // Reservations nobody claims would pile up: sweep the expired ones now and then.
        if (entries.size % 1024 === 1023) for (const token of entries.keys()) live(token);
        entries.set(record.token, { subject: record.subject, owner: undefined, expiresAt: now() + ttlMs });
      });
      channel.handle(DIRECTORY_KINDS.claim, ({ token, owner }: { token: string; owner: string }) => {
        const entry = live(token);
        if (!entry || (entry.owner && entry.owner !== owner)) return undefined;
        entry.owner = owner;
        return { token, subject: entry.subject } satisfies ReservationRecord;
      });
      channel.handle(DIRECTORY_KINDS.ownerOf, (token: string) => live(token)?.owner);
      channel.handle(DIRECTORY_KINDS.forward, ({ owner, request }: { owner: string; request: ForwardedRequest }) => {
        if (!deliver(owner, request)) throw new Error(`worker ${owner} is gone`);
      });
      channel.handle(DIRECTORY_KINDS.release, (token: string) => {
        entries.delete(token);
      });
    },
    /** A worker exited: the streams it held open are gone (their clients reconnect and reserve again). */
    forgetOwner(owner: string): void {
      for (const [token, entry] of entries) if (entry.owner === owner) entries.delete(token);
    },
  };
}

import { Redis } from 'ioredis';
import { STREAM, type EventOf, type StreamName } from '../streams/registry.ts';
import type { Logger } from '../ops/logger.ts';
import type { BusHistory, EventBus } from './bus.ts';
import { createListeners } from './listeners.ts';
import { createMemoryBus } from './memory.ts';
import {
  CHECK_SCRIPT,
  checkArgs,
  createTokens,
  historyKeys,
  NOTHING_SEEN,
  parseHistoryInfo,
  PUBLISH_SCRIPT,
  type HistoryInfo,
  type SeenHistory,
} from './redis-history.ts';

export interface RedisBusOptions {
  url: string;
  /** Key prefix for everything this bus keeps in Redis. */
  prefix: string;
  /** Events retained per stream in Redis (XADD MAXLEN ~). */
  bufferSize: number;
  dedupWindowMs: number;
  /**
   * How long one publish may wait for Redis, ms. Past it the publish rejects
   * (the event may or may not be stored: a retry with the same natural key is
   * dropped as a duplicate if it was). Default 2000.
   */
  publishTimeoutMs?: number;
  logger: Logger;
}

type StreamEntries = [id: string, fields: string[]][];

const READ_BLOCK_MS = 1000;
const READ_COUNT = 1000;

/** What this instance reads of one stream, and what it has seen of the stream's history in Redis. */
interface StreamState {
  seen: SeenHistory;
  replaced: string[];
  /** Where reading continues: the id of the newest entry read, '0-0' for the start, '$' for "from now". */
  lastId: string;
  /** Reading starts once the stream has a subscriber, so nothing is read before it listens. */
  subscribed: boolean;
  /** Bumped on every reset: a read or publish answer about an older state is stale. */
  version: number;
}

/** The scripts, as ioredis adds them to a client (defineCommand)… */
interface CustomCommands {
  checkHistory(...args: string[]): Promise<unknown[]>;
  publishEvent(...args: (string | number)[]): Promise<unknown[]>;
}

/** …and to its pipelines, where the reply comes with the pipeline's. */
interface PipelineCommands {
  checkHistory(...args: string[]): unknown;
}

class PublishTimeout extends Error {
  constructor(ms: number) {
    super(`redis did not confirm the publish within ${ms} ms`);
    this.name = 'PublishTimeout';
  }
}

/** Rejects with PublishTimeout after `ms`; the late answer, if any, is ignored. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new PublishTimeout(ms)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}

/**
 * Scale-out over Redis Streams: every instance appends to and reads from the
 * same per-stream Redis stream, so each event reaches every instance once, in
 * one order, numbered by Redis (the `seq` of cursors) — a client can resume on
 * any instance. History for replay is the Redis stream itself, read at start.
 * If Redis goes away, sockets stay open, `healthy()` turns false, ioredis
 * reconnects with backoff, and reading resumes from the last id seen.
 *
 * If Redis comes back without what it acknowledged (empty, rewound to a
 * snapshot, a lagging replica, keys flushed), the stream starts a new history
 * (see redis-history.ts): the hubs adopt it through `onHistoryReset` and tell
 * every subscriber (REPLAY_GAP), and events go on numbered from 1 under the
 * new history id — never silently below numbers clients already have.
 */
export function createRedisBus(options: RedisBusOptions): EventBus {
  const { prefix, logger } = options;
  const publishTimeoutMs = options.publishTimeoutMs ?? 2000;
  const common = { lazyConnect: true, retryStrategy: (attempt: number) => Math.min(2000, 50 * 2 ** Math.min(attempt, 6)) };
  // Publishes are sent only while connected and never re-sent after a reconnect: a publish that timed out (answered
  // 503) cannot turn up later, unless Redis ran it before the connection broke.
  const oneShot = { enableOfflineQueue: false, autoResendUnfulfilledCommands: false };
  const commands = new Redis(options.url, { ...common, maxRetriesPerRequest: 20, ...oneShot });
  // Blocking reads need their own connection; they wait out reconnects instead of failing.
  const reader = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
  for (const [name, client] of [
    ['commands', commands],
    ['reader', reader],
  ] as const) {
    client.on('error', (error: Error) => logger.warn({ redis: name, err: error.message }, 'redis error'));
    client.on('ready', () => logger.info({ redis: name }, 'redis ready'));
    client.defineCommand('checkHistory', { numberOfKeys: 3, lua: CHECK_SCRIPT });
    client.defineCommand('publishEvent', { numberOfKeys: 4, lua: PUBLISH_SCRIPT });
  }
  const scripts = (client: Redis) => client as unknown as CustomCommands;
  const local = createMemoryBus({ dedupWindowMs: options.dedupWindowMs });
  // Instance-local streams (metrics describe the instance they come from) never travel through Redis.
  const isLocal = (stream: StreamName) => STREAM[stream].scope === 'instance';
  const fanIn = createListeners();
  const states = new Map<StreamName, StreamState>();
  const keysOf = (stream: StreamName) => historyKeys(prefix, stream);
  const nextToken = createTokens();
  let running = false;
  let readLoop: Promise<void> | undefined;
  const resetListeners: ((stream: StreamName, history: BusHistory) => void)[] = [];
  const readListeners: ((stream: StreamName, waitedMs: number) => void)[] = [];

  const stateOf = (stream: StreamName): StreamState => {
    let state = states.get(stream);
    if (!state) {
      state = { seen: { ...NOTHING_SEEN }, replaced: [], lastId: '$', subscribed: false, version: 0 };
      states.set(stream, state);
    }
    return state;
  };

  const checkKeys = (stream: StreamName) => {
    const keys = keysOf(stream);
    return [keys.history, keys.counter, keys.events];
  };

  /**
   * What Redis answered about a stream's history, against what this instance
   * reads: the same history (or the first this instance learns) is noted;
   * another one is followed from its first entry, and the stream is told, so
   * its subscribers get REPLAY_GAP. Returns true when it was the same history.
   */
  const settle = (stream: StreamName, state: StreamState, info: HistoryInfo): boolean => {
    const before = state.seen;
    state.replaced = info.replaced;
    if (info.id === before.id || before.id === '') {
      before.id = info.id;
      before.gen = info.gen;
      return true;
    }
    state.seen = { id: info.id, gen: info.gen, seq: 0, token: '' };
    state.lastId = '0-0';
    state.version++;
    logger.warn(
      {
        stream,
        history: info.id,
        generation: info.gen,
        replaced: before.id,
        lastSeenSeq: before.seq,
        cause: info.started || 'another instance',
      },
      'redis lost or rewound the shared history; the stream goes on in a new history and its subscribers are told (REPLAY_GAP)',
    );
    for (const listener of resetListeners) listener(stream, { epoch: info.id, items: [], supersedes: info.replaced });
    return false;
  };

  const parseEntries = <S extends StreamName>(stream: S, entries: StreamEntries) =>
    entries.flatMap(([id, fields]) => {
      const field: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) field[fields[i] as string] = fields[i + 1] as string;
      const at = Number(field['t']);
      try {
        return [
          {
            event: JSON.parse(field['e'] ?? '') as EventOf<S>,
            seq: Number(id.split('-')[0]),
            id,
            history: field['h'] ?? '',
            token: field['k'] ?? '',
            receivedAt: Number.isFinite(at) ? at : Date.now(),
          },
        ];
      } catch {
        logger.error({ stream, id }, 'unreadable event in redis; skipped');
        return [];
      }
    });

  /**
   * One round: check every read stream's history (a reset is noticed within a
   * read, even on a stream nobody publishes to), then read what is new. Sent as
   * one pipeline; not atomic, so each entry's history id is checked as well.
   */
  const readOnce = async (reading: [StreamName, StreamState][]) => {
    const pipeline = reader.pipeline();
    const versions = reading.map(([, state]) => state.version);
    for (const [stream, state] of reading) {
      (pipeline as unknown as PipelineCommands).checkHistory(...checkKeys(stream), ...checkArgs(state.seen));
    }
    pipeline.xread(
      'COUNT',
      READ_COUNT,
      'BLOCK',
      READ_BLOCK_MS,
      'STREAMS',
      ...reading.map(([stream]) => keysOf(stream).events),
      ...reading.map(([, state]) => state.lastId),
    );
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    const fresh = new Set<StreamName>();
    reading.forEach(([stream, state], i) => {
      if (state.version !== versions[i]) return; // reset meanwhile (by a publish): this answer is about the old history
      if (settle(stream, state, parseHistoryInfo(replies[i]?.[1] as unknown[]))) fresh.add(stream);
    });
    const result = replies[reading.length]?.[1] as [key: string, entries: StreamEntries][] | null;
    const readAt = Date.now();
    for (const [key, entries] of result ?? []) {
      const stream = key.slice(`${prefix}:events:`.length) as StreamName;
      const state = states.get(stream);
      if (!state || !fresh.has(stream)) continue;
      for (const entry of parseEntries(stream, entries)) {
        // Written after the check by a history this instance has not followed yet: the next round's check follows it.
        if (entry.history !== state.seen.id) break;
        state.lastId = entry.id;
        state.seen.seq = entry.seq;
        state.seen.token = entry.token;
        for (const listener of readListeners) listener(stream, readAt - entry.receivedAt);
        fanIn.emit(stream, { event: entry.event, seq: entry.seq });
      }
    }
  };

  const read = async () => {
    let failures = 0;
    while (running) {
      const reading = [...states.entries()].filter(([, state]) => state.subscribed);
      if (reading.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      try {
        await readOnce(reading);
        failures = 0;
      } catch (error) {
        if (!running) return;
        failures++;
        logger.warn({ err: (error as Error).message, failures }, 'redis read failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * failures)));
      }
    }
  };

  return {
    name: 'redis',
    async start() {
      await Promise.all([commands.connect(), reader.connect()]);
      running = true;
      readLoop = read();
    },
    async publish(stream, event, publishOptions) {
      if (isLocal(stream)) return local.publish(stream, event, publishOptions);
      const state = stateOf(stream);
      const { version } = state;
      const keys = keysOf(stream);
      const dedup = Boolean(publishOptions?.dedupKey) && options.dedupWindowMs > 0;
      const dedupKey = `${prefix}:dedup:${stream}:${dedup ? publishOptions?.dedupKey : ''}`;
      const reply = await within(
        scripts(commands).publishEvent(
          keys.history,
          keys.counter,
          keys.events,
          dedupKey,
          ...checkArgs(state.seen),
          JSON.stringify(event),
          options.bufferSize,
          dedup ? options.dedupWindowMs : 0,
          nextToken(),
        ),
        publishTimeoutMs,
      );
      const info = parseHistoryInfo(reply, 2);
      // A newer history than this instance reads (this publish started it, or another instance did): follow it now.
      // An older one is a stale answer (a read already moved on); the next read's check settles it.
      if (state.version === version && (info.id === state.seen.id || info.gen > state.seen.gen)) settle(stream, state, info);
      return Number(reply[0]) === 1;
    },
    subscribe(stream, listener) {
      if (isLocal(stream)) return local.subscribe(stream, listener);
      const unsubscribe = fanIn.add(stream, listener);
      stateOf(stream).subscribed = true;
      return unsubscribe;
    },
    async history<S extends StreamName>(stream: S): Promise<BusHistory<S> | undefined> {
      if (isLocal(stream)) return undefined;
      const state = stateOf(stream);
      // Learn (or start) the stream's history first, then read its newest entries.
      const info = parseHistoryInfo(await scripts(commands).checkHistory(...checkKeys(stream), ...checkArgs(state.seen)));
      const newestFirst = (await commands.xrevrange(
        keysOf(stream).events,
        '+',
        '-',
        'COUNT',
        Math.max(1, options.bufferSize),
      )) as StreamEntries;
      // Entries of a history started after the check are not this one's; the reader's next check follows that one.
      const entries = parseEntries(stream, newestFirst.reverse()).filter((entry) => entry.history === info.id);
      const newest = entries.at(-1);
      state.seen = { id: info.id, gen: info.gen, seq: newest?.seq ?? 0, token: newest?.token ?? '' };
      state.replaced = info.replaced;
      state.lastId = newest?.id ?? '0-0';
      state.version++;
      const kept = options.bufferSize > 0 ? entries.slice(-options.bufferSize) : [];
      return {
        epoch: info.id,
        items: kept.map(({ event, seq, receivedAt }) => ({ event, seq, receivedAt })),
        supersedes: info.replaced,
      };
    },
    onHistoryReset(listener) {
      resetListeners.push(listener);
    },
    onRead(listener) {
      readListeners.push(listener);
    },
    healthy: () => running && commands.status === 'ready' && reader.status === 'ready',
    async stop() {
      running = false;
      reader.disconnect();
      await readLoop;
      fanIn.clear();
      await local.stop();
      await commands.quit().catch(() => commands.disconnect());
    },
  };
}

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { STREAM, type EventOf, type StreamName } from '../streams/registry.ts';
import type { Logger } from '../ops/logger.ts';
import type { BusHistory, EventBus } from './bus.ts';
import { createListeners } from './listeners.ts';
import { createMemoryBus } from './memory.ts';

export interface RedisBusOptions {
  url: string;
  /** Key prefix for everything this bus keeps in Redis. */
  prefix: string;
  /** Events retained per stream in Redis (XADD MAXLEN ~). */
  bufferSize: number;
  dedupWindowMs: number;
  logger: Logger;
}

/**
 * Atomically: drop a duplicate (SET NX with the dedup window), take the
 * stream's next sequence number, append the event under the id `<seq>-0`, and
 * trim history. One script, so two instances publishing at once still get one
 * global order and no gaps.
 */
const PUBLISH_SCRIPT = `
if KEYS[3] ~= '' then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) then return 0 end
end
local seq = redis.call('INCR', KEYS[1])
local now = redis.call('TIME')
local at = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', ARGV[1], 't', at)
return seq
`;

type StreamEntries = [id: string, fields: string[]][];

const READ_BLOCK_MS = 1000;
const READ_COUNT = 1000;

/**
 * Scale-out over Redis Streams: every instance appends to and reads from the
 * same per-stream Redis stream, so each event reaches every instance once, in
 * one order, numbered by Redis (the `seq` of cursors) — a client can resume on
 * any instance. History for replay is the Redis stream itself, read at start.
 * If Redis goes away, sockets stay open, `healthy()` turns false, ioredis
 * reconnects with backoff, and reading resumes from the last id seen.
 */
export function createRedisBus(options: RedisBusOptions): EventBus {
  const { prefix, logger } = options;
  const common = { lazyConnect: true, retryStrategy: (attempt: number) => Math.min(2000, 50 * 2 ** Math.min(attempt, 6)) };
  const commands = new Redis(options.url, { ...common, maxRetriesPerRequest: 20 });
  // Blocking reads need their own connection; they wait out reconnects instead of failing.
  const reader = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
  for (const [name, client] of [
    ['commands', commands],
    ['reader', reader],
  ] as const) {
    client.on('error', (error: Error) => logger.warn({ redis: name, err: error.message }, 'redis error'));
    client.on('ready', () => logger.info({ redis: name }, 'redis ready'));
  }
  const local = createMemoryBus({ dedupWindowMs: options.dedupWindowMs });
  // Instance-local streams (metrics describe the instance they come from) never travel through Redis.
  const isLocal = (stream: StreamName) => STREAM[stream].scope === 'instance';
  const fanIn = createListeners();
  // Where reading continues per stream; set once a subscriber exists so nothing is read before it listens.
  const lastIds = new Map<StreamName, string>();
  const historyIds = new Map<StreamName, string>();
  const streamKey = (stream: StreamName) => `${prefix}:events:${stream}`;
  let epoch = '';
  let running = false;
  let readLoop: Promise<void> | undefined;
  // Bumped when history is reset; a read issued before the reset is discarded, its positions are stale.
  let generation = 0;
  const resetListeners: ((stream: StreamName, history: BusHistory) => void)[] = [];

  /** One history id per Redis dataset; a new one when Redis lost the data (restarted without persistence). */
  const adoptHistoryId = async (): Promise<string> => {
    await commands.set(`${prefix}:history`, randomBytes(6).toString('hex'), 'NX');
    return (await commands.get(`${prefix}:history`)) as string;
  };

  const checkHistory = async () => {
    const current = await commands.get(`${prefix}:history`);
    if (current === epoch) return;
    epoch = await adoptHistoryId();
    generation++;
    logger.warn({ epoch }, 'redis lost the shared history; streams start a new one');
    for (const stream of lastIds.keys()) {
      lastIds.set(stream, '0-0');
      for (const listener of resetListeners) listener(stream, { epoch, items: [] });
    }
  };

  const parseEntries = <S extends StreamName>(
    stream: S,
    entries: StreamEntries,
  ): { event: EventOf<S>; seq: number; id: string; receivedAt: number }[] =>
    entries.flatMap(([id, fields]) => {
      const payload = fields[fields.indexOf('e') + 1];
      const at = Number(fields[fields.indexOf('t') + 1]);
      try {
        return [
          {
            event: JSON.parse(payload ?? '') as EventOf<S>,
            seq: Number(id.split('-')[0]),
            id,
            receivedAt: Number.isFinite(at) ? at : Date.now(),
          },
        ];
      } catch {
        logger.error({ stream, id }, 'unreadable event in redis; skipped');
        return [];
      }
    });

  const read = async () => {
    let failures = 0;
    while (running) {
      const streams = [...lastIds.keys()];
      if (streams.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const readGeneration = generation;
      try {
        const result = (await reader.xread(
          'COUNT',
          READ_COUNT,
          'BLOCK',
          READ_BLOCK_MS,
          'STREAMS',
          ...streams.map(streamKey),
          ...streams.map((s) => lastIds.get(s) as string),
        )) as [key: string, entries: StreamEntries][] | null;
        failures = 0;
        if (readGeneration !== generation) continue;
        for (const [key, entries] of result ?? []) {
          const stream = key.slice(`${prefix}:events:`.length) as StreamName;
          for (const { event, seq, id } of parseEntries(stream, entries)) {
            lastIds.set(stream, id);
            fanIn.emit(stream, { event, seq });
          }
        }
      } catch (error) {
        if (!running) return;
        failures++;
        logger.warn({ err: (error as Error).message, failures }, 'redis read failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * failures)));
      }
    }
  };

  commands.defineCommand('publishEvent', { numberOfKeys: 3, lua: PUBLISH_SCRIPT });

  return {
    name: 'redis',
    async start() {
      await Promise.all([commands.connect(), reader.connect()]);
      // One history id per Redis dataset: cursors stay valid across instances and restarts, and change if Redis loses it.
      epoch = await adoptHistoryId();
      commands.on('ready', () => {
        checkHistory().catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'history check failed'));
      });
      running = true;
      readLoop = read();
    },
    async publish(stream, event, publishOptions) {
      if (isLocal(stream)) return local.publish(stream, event, publishOptions);
      const dedupKey = publishOptions?.dedupKey && options.dedupWindowMs > 0 ? `${prefix}:dedup:${stream}:${publishOptions.dedupKey}` : '';
      const seq = await (
        commands as unknown as {
          publishEvent(...args: (string | number)[]): Promise<number>;
        }
      ).publishEvent(
        `${prefix}:seq:${stream}`,
        streamKey(stream),
        dedupKey,
        JSON.stringify(event),
        options.bufferSize,
        options.dedupWindowMs,
      );
      return seq !== 0;
    },
    subscribe(stream, listener) {
      if (isLocal(stream)) return local.subscribe(stream, listener);
      const unsubscribe = fanIn.add(stream, listener);
      if (!lastIds.has(stream)) lastIds.set(stream, historyIds.get(stream) ?? '$');
      return unsubscribe;
    },
    async history<S extends StreamName>(stream: S): Promise<BusHistory<S> | undefined> {
      if (isLocal(stream)) return undefined;
      const newestFirst = (await commands.xrevrange(streamKey(stream), '+', '-', 'COUNT', options.bufferSize)) as StreamEntries;
      const items = parseEntries(stream, newestFirst.reverse());
      historyIds.set(stream, items.at(-1)?.id ?? '0-0');
      return { epoch, items: items.map(({ event, seq, receivedAt }) => ({ event, seq, receivedAt })) };
    },
    onHistoryReset(listener) {
      resetListeners.push(listener);
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

import type { BusHistory, BusMessage, EventBus } from '../bus/bus.ts';
import { createListeners } from '../bus/listeners.ts';
import { RealtimeError } from '../errors.ts';
import type { StreamItem } from '../streams/hub.ts';
import type { EventOf, StreamName } from '../streams/registry.ts';
import { ChannelTimeout, type Channel } from './channel.ts';

/** What the primary answers a worker's `hello`: its bus, and every stream's history as its hub holds it. */
export interface Hello {
  bus: string;
  healthy: boolean;
  histories: { [S in StreamName]?: BusHistory<S> };
}

/** An event as the primary forwards it: numbered by the primary's hub (the one owner of seq and epoch). */
export type ForwardedEvent = [stream: StreamName, item: StreamItem];

/** Wire kinds of the primary ⇄ worker protocol that the bus uses. */
export const BUS_KINDS = {
  hello: 'bus.hello',
  publish: 'bus.publish',
  events: 'bus.event',
  reset: 'bus.reset',
  health: 'bus.health',
} as const;

export interface PublishRequest {
  stream: StreamName;
  event: unknown;
  dedupKey?: string | undefined;
}

/**
 * The bus inside a worker (WORKERS > 1): the primary process owns the real
 * bus (memory or Redis), the sources and the numbering; this is its mirror.
 *
 * - `history` is the primary hub's history, taken once at `start` (epoch,
 *   retained events, seq): a worker's hubs adopt it, so cursors, resume and
 *   order are exactly the primary's, on every worker.
 * - events arrive numbered; ones already in the adopted history come again as
 *   redeliveries (same seq) and the hub drops them, so none is lost or repeated
 *   between `history` and `subscribe`.
 * - `publish` (ingest on this worker) is answered by the primary's bus: dedup,
 *   Redis and its timeout are decided there, once.
 *
 * Throws nothing at construction; `start` rejects when the primary does not answer.
 */
export function createWorkerBus(channel: Channel, options: { publishTimeoutMs: number }): EventBus {
  const listeners = createListeners();
  const subscribed = new Set<StreamName>();
  /** Events that arrived before their stream's hub subscribed (between `start` and `subscribe`): handed over at `subscribe`. */
  const early = new Map<StreamName, BusMessage[]>();
  const resetListeners: ((stream: StreamName, history: BusHistory) => void)[] = [];
  let hello: Hello | undefined;
  let primaryBusHealthy = false;
  let connected = false;

  channel.on(BUS_KINDS.events, (events: ForwardedEvent[]) => {
    for (const [stream, item] of events) {
      const message: BusMessage = { event: item as unknown as EventOf<StreamName>, seq: item.seq };
      if (subscribed.has(stream)) {
        listeners.emit(stream, message);
        continue;
      }
      let waiting = early.get(stream);
      if (!waiting) early.set(stream, (waiting = []));
      waiting.push(message);
    }
  });
  channel.on(BUS_KINDS.reset, ([stream, history]: [StreamName, BusHistory]) => {
    early.delete(stream);
    for (const listener of resetListeners) listener(stream, history);
  });
  channel.on(BUS_KINDS.health, (healthy: boolean) => {
    primaryBusHealthy = healthy;
  });

  return {
    get name() {
      return hello?.bus ?? 'primary';
    },
    async start() {
      hello = await channel.request<Hello>(BUS_KINDS.hello, null, 30_000);
      primaryBusHealthy = hello.healthy;
      connected = true;
    },
    async publish(stream, event, publishOptions) {
      const request: PublishRequest = { stream, event, dedupKey: publishOptions?.dedupKey };
      try {
        return await channel.request<boolean>(BUS_KINDS.publish, request, options.publishTimeoutMs);
      } catch (error) {
        if (error instanceof ChannelTimeout) throw error;
        throw new RealtimeError('UNAVAILABLE', `the event bus is unavailable; retry later (${(error as Error).message})`);
      }
    },
    subscribe(stream, listener) {
      const unsubscribe = listeners.add(stream, listener);
      subscribed.add(stream);
      for (const message of early.get(stream) ?? []) listener(message as unknown as BusMessage<typeof stream>);
      early.delete(stream);
      return unsubscribe;
    },
    async history<S extends StreamName>(stream: S): Promise<BusHistory<S> | undefined> {
      return hello?.histories[stream] as BusHistory<S> | undefined;
    },
    onHistoryReset(listener) {
      resetListeners.push(listener);
    },
    healthy: () => connected && primaryBusHealthy,
    async stop() {
      connected = false;
      listeners.clear();
      early.clear();
    },
  };
}

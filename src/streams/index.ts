import type { BusMessage, EventBus } from '../bus/bus.ts';
import { STREAM_NAMES, type StreamName } from '../domain/index.ts';
import { createStreamHub, type HubOptions, type StreamHub, type StreamItem, type Transport } from './hub.ts';

export * from './hub.ts';

export type Hubs = { [S in StreamName]: StreamHub<S> };

export interface Streams {
  readonly hubs: Hubs;
  /** Live subscribers over every stream and transport. */
  subscriberCount(transport?: Transport): number;
  /** Adopts the bus's history, then pulls events from the bus into the hubs. Call before sources start publishing. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface StreamsOptions {
  bufferSize: number;
  ttlMs: number;
  queueLimit: number;
  onDelivered?: (stream: StreamName, item: StreamItem, transport: Transport) => void;
  onDeliverError?: (stream: StreamName, error: unknown) => void;
}

export function createStreams(bus: EventBus, options: StreamsOptions): Streams {
  const hubOptions = <S extends StreamName>(stream: S): HubOptions<S> => ({
    bufferSize: options.bufferSize,
    ttlMs: options.ttlMs,
    queueLimit: options.queueLimit,
    // A metrics snapshot supersedes the previous one; other streams must not silently skip events.
    overflow: stream === 'metrics' ? 'conflate' : 'error',
    ...(options.onDelivered && { onDelivered: (item, transport) => options.onDelivered?.(stream, item, transport) }),
    ...(options.onDeliverError && { onDeliverError: (error) => options.onDeliverError?.(stream, error) }),
  });
  const hubs: Hubs = {
    metrics: createStreamHub('metrics', hubOptions('metrics')),
    transactions: createStreamHub('transactions', hubOptions('transactions')),
    validators: createStreamHub('validators', hubOptions('validators')),
    consensus: createStreamHub('consensus', hubOptions('consensus')),
    network: createStreamHub('network', hubOptions('network')),
  };
  const unsubscribes: (() => void)[] = [];

  return {
    hubs,
    subscriberCount(transport) {
      let total = 0;
      for (const stream of STREAM_NAMES) total += hubs[stream].subscriberCount(transport);
      return total;
    },
    async start() {
      bus.onHistoryReset((stream, history) => (hubs[stream] as StreamHub<StreamName>).resume(history as never));
      for (const stream of STREAM_NAMES) {
        const history = await bus.history(stream);
        if (history) (hubs[stream] as StreamHub<typeof stream>).resume(history as never);
        const hub = hubs[stream] as StreamHub<StreamName>;
        unsubscribes.push(bus.subscribe(stream, (message: BusMessage) => hub.publish(message.event, message.seq)));
      }
    },
    async stop() {
      for (const stream of STREAM_NAMES) hubs[stream].endAll();
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
    },
  };
}

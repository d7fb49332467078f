import type { EventBus } from '../bus/bus.ts';
import { createStreamHub, type HubOptions, type StreamHub } from './hub.ts';
import { STREAMS, type StreamName } from './registry.ts';
import { createSnapshot, type Snapshot } from './snapshots.ts';

export * from './hub.ts';
export * from './registry.ts';

export type Hubs = { [S in StreamName]: StreamHub<S> };

export interface Streams {
  readonly hubs: Hubs;
  hub(name: StreamName): StreamHub<StreamName>;
  /** A snapshot query's current items, by query name (e.g. `validatorSet`). */
  snapshot(queryName: string): Snapshot | undefined;
  /** Adopts the bus's history, then pulls events from the bus into the hubs. Call before sources publish. */
  start(): Promise<void>;
  stop(): void;
}

/** One hub per registered stream, fed by the bus; snapshot projections for the streams that declare them. */
export function createStreams(bus: EventBus, options: HubOptions): Streams {
  const hubs = Object.fromEntries(STREAMS.map((stream) => [stream.name, createStreamHub(stream.name, options)])) as unknown as Hubs;
  const hub = (name: StreamName) => hubs[name] as unknown as StreamHub<StreamName>;
  const snapshots = new Map<string, Snapshot>();
  for (const stream of STREAMS) {
    for (const query of stream.queries) {
      if (query.kind === 'snapshot') snapshots.set(query.name, createSnapshot(hub(stream.name), query as never));
    }
  }
  const unsubscribes: (() => void)[] = [];
  return {
    hubs,
    hub,
    snapshot: (name) => snapshots.get(name),
    async start() {
      bus.onHistoryReset((stream, history) => hub(stream).adopt(history));
      for (const { name } of STREAMS) {
        const history = await bus.history(name);
        if (history) hub(name).adopt(history);
        unsubscribes.push(bus.subscribe(name, (message) => hub(name).publish(message.event, message.seq)));
      }
    },
    stop() {
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
      for (const snapshot of snapshots.values()) snapshot.stop();
    },
  };
}

import { createPubSub } from 'graphql-yoga';
import type { StreamName } from '../domain/index.ts';
import type { BusMessage, EventBus } from './bus.ts';
import { createDedupWindow } from './dedup.ts';

type Topics = { [S in StreamName]: [BusMessage<S>] };

/** The default bus: graphql-yoga's typed pubsub inside this process. Keeps no history; streams number events. */
export function createMemoryBus(options: { dedupWindowMs: number }): EventBus {
  const pubsub = createPubSub<Topics>();
  const dedup = createDedupWindow({ windowMs: options.dedupWindowMs, maxKeys: 1_000_000 });
  const open = new Set<AsyncIterableIterator<unknown>>();
  return {
    name: 'memory',
    async start() {},
    async publish(stream, event, publishOptions) {
      if (publishOptions?.dedupKey && !dedup.firstSeen(`${stream}:${publishOptions.dedupKey}`)) return false;
      // The topic map ties each stream to its message type; the cast only bridges the generic.
      (pubsub.publish as (topic: StreamName, payload: BusMessage) => void)(stream, { event });
      return true;
    },
    subscribe<S extends StreamName>(stream: S) {
      const iterator = (pubsub.subscribe as (topic: S) => AsyncIterableIterator<BusMessage<S>>)(stream);
      open.add(iterator);
      return iterator;
    },
    async history() {
      return undefined;
    },
    healthy: () => true,
    async stop() {
      await Promise.all([...open].map((it) => it.return?.()));
      open.clear();
    },
  };
}

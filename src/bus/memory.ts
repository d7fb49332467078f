import { createPubSub } from 'graphql-yoga';
import type { EventOf, StreamEvents, StreamName } from '../domain/index.ts';
import type { EventBus } from './bus.ts';

type Topics = { [S in StreamName]: [StreamEvents[S]] };

/** The default bus: graphql-yoga's typed pubsub inside this process. */
export function createMemoryBus(): EventBus {
  const pubsub = createPubSub<Topics>();
  const open = new Set<AsyncIterableIterator<unknown>>();
  return {
    publish(stream, event) {
      // The topic map ties each stream to its event type; the cast only bridges the generic.
      (pubsub.publish as (topic: StreamName, payload: unknown) => void)(stream, event);
    },
    subscribe<S extends StreamName>(stream: S) {
      const iterator = (pubsub.subscribe as (topic: S) => AsyncIterableIterator<EventOf<S>>)(stream);
      open.add(iterator);
      return iterator;
    },
    async stop() {
      await Promise.all([...open].map((it) => it.return?.()));
      open.clear();
    },
  };
}

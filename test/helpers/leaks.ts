import type { EventEmitter } from 'node:events';
import { STREAM_NAMES } from './contract.ts';
import { TRANSPORTS } from '../../src/engine/counters.ts';
import type { DeliveryEngine } from '../../src/engine/engine.ts';
import type { Streams } from '../../src/streams/index.ts';

/** Listener counts per event name: compare two snapshots to spot listeners added per operation and never removed. */
export function listenerCounts(emitter: EventEmitter): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of emitter.eventNames()) out[String(name)] = emitter.listenerCount(name);
  return out;
}

/**
 * Watches the hubs' listener registrations while a test runs: every `listen`
 * (the engine's one per stream, snapshots, the metrics ticker) must be matched
 * by its unsubscribe. Catches a transport or projection that registers on the
 * side and never lets go. Call `restore()` when done.
 */
export function watchHubRegistrations(streams: Streams): { outstanding(): Record<string, number>; restore(): void } {
  const outstanding: Record<string, number> = {};
  const restores: (() => void)[] = [];
  for (const stream of STREAM_NAMES) {
    const hub = streams.hub(stream) as unknown as { listen: (listener: unknown) => () => void };
    const original = hub.listen;
    const key = `${stream}.listen`;
    outstanding[key] = 0;
    hub.listen = (listener: unknown) => {
      const stop = original.call(hub, listener);
      outstanding[key] = (outstanding[key] ?? 0) + 1;
      let released = false;
      return () => {
        if (!released) {
          released = true;
          outstanding[key] = (outstanding[key] ?? 0) - 1;
        }
        return stop();
      };
    };
    restores.push(() => {
      hub.listen = original;
    });
  }
  return {
    outstanding: () => Object.fromEntries(Object.entries(outstanding).filter(([, n]) => n !== 0)),
    restore: () => {
      for (const restore of restores) restore();
    },
  };
}

/** Subscriber counts per stream and transport that are not zero: `{}` when everything is released. */
export function liveSubscribers(engine: DeliveryEngine): Record<string, number> {
  const out: Record<string, number> = {};
  for (const stream of STREAM_NAMES) {
    for (const transport of TRANSPORTS) {
      const n = engine.subscriberCount(stream, transport);
      if (n !== 0) out[`${stream}/${transport}`] = n;
    }
  }
  return out;
}

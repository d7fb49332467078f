import type { EventEmitter } from 'node:events';
import { STREAM_NAMES } from '../../src/domain/index.ts';
import type { Streams } from '../../src/streams/index.ts';

/** Listener counts per event name: compare two snapshots to spot listeners added per operation and never removed. */
export function listenerCounts(emitter: EventEmitter): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of emitter.eventNames()) out[String(name)] = emitter.listenerCount(name);
  return out;
}

/**
 * Watches the hubs' public registration points while a test runs: every `tap`
 * must be untapped and every `attach` detached. (GraphQL subscriptions go
 * through `iterate`, which `subscriberCount` covers; this catches a transport or
 * projection that registers on the side.) Call `restore()` when done.
 */
export function watchHubRegistrations(streams: Streams): { outstanding(): Record<string, number>; restore(): void } {
  const outstanding: Record<string, number> = {};
  const restores: (() => void)[] = [];
  for (const stream of STREAM_NAMES) {
    const hub = streams.hubs[stream] as unknown as Record<string, unknown>;
    const wrap = (method: string, release: (result: unknown, onRelease: () => void) => unknown) => {
      const original = hub[method];
      if (typeof original !== 'function') return;
      const key = `${stream}.${method}`;
      outstanding[key] = 0;
      hub[method] = (...args: unknown[]) => {
        const result = (original as (...a: unknown[]) => unknown).apply(hub, args);
        outstanding[key] = (outstanding[key] ?? 0) + 1;
        let released = false;
        return release(result, () => {
          if (released) return;
          released = true;
          outstanding[key] = (outstanding[key] ?? 0) - 1;
        });
      };
      restores.push(() => {
        hub[method] = original;
      });
    };
    wrap('tap', (untap, onRelease) => () => {
      onRelease();
      return (untap as () => unknown)();
    });
    wrap('attach', (attachment, onRelease) => {
      const a = attachment as { detach(): void };
      const detach = a.detach.bind(a);
      return Object.assign(a, {
        detach() {
          onRelease();
          detach();
        },
      });
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
export function liveSubscribers(streams: Streams): Record<string, number> {
  const out: Record<string, number> = {};
  for (const stream of STREAM_NAMES) {
    for (const transport of ['graphql-ws', 'sse', 'legacy'] as const) {
      const n = streams.hubs[stream].subscriberCount(transport);
      if (n !== 0) out[`${stream}/${transport}`] = n;
    }
  }
  return out;
}

import type { EventBus } from './bus.ts';
import { createDedupWindow } from './dedup.ts';
import { createListeners } from './listeners.ts';

/** The default bus, inside this process. Keeps no history; streams number events themselves. */
export function createMemoryBus(options: { dedupWindowMs: number }): EventBus {
  const listeners = createListeners();
  const dedup = createDedupWindow({ windowMs: options.dedupWindowMs, maxKeys: 1_000_000 });
  return {
    name: 'memory',
    async start() {},
    async publish(stream, event, publishOptions) {
      if (publishOptions?.dedupKey && !dedup.firstSeen(`${stream}:${publishOptions.dedupKey}`)) return false;
      listeners.emit(stream, { event });
      return true;
    },
    subscribe: (stream, listener) => listeners.add(stream, listener),
    async history() {
      return undefined;
    },
    onHistoryReset() {
      // Nothing to lose: the streams' own history is the only one.
    },
    healthy: () => true,
    async stop() {
      listeners.clear();
    },
  };
}

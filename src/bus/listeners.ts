import type { StreamName } from '../streams/registry.ts';
import type { BusMessage } from './bus.ts';

export type BusListener<S extends StreamName = StreamName> = (message: BusMessage<S>) => void;

/**
 * Per-stream listener sets, called synchronously in publish order. No queue in
 * between: a burst of thousands of events (a block commit at high TPS, an
 * ingest batch) costs no buffering and cannot overflow.
 */
export function createListeners() {
  const byStream = new Map<StreamName, Set<BusListener>>();
  return {
    add<S extends StreamName>(stream: S, listener: BusListener<S>): () => void {
      let set = byStream.get(stream);
      if (!set) {
        set = new Set();
        byStream.set(stream, set);
      }
      set.add(listener as unknown as BusListener);
      return () => set.delete(listener as unknown as BusListener);
    },
    emit(stream: StreamName, message: BusMessage): void {
      const set = byStream.get(stream);
      if (set) for (const listener of set) listener(message);
    },
    clear(): void {
      byStream.clear();
    },
  };
}

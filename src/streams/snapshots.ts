import type { QuerySpec } from './descriptor.ts';
import type { StreamHub, StreamItem } from './hub.ts';
import { descriptorOf, type AnyEvent, type StreamName } from './registry.ts';

type SnapshotSpec = Extract<QuerySpec<AnyEvent>, { kind: 'snapshot' }>;

export interface Snapshot {
  readonly name: string;
  /** The latest item per key, in the spec's order. */
  items(): StreamItem[];
  stop(): void;
}

/**
 * The latest event per key of a stream (the validator set, the connected
 * peers): what a dashboard loads before it subscribes. Projected from the
 * stream as it is published; kept only while `keep` holds.
 */
export function createSnapshot(hub: StreamHub<StreamName>, spec: SnapshotSpec): Snapshot {
  const caseless = descriptorOf(hub.name).fields[spec.keyBy]?.comparison === 'caseless';
  const latest = new Map<string, StreamItem>();
  const stop = hub.listen((item) => {
    const raw = String((item as unknown as Record<string, unknown>)[spec.keyBy]);
    const key = caseless ? raw.toLowerCase() : raw;
    if (!spec.keep || spec.keep(item)) latest.set(key, item);
    else latest.delete(key);
  });
  return {
    name: spec.name,
    items: () => {
      const items = [...latest.values()];
      return spec.order ? items.sort(spec.order as (a: StreamItem, b: StreamItem) => number) : items;
    },
    stop,
  };
}

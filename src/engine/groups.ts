import type { StreamFilter } from '../streams/filters.ts';
import { STREAM_NAMES, type AnyEvent, type StreamName } from '../streams/registry.ts';
import { batchKey, type BatchSpec, type PendingBatch } from './batches.ts';
import { TRANSPORTS, type Transport } from './counters.ts';
import type { Frame, Outlet, Renderer, SubscriberSink } from './engine.ts';

/** One connection of a transport, as the engine keeps it. */
export interface ConnectionState {
  outlet: Outlet;
  subscribers: Set<Subscriber>;
  /** Bytes of history written and not yet known to have drained: exempt from the live budget. */
  historyBytes: number;
  closed: boolean;
}

/** One subscription in its group. Ending it (the client's `complete`) leaves the group. */
export class Subscriber {
  live = true;
  readonly frame: ((shared: Frame) => Frame) | undefined;

  constructor(
    private readonly registry: GroupRegistry,
    readonly connection: ConnectionState,
    readonly sink: SubscriberSink,
    /** The newest seq its backlog covered: live events at or below it are not sent again (0 after a history reset). */
    public after: number,
    readonly group: RenderGroup,
  ) {
    this.frame = sink.frame;
  }

  /** Idempotent; no `onEnd` (the client ended it). */
  end(): void {
    this.registry.leave(this);
  }
}

/** Subscribers of one stream with the same filter and renderer: one rendering per event for all of them. */
export interface RenderGroup {
  /** Its key in the filter group: the renderer's, plus the batch options of a batch group. */
  key: string;
  renderer: Renderer;
  subscribers: Set<Subscriber>;
  filterGroup: FilterGroup;
  /** The last live event rendered, so a group renders each event once. */
  lastSeq: number;
  lastFrame: Frame | undefined;
  /** Recent renderings by seq, so subscribers resuming together render history once. */
  recent: Map<number, Frame>;
  /** A batch group's pending events and timer (batches.ts), set by the engine when the group is made; undefined otherwise. */
  batch: PendingBatch | undefined;
}

/** Subscribers of one stream with the same filter: one evaluation per event for all of them. */
export interface FilterGroup {
  stream: StreamName;
  key: string;
  filter: StreamFilter<AnyEvent> | undefined;
  renders: Map<string, RenderGroup>;
}

const RECENT_RENDERINGS = 64;

/**
 * Who is subscribed to what, grouped so that work per event scales with the
 * number of distinct filters and renderings, not with subscribers. Keeps the
 * live subscriber counts per stream and transport.
 */
export class GroupRegistry {
  private readonly byStream = new Map<StreamName, Map<string, FilterGroup>>(STREAM_NAMES.map((name) => [name, new Map()]));
  private readonly counts = new Map<StreamName, Record<Transport, number>>(
    STREAM_NAMES.map((name) => [name, Object.fromEntries(TRANSPORTS.map((t) => [t, 0])) as Record<Transport, number>]),
  );

  /** The filter groups of a stream, for one fan-out. */
  filterGroups(stream: StreamName): Map<string, FilterGroup> {
    return this.byStream.get(stream) as Map<string, FilterGroup>;
  }

  /** Adds a subscriber to its (filter, renderer, batch options) group, creating the groups it needs. */
  join(
    connection: ConnectionState,
    stream: StreamName,
    filter: StreamFilter<AnyEvent> | undefined,
    renderer: Renderer,
    sink: SubscriberSink,
    after: number,
    batch?: BatchSpec,
  ): Subscriber {
    const filterGroups = this.filterGroups(stream);
    const filterKey = filter?.key ?? '';
    let filterGroup = filterGroups.get(filterKey);
    if (!filterGroup) {
      filterGroup = { stream, key: filterKey, filter, renders: new Map() };
      filterGroups.set(filterKey, filterGroup);
    }
    const key = batch ? `${renderer.key}\u0000${batchKey(batch)}` : renderer.key;
    let group = filterGroup.renders.get(key);
    if (!group) {
      group = { key, renderer, subscribers: new Set(), filterGroup, lastSeq: 0, lastFrame: undefined, recent: new Map(), batch: undefined };
      filterGroup.renders.set(key, group);
    }
    const subscriber = new Subscriber(this, connection, sink, after, group);
    group.subscribers.add(subscriber);
    connection.subscribers.add(subscriber);
    (this.counts.get(stream) as Record<Transport, number>)[connection.outlet.transport]++;
    return subscriber;
  }

  /** Removes a subscriber; deletes the groups it leaves empty. Idempotent. */
  leave(subscriber: Subscriber): void {
    if (!subscriber.live) return;
    subscriber.live = false;
    subscriber.connection.subscribers.delete(subscriber);
    const { group } = subscriber;
    group.subscribers.delete(subscriber);
    const { filterGroup } = group;
    (this.counts.get(filterGroup.stream) as Record<Transport, number>)[subscriber.connection.outlet.transport]--;
    if (group.subscribers.size > 0) return;
    group.batch?.dispose();
    filterGroup.renders.delete(group.key);
    if (filterGroup.renders.size === 0) this.filterGroups(filterGroup.stream).delete(filterGroup.key);
  }

  /** The live rendering of an event, kept for the rest of the fan-out and for subscribers that resume soon after. */
  static remember(group: RenderGroup, seq: number, frame: Frame): void {
    group.lastSeq = seq;
    group.lastFrame = frame;
    GroupRegistry.rememberHistory(group, seq, frame);
  }

  /** Drops every rendering kept by seq: the stream's numbering started again (a history reset). */
  static forget(group: RenderGroup): void {
    group.lastSeq = 0;
    group.lastFrame = undefined;
    group.recent.clear();
  }

  /** A rendering of a retained event, for other subscribers resuming over it (bounded, oldest out first). */
  static rememberHistory(group: RenderGroup, seq: number, frame: Frame): void {
    group.recent.set(seq, frame);
    if (group.recent.size > RECENT_RENDERINGS) group.recent.delete(group.recent.keys().next().value as number);
  }

  subscriberCount(stream?: StreamName, transport?: Transport): number {
    let total = 0;
    for (const name of stream ? [stream] : STREAM_NAMES) {
      const counts = this.counts.get(name) as Record<Transport, number>;
      for (const t of transport ? [transport] : TRANSPORTS) total += counts[t];
    }
    return total;
  }

  groupCount(stream?: StreamName): number {
    let total = 0;
    for (const name of stream ? [stream] : STREAM_NAMES)
      for (const filterGroup of this.filterGroups(name).values()) total += filterGroup.renders.size;
    return total;
  }

  filterGroupCount(stream: StreamName): number {
    return this.filterGroups(stream).size;
  }
}

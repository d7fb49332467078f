import { RealtimeError } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import type { StreamFilter } from '../streams/filters.ts';
import type { StartPosition, StreamItem } from '../streams/hub.ts';
import type { Streams } from '../streams/index.ts';
import { STREAM, STREAM_NAMES, type AnyEvent, type StreamName } from '../streams/registry.ts';
import { chunks, deliverBatch, PendingBatch, type BatchDelivery, type BatchSpec } from './batches.ts';
import { keepsUp, type BudgetLimits } from './budget.ts';
import type { DeliveryCounters, Transport } from './counters.ts';
import { GroupRegistry, type ConnectionState, type RenderGroup, type Subscriber } from './groups.ts';

/** A frame as written: text the transport encodes, bytes shared by every connection that gets them, or bytes in parts. */
import type { Frame } from './frame.ts';
export type { Frame };

/**
 * How a group of identical subscriptions turns an event into bytes. Subscribers
 * whose (stream, filter, renderer key) match form a group; the group renders
 * each event once and every member writes the result.
 */
export interface Renderer {
  /** Equal for renderers that produce the same frames (document, variables, scope, envelope). */
  readonly key: string;
  /** The shared frame (or payload, when subscribers add their own framing) for one event. */
  render(item: StreamItem): Frame;
  /**
   * An error result in the same shape (REPLAY_GAP notices). `cursor`, when given, is the position the notice
   * moves the subscriber to (a reset's new history start): on results that carry cursors (SSE `id:`) it goes too.
   */
  renderError(error: RealtimeError, cursor?: string): Frame;
  /** One message for a batch of events, oldest first (batches.ts); only renderers of transports that offer batches have it. */
  renderBatch?(items: readonly StreamItem[]): Frame;
}

/**
 * One connection's wire, implemented by each transport (a WebSocket, an SSE
 * response). The engine decides what to write and when a reader is too slow;
 * the outlet only writes and reports how far behind its peer is.
 */
export interface Outlet {
  readonly transport: Transport;
  /** Queues a frame; false when the connection can no longer take it (closing): it is then not counted as sent. */
  write(frame: Frame): boolean;
  /** Bytes queued inside this process, not yet handed to the kernel. */
  buffered(): number;
  /**
   * How far behind the peer is, in ms: a WebSocket's oldest unanswered lag
   * probe, an SSE response's time waiting for `drain`. 0 when it keeps up.
   */
  lagMs(now: number): number;
  /** Ends the connection because its reader is too slow: at once, even if a close frame cannot get through. */
  abort(error: RealtimeError): void;
}

/** What the transport knows of one subscription. */
export interface SubscriberSink {
  /** This subscriber's frame around the group's shared frame (graphql-ws splices its operation id). Identity when absent. */
  frame?: (shared: Frame) => Frame;
  /**
   * The server ended the subscription (drain): the transport sends its
   * `complete`. Not called when the client ended it, nor when the whole
   * connection is aborted (slow consumer): the transport's close says it then.
   */
  onEnd?: () => void;
}

/** What to deliver: the stream, its canonical filter, where to start, and whether in batches. */
export interface DeliveryRequest {
  stream: StreamName;
  filter: StreamFilter<AnyEvent> | undefined;
  position: StartPosition;
  /** Batched delivery (batches.ts): the renderer must have `renderBatch`. */
  batch?: BatchSpec | undefined;
}

export interface Subscription {
  /** The client ended it (or the transport closed): leave the group; no `onEnd`. Idempotent. */
  end(): void;
}

export interface EngineConnection {
  subscribe(request: DeliveryRequest, renderer: Renderer, sink?: SubscriberSink): Subscription;
  /** Live subscriptions on this connection. */
  readonly size: number;
  /** The transport's connection closed: every subscription leaves its group. Idempotent. */
  close(): void;
}

/** What every connection of one engine shares: the groups, the streams, the counters, the budget. */
interface EngineCore {
  registry: GroupRegistry;
  streams: Streams;
  counters: DeliveryCounters;
  connections: Set<DeliveryConnection>;
  render(group: RenderGroup, item: StreamItem): Frame | undefined;
  renderBatch(group: RenderGroup, items: readonly StreamItem[]): Frame | undefined;
  /** Sends a batch group's pending events now (full, due, or before a reset or drain). */
  flush(group: RenderGroup): void;
}

/**
 * One connection of a transport, as the engine keeps it: its subscriptions
 * share its outlet, its budget and its fate. A class, so an idle connection
 * costs a few fields and no closures.
 */
class DeliveryConnection implements ConnectionState, EngineConnection {
  readonly subscribers = new Set<Subscriber>();
  historyBytes = 0;
  closed = false;

  constructor(
    private readonly core: EngineCore,
    readonly outlet: Outlet,
  ) {}

  get size(): number {
    return this.subscribers.size;
  }

  subscribe(request: DeliveryRequest, renderer: Renderer, sink: SubscriberSink = {}): Subscription {
    if (this.closed) return NO_SUBSCRIPTION;
    const { registry, streams, counters } = this.core;
    const { stream, batch } = request;
    if (batch && !renderer.renderBatch) throw new Error(`the ${renderer.key} renderer cannot render batches`);
    // Backlog and live registration in one synchronous turn: no event falls between them, none lands in both.
    const backlog = streams.hub(stream).backlog(request.position, request.filter);
    const subscriber = registry.join(this, stream, request.filter, renderer, sink, backlog.through, batch);
    if (backlog.gap) this.writeHistory(subscriber, renderer.renderError(backlog.gap));
    const { group } = subscriber;
    if (batch) {
      const { core } = this;
      group.batch ??= new PendingBatch(batch, () => core.flush(group));
      // History as batches too, rendered for this subscriber alone (where it starts is its own).
      for (const items of chunks(backlog.items, batch.maxEvents)) {
        const frame = core.renderBatch(group, items);
        if (frame === undefined || !this.writeHistory(subscriber, frame)) continue;
        for (let i = 0; i < items.length; i++) counters.history(stream, this.outlet.transport);
      }
      return subscriber;
    }
    for (const item of backlog.items) {
      let frame = group.recent.get(item.seq);
      if (frame === undefined) {
        frame = this.core.render(group, item);
        if (frame === undefined) continue;
        // Subscribers resuming together (a reconnect storm) render each retained event once.
        GroupRegistry.rememberHistory(group, item.seq, frame);
      }
      if (this.writeHistory(subscriber, frame)) counters.history(stream, this.outlet.transport);
    }
    return subscriber;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.core.connections.delete(this);
    for (const subscriber of [...this.subscribers]) this.core.registry.leave(subscriber);
  }

  private writeHistory(subscriber: Subscriber, frame: Frame): boolean {
    const out = subscriber.frame ? subscriber.frame(frame) : frame;
    this.historyBytes += typeof out === 'string' ? Buffer.byteLength(out) : out.length;
    return this.outlet.write(out);
  }
}

const NO_SUBSCRIPTION: Subscription = { end() {} };
const RENDER_FAILURE_LOG_EVERY_MS = 10_000;

/**
 * The delivery engine: the one path from streams to every transport. For each
 * event of a stream it evaluates each distinct filter once, renders each
 * distinct (filter, renderer) group once, and hands the frame to every member's
 * outlet; transports only frame and write. A batch group (batches.ts)
 * collects its matching events instead and renders once per batch. The send
 * budget and the slow-consumer policy (from the stream's descriptor) are
 * applied here, once, and every delivery is counted here.
 */
export function createDeliveryEngine(deps: { streams: Streams; counters: DeliveryCounters; logger: Logger } & BudgetLimits) {
  const { streams, counters, logger } = deps;
  const limits: BudgetLimits = { bufferLimitBytes: deps.bufferLimitBytes, lagLimitMs: deps.lagLimitMs };
  const registry = new GroupRegistry();
  const connections = new Set<DeliveryConnection>();
  const unlisten: (() => void)[] = [];
  let lastFailureLogAt = -Infinity;
  let failuresSinceLog = 0;

  const render = (group: RenderGroup, item: StreamItem): Frame | undefined => guarded(group, () => group.renderer.render(item));
  const renderBatch = (group: RenderGroup, items: readonly StreamItem[]): Frame | undefined =>
    guarded(group, () => (group.renderer.renderBatch as NonNullable<Renderer['renderBatch']>)(items));
  const guarded = (group: RenderGroup, rendering: () => Frame): Frame | undefined => {
    try {
      return rendering();
    } catch (error) {
      counters.renderFailed();
      // A bug that hits every event must not flood the log: one line per interval, with how many it stands for.
      failuresSinceLog++;
      const now = Date.now();
      if (now - lastFailureLogAt >= RENDER_FAILURE_LOG_EVERY_MS) {
        logger.error(
          { err: error, stream: group.filterGroup.stream, failures: failuresSinceLog },
          'rendering an event failed; skipped for its group',
        );
        lastFailureLogAt = now;
        failuresSinceLog = 0;
      }
      return undefined;
    }
  };
  const flush = (group: RenderGroup) => {
    if (group.batch) deliverBatch(group, group.batch.take(), batchDelivery);
  };
  const core: EngineCore = { registry, streams, counters, connections, render, renderBatch, flush };

  /** The slow-consumer policy's `close`: the whole connection goes (its subscriptions share one slow pipe). */
  const abortSlow = (connection: ConnectionState, stream: StreamName, now: number) => {
    const { outlet } = connection;
    logger.warn(
      { transport: outlet.transport, stream, buffered: outlet.buffered(), lagMs: Math.round(outlet.lagMs(now)) },
      'slow consumer; closing',
    );
    counters.terminated(outlet.transport, 'slow-consumer');
    // The subscriptions leave at once (counts drop now, not when the socket finally reports its close).
    (connection as DeliveryConnection).close();
    outlet.abort(new RealtimeError('SLOW_CONSUMER', 'slow consumer: fell too far behind; reconnect and resume with the last cursor'));
  };

  /** Whether a live frame may be queued on this connection now; if not, the stream's policy is applied. */
  const withinBudget = (connection: ConnectionState, stream: StreamName, now: number): boolean => {
    if (keepsUp(connection, limits, now)) return true;
    if (STREAM[stream].slowConsumer === 'conflate') counters.dropped(stream, connection.outlet.transport, 'slow-consumer');
    else abortSlow(connection, stream, now);
    return false;
  };
  const batchDelivery: BatchDelivery = { withinBudget, renderBatch, counters };

  const fanOut = (stream: StreamName, item: StreamItem) => {
    const filterGroups = registry.filterGroups(stream);
    if (filterGroups.size === 0) return;
    const now = Date.now();
    for (const filterGroup of filterGroups.values()) {
      if (filterGroup.filter && !filterGroup.filter.matches(item)) continue;
      for (const group of filterGroup.renders.values()) {
        if (group.batch) {
          if (group.batch.add(item)) flush(group);
          continue;
        }
        let shared: Frame | undefined;
        for (const subscriber of group.subscribers) {
          if (item.seq <= subscriber.after) continue;
          const { connection } = subscriber;
          if (connection.closed || !withinBudget(connection, stream, now)) continue;
          if (shared === undefined) {
            shared = group.lastSeq === item.seq ? group.lastFrame : render(group, item);
            if (shared === undefined) break;
            GroupRegistry.remember(group, item.seq, shared);
          }
          if (connection.outlet.write(subscriber.frame ? subscriber.frame(shared) : shared)) {
            counters.live(stream, item.seq, item.timestamp, connection.outlet.transport);
          }
        }
      }
    }
  };

  /**
   * The stream adopted a new history (the bus lost or rewound its shared one): every subscriber gets the
   * REPLAY_GAP notice now, and numbering starts again, so what each group and subscriber remembers by seq goes.
   */
  const resetStream = (stream: StreamName, notice: RealtimeError) => {
    const cursor = typeof notice.details['oldestCursor'] === 'string' ? notice.details['oldestCursor'] : undefined;
    for (const filterGroup of registry.filterGroups(stream).values()) {
      for (const group of filterGroup.renders.values()) {
        // Pending events belong to the old history, before the notice.
        flush(group);
        GroupRegistry.forget(group);
        const frame = group.renderer.renderError(notice, cursor);
        for (const subscriber of group.subscribers) {
          subscriber.after = 0;
          const { connection } = subscriber;
          // Not subject to the live budget: a notice the client needs, like history; a connection too slow for it
          // is judged by the next live event.
          if (!connection.closed) connection.outlet.write(subscriber.frame ? subscriber.frame(frame) : frame);
        }
      }
    }
  };

  return {
    /** Starts fanning out: one listener per stream hub, and its reset notices. */
    start(): void {
      for (const name of STREAM_NAMES) {
        unlisten.push(streams.hub(name).listen((item) => fanOut(name, item)));
        unlisten.push(streams.hub(name).onReset((notice) => resetStream(name, notice)));
      }
    },
    stop(): void {
      for (const stop of unlisten.splice(0)) stop();
    },
    /** A connection of a transport: its subscriptions share its outlet, its budget and its fate. */
    connect(outlet: Outlet): EngineConnection {
      const connection = new DeliveryConnection(core, outlet);
      connections.add(connection);
      return connection;
    },
    /** Drain: ends every subscription with the transport's `complete`. The transports close their connections afterwards. */
    endAll(): void {
      // Pending batches go out before the `complete`s: the clients resume after what they got.
      for (const name of STREAM_NAMES)
        for (const filterGroup of [...registry.filterGroups(name).values()])
          for (const group of [...filterGroup.renders.values()]) flush(group);
      for (const connection of [...connections]) {
        const ended = [...connection.subscribers];
        for (const subscriber of ended) registry.leave(subscriber);
        for (const subscriber of ended) subscriber.sink.onEnd?.();
      }
    },
    /** Live subscribers: of one stream (and transport), or of all. */
    subscriberCount: (stream?: StreamName, transport?: Transport): number => registry.subscriberCount(stream, transport),
    /** Distinct render groups (what the engine renders per event at most), for tests and diagnostics. */
    groupCount: (stream?: StreamName): number => registry.groupCount(stream),
    /** Filter evaluations per event equal the number of distinct filters. */
    filterGroupCount: (stream: StreamName): number => registry.filterGroupCount(stream),
  };
}

export type DeliveryEngine = ReturnType<typeof createDeliveryEngine>;

import type { SharedHistory } from '../streams/hub.ts';
import type { EventOf, StreamName } from '../streams/registry.ts';

/** An event as the bus delivers it: with its global position when the bus assigns one (Redis). */
export interface BusMessage<S extends StreamName = StreamName> {
  event: EventOf<S>;
  /** Set by buses that order events across instances; the in-process bus leaves numbering to the stream. */
  seq?: number;
}

/** A stream's retained history as the bus keeps it, oldest first, and the history's identity. */
export type BusHistory<S extends StreamName = StreamName> = SharedHistory<S>;

export interface PublishOptions {
  /** A natural key; a second publish with the same key inside the dedup window is dropped. */
  dedupKey?: string | undefined;
}

/**
 * Carries events from sources to streams. In-process by default; Redis when
 * several instances serve one chain. Swapping it changes nothing else.
 */
export interface EventBus {
  readonly name: string;
  /** Connects; after this, `history` and `subscribe` work. */
  start(): Promise<void>;
  /** Resolves false when the event was a duplicate and was dropped. */
  publish<S extends StreamName>(stream: S, event: EventOf<S>, options?: PublishOptions): Promise<boolean>;
  /**
   * Calls `listener` for every event published on `stream` from now on (after `history`, when there is one),
   * in one global order. Returns an unsubscribe function.
   */
  subscribe<S extends StreamName>(stream: S, listener: (message: BusMessage<S>) => void): () => void;
  /** The history a stream starts from, or undefined when the bus keeps none (the stream numbers events itself). */
  history<S extends StreamName>(stream: S): Promise<BusHistory<S> | undefined>;
  /**
   * Called when the bus's shared history was lost or rewound (Redis came back empty, from an older snapshot, a
   * lagging replica, keys flushed): the stream adopts the new, empty history — its subscribers are told
   * (REPLAY_GAP), old cursors get REPLAY_GAP, numbering starts again at 1 — and the bus then delivers the new
   * history's events from its first one.
   */
  onHistoryReset(listener: (stream: StreamName, history: BusHistory) => void): void;
  /** False while the bus cannot carry events (e.g. Redis unreachable): readiness reports it. */
  healthy(): boolean;
  /**
   * Buses shared between instances (Redis): `listener` learns, per event read, how long it waited in the bus —
   * ms from the bus storing it to this instance reading it (the bus lag operators watch). Absent in-process.
   */
  onRead?(listener: (stream: StreamName, waitedMs: number) => void): void;
  stop(): Promise<void>;
}

export type Publish = <S extends StreamName>(stream: S, event: EventOf<S>, options?: PublishOptions) => Promise<boolean> | void;

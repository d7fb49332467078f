import type { WebSocket } from 'ws';
import type { Transport } from '../engine/counters.ts';
import type { Frame, Outlet } from '../engine/engine.ts';
import type { RealtimeError } from '../errors.ts';
import { writeMessage } from './ws-frames.ts';

/** Bytes written to a socket after which its next monitor tick sends a lag probe. */
const PROBE_AFTER_BYTES = 64 * 1024;
/** How long an aborted socket may take to close before it is cut (its close frame may sit behind megabytes). */
const ABORT_GRACE_MS = 1000;

const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

/**
 * One watched socket: the delivery engine's outlet for it and the monitor's
 * ping state. A class, so an idle socket costs a few fields and no closures.
 */
class SocketOutlet implements Outlet {
  /** When the outstanding ping went out; undefined when none is outstanding. */
  pingSentAt: number | undefined = undefined;
  lastPingAt = Date.now();
  /** Characters written since the last ping went out (close enough to bytes for the ASCII JSON events are). */
  unprobed = 0;
  flooded = false;

  constructor(
    readonly socket: WebSocket,
    readonly transport: Transport,
    private readonly forget: (socket: WebSocket) => void,
    /** Frames go out as binary messages (MessagePack), not text. */
    private readonly binary: boolean,
  ) {}

  write(frame: Frame): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false;
    this.unprobed += frame.length;
    // Bytes (a group's shared rendering, or it spliced for this subscriber) go out without a per-socket copy.
    if (typeof frame === 'string') this.socket.send(frame, this.binary ? BINARY : TEXT);
    else writeMessage(this.socket, frame, this.binary);
    return true;
  }

  buffered(): number {
    return this.socket.bufferedAmount;
  }

  lagMs(now: number): number {
    return this.pingSentAt === undefined ? 0 : now - this.pingSentAt;
  }

  abort(error: RealtimeError): void {
    const { code, reason } = error.toClose();
    this.forget(this.socket);
    this.socket.close(code, reason);
    const socket = this.socket;
    setTimeout(() => socket.terminate(), ABORT_GRACE_MS).unref();
  }
}

/**
 * Pings for every WebSocket of every transport from one timer, for two jobs:
 * - liveness: a socket that leaves a ping unanswered for WS_PING_INTERVAL_MS is terminated;
 * - lag: a ping goes out soon after a socket was written PROBE_AFTER_BYTES, and
 *   since the peer answers it only after reading everything sent before it,
 *   the age of an unanswered ping is how far the reader is behind — measured
 *   end to end, kernel buffers included. The delivery engine reads it.
 * Idle sockets cost one ping per interval; fast readers answer within a round trip.
 */
export function createSocketMonitor(options: {
  pingIntervalMs: number;
  onTerminate(socket: WebSocket, transport: Transport, reason: 'missed-pong' | 'ping-flood'): void;
}) {
  const watched = new Map<WebSocket, SocketOutlet>();
  const tickMs = Math.min(1000, Math.max(50, Math.floor(options.pingIntervalMs / 2)));
  let timer: NodeJS.Timeout | undefined;
  const forget = (socket: WebSocket) => watched.delete(socket);

  // Shared by every socket (`this` is the socket): no listener closures per connection.
  function onPong(this: WebSocket): void {
    const outlet = watched.get(this);
    if (outlet) outlet.pingSentAt = undefined;
  }
  function onPing(this: WebSocket): void {
    // ws terminates a peer with too many unanswered pings queued, before emitting 'ping'; count it here.
    const outlet = watched.get(this);
    if (!outlet || outlet.flooded || this.readyState === this.OPEN) return;
    outlet.flooded = true;
    options.onTerminate(this, outlet.transport, 'ping-flood');
  }
  function onClose(this: WebSocket): void {
    watched.delete(this);
  }

  const tick = () => {
    const now = Date.now();
    for (const [socket, outlet] of watched) {
      if (outlet.pingSentAt !== undefined) {
        if (now - outlet.pingSentAt >= options.pingIntervalMs) {
          watched.delete(socket);
          options.onTerminate(socket, outlet.transport, 'missed-pong');
          socket.terminate();
        }
        continue;
      }
      if (outlet.unprobed >= PROBE_AFTER_BYTES || now - outlet.lastPingAt >= options.pingIntervalMs) {
        outlet.pingSentAt = now;
        outlet.lastPingAt = now;
        outlet.unprobed = 0;
        socket.ping();
      }
    }
  };

  return {
    start(): void {
      timer ??= setInterval(tick, tickMs);
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
      timer = undefined;
    },
    /** Watches a socket until it closes; returns its outlet for the delivery engine. */
    watch(socket: WebSocket, transport: Transport, options: { binary?: boolean } = {}): Outlet {
      const outlet = new SocketOutlet(socket, transport, forget, options.binary ?? false);
      watched.set(socket, outlet);
      socket.on('pong', onPong);
      socket.on('ping', onPing);
      socket.once('close', onClose);
      return outlet;
    },
    /** Sockets watched (per transport): open and not yet terminated or aborted. */
    count(transport?: Transport): number {
      if (!transport) return watched.size;
      let n = 0;
      for (const outlet of watched.values()) if (outlet.transport === transport) n++;
      return n;
    },
  };
}

export type SocketMonitor = ReturnType<typeof createSocketMonitor>;

/** Closes a socket with an error's close frame (one code per cause, every transport). */
export function closeWith(socket: WebSocket, error: RealtimeError): void {
  const { code, reason } = error.toClose();
  if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
}

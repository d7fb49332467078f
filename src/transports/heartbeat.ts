import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Server-side pings for every socket of a WebSocketServer from one timer
 * (not a timer per socket: 10,000 sockets would mean 10,000 timers). A socket
 * that has not answered the previous ping by the next tick is terminated.
 */
export function startHeartbeat(
  wss: WebSocketServer,
  intervalMs: number,
  onTerminate: (socket: WebSocket, reason: 'missed-pong' | 'ping-flood') => void,
): { track(socket: WebSocket): void; stop(): void } {
  const awaitingPong = new WeakSet<WebSocket>();
  const timer = setInterval(() => {
    for (const socket of wss.clients) {
      if (awaitingPong.has(socket)) {
        onTerminate(socket, 'missed-pong');
        socket.terminate();
        continue;
      }
      awaitingPong.add(socket);
      socket.ping();
    }
  }, intervalMs);
  timer.unref();
  return {
    track(socket) {
      socket.on('pong', () => awaitingPong.delete(socket));
      // ws itself terminates a peer with too many unanswered pings queued, before emitting 'ping'; count it here.
      let flooded = false;
      socket.on('ping', () => {
        if (flooded || socket.readyState === socket.OPEN) return;
        flooded = true;
        onTerminate(socket, 'ping-flood');
      });
    },
    stop() {
      clearInterval(timer);
    },
  };
}

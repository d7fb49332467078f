import type { WebSocket } from 'ws';

/**
 * The per-socket cap on unsent bytes that decides when a reader is too slow.
 * History (resume, replay) is bounded by the replay buffer and may exceed the
 * cap; what of it is still queued does not count against live events until the
 * socket has drained below the cap again.
 */
export function createSendBudget(socket: WebSocket, capBytes: number) {
  let historyBytes = 0;
  return {
    /** True when a live frame must not be queued now (apply the stream's slow-consumer policy). */
    exhausted(history: boolean): boolean {
      if (history) return false;
      if (socket.bufferedAmount <= capBytes) historyBytes = 0;
      return socket.bufferedAmount > capBytes + historyBytes;
    },
    /** Records a frame queued on the socket. */
    sent(bytes: number, history: boolean): void {
      if (history) historyBytes += bytes;
    },
  };
}

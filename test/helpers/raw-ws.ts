import WebSocket from 'ws';

/** A raw WebSocket for speaking (and mis-speaking) the graphql-transport-ws protocol frame by frame. */
export interface RawSocket {
  readonly ws: WebSocket;
  /** Every text frame received, parsed when it is JSON. */
  readonly messages: unknown[];
  /** Resolves with the close code and reason once the socket is closed, by either side. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(frame: string | object): void;
}

/** Opens a socket and resolves once the handshake completes; rejects if the handshake fails. */
export function openRawSocket(url: string, protocols: string | string[] | undefined): Promise<RawSocket> {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  const messages: unknown[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on('message', (data) => {
    const text = String(data);
    try {
      messages.push(JSON.parse(text));
    } catch {
      messages.push(text);
    }
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.off('error', reject);
      // Errors after the handshake surface as a close code; keep them from becoming unhandled.
      ws.on('error', () => {});
      resolve({
        ws,
        messages,
        closed,
        send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
      });
    });
    ws.once('error', reject);
  });
}

/** Messages of one graphql-transport-ws type. */
export function messagesOfType(socket: RawSocket, type: string): Record<string, unknown>[] {
  return socket.messages.filter(
    (m): m is Record<string, unknown> => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type,
  );
}

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawUpgrade {
  readonly socket: Socket;
  /** The HTTP status line and headers the server answered with. */
  readonly responseHead: string;
  readonly status: number;
  /** Bytes that arrived after the response head, plus everything that arrives later while `record` is on. */
  readonly received: Buffer[];
  /** Resolves when the TCP connection is closed. */
  readonly closed: Promise<void>;
}

/**
 * A WebSocket handshake spoken by hand over a bare TCP socket, for clients no
 * library would write: ones that never read, never answer a close, or send
 * frames that break the protocol. Resolves once the response head arrived.
 */
export function rawUpgrade(
  port: number,
  path: string,
  options: { protocol?: string; host?: string } = {},
): Promise<RawUpgrade> {
  const socket = connect(port, options.host ?? '127.0.0.1');
  const received: Buffer[] = [];
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    let headDone = false;
    socket.once('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\n` +
          `Host: 127.0.0.1:${port}\r\n` +
          'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
          'Sec-WebSocket-Version: 13\r\n' +
          (options.protocol ? `Sec-WebSocket-Protocol: ${options.protocol}\r\n` : '') +
          '\r\n',
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (headDone) {
        received.push(chunk);
        return;
      }
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      headDone = true;
      const responseHead = buffer.subarray(0, end).toString('latin1');
      const rest = buffer.subarray(end + 4);
      if (rest.length > 0) received.push(rest);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(responseHead)?.[1] ?? -1);
      resolve({ socket, responseHead, status, received, closed });
    });
    socket.once('close', () => {
      if (!headDone) reject(new Error(`connection closed before an upgrade response for ${path}`));
    });
  });
}

/** An unmasked client frame: a protocol violation (RFC 6455 §5.1 requires clients to mask). */
export function unmaskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('keep it short');
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

/** Close codes found in server close frames among the received bytes (unmasked server frames). */
export function closeCodesIn(received: readonly Buffer[]): number[] {
  const bytes = Buffer.concat(received);
  const codes: number[] = [];
  let offset = 0;
  while (offset + 2 <= bytes.length) {
    const opcode = (bytes[offset] as number) & 0x0f;
    let length = (bytes[offset + 1] as number) & 0x7f;
    let header = 2;
    if (length === 126) {
      if (offset + 4 > bytes.length) break;
      length = bytes.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      if (offset + 10 > bytes.length) break;
      length = Number(bytes.readBigUInt64BE(offset + 2));
      header = 10;
    }
    if (offset + header + length > bytes.length) break;
    if (opcode === 0x8 && length >= 2) codes.push(bytes.readUInt16BE(offset + header));
    offset += header + length;
  }
  return codes;
}

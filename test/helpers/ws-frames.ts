import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { track } from './track.ts';

/**
 * WebSocket spoken by hand (RFC 6455): the handshake over a bare TCP socket,
 * and the one builder and parser of frames, for tests that must control
 * exactly what goes on the wire — clients that never read, never answer a
 * close, send several frames in one TCP write, fragmented or malformed frames,
 * reserved opcodes, lying lengths, unmasked frames.
 */

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameOptions {
  fin?: boolean;
  /** Client frames must be masked; false makes a protocol violation. */
  mask?: boolean;
  /** RSV1–3 bits (must be 0 without an extension). */
  rsv?: number;
  /** Length to declare instead of the real one (a lie). */
  declaredLength?: number;
  maskKey?: Buffer;
}

/** One client→server frame. */
export function clientFrame(opcode: number, payload: Buffer | string, options: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const fin = options.fin ?? true;
  const masked = options.mask ?? true;
  const length = options.declaredLength ?? data.length;
  const first = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | (opcode & 0x0f);
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([first, (masked ? 0x80 : 0) | length]);
  } else if (length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (!masked) return Buffer.concat([header, data]);
  const key = options.maskKey ?? randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = (data[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([header, key, body]);
}

export const textFrame = (text: string, options: FrameOptions = {}) => clientFrame(OPCODE.text, text, options);

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** Splits the bytes a server sent (unmasked frames) into frames; an incomplete tail is left out. */
export function parseServerFrames(bytes: Buffer): ServerFrame[] {
  const frames: ServerFrame[] = [];
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
    frames.push({ opcode, payload: bytes.subarray(offset + header, offset + header + length) });
    offset += header + length;
  }
  return frames;
}

/** The JSON messages among server text frames (graphql-transport-ws messages). */
export function jsonMessages(bytes: Buffer): Record<string, unknown>[] {
  return parseServerFrames(bytes)
    .filter((f) => f.opcode === OPCODE.text)
    .map((f) => {
      try {
        return JSON.parse(f.payload.toString()) as Record<string, unknown>;
      } catch {
        return { unparsable: f.payload.toString() };
      }
    });
}

/** The close code and reason of each close frame, in order. */
export function closeFramesOf(bytes: Buffer): { code: number; reason: string }[] {
  return parseServerFrames(bytes)
    .filter((f) => f.opcode === OPCODE.close && f.payload.length >= 2)
    .map((f) => ({ code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString() }));
}

/** The close code and reason of the first close frame, if any. */
export const closeFrameOf = (bytes: Buffer): { code: number; reason: string } | undefined => closeFramesOf(bytes)[0];

export interface RawUpgrade {
  readonly socket: Socket;
  /** The HTTP status line and headers the server answered with. */
  readonly responseHead: string;
  readonly status: number;
  /** Bytes that arrived after the response head, and everything that arrives later. */
  readonly received: Buffer[];
  /** Resolves when the TCP connection is closed. */
  readonly closed: Promise<void>;
  /** Everything received so far, as one buffer (give it to parseServerFrames / jsonMessages / closeFramesOf). */
  bytes(): Buffer;
  /** Writes client frames (already built) in one TCP write. */
  send(...frames: Buffer[]): void;
  destroy(): void;
}

/**
 * A WebSocket handshake over a bare TCP socket. Resolves once the response
 * head arrived, whatever its status. The socket is destroyed when the test (or
 * suite scope) ends.
 */
export function rawUpgrade(
  port: number,
  path: string,
  options: { protocol?: string; host?: string; key?: string } = {},
): Promise<RawUpgrade> {
  const socket = track(connect(port, options.host ?? '127.0.0.1'), (s) => s.destroy());
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
          `Sec-WebSocket-Key: ${options.key ?? randomBytes(16).toString('base64')}\r\n` +
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
      resolve({
        socket,
        responseHead,
        status,
        received,
        closed,
        bytes: () => Buffer.concat(received),
        send: (...frames) => void socket.write(Buffer.concat(frames)),
        destroy: () => void socket.destroy(),
      });
    });
    socket.once('close', () => {
      if (!headDone) reject(new Error(`connection closed before an upgrade response for ${path}`));
    });
  });
}

/** A response header of a raw upgrade (lower-case name), if present. */
export function headerOf(upgrade: RawUpgrade, name: string): string | undefined {
  const line = upgrade.responseHead.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(line.indexOf(':') + 1).trim();
}

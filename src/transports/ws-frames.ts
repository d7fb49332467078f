import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { SplicedFrame } from '../engine/frame.ts';

/**
 * Writing one event to many WebSockets without copying it per socket.
 *
 * `ws.send(string)` encodes the string into the socket's write buffer on every
 * send: at 10,000 subscribers that is 10,000 UTF-8 encodings of the same
 * bytes, plus an options object and a frame list per send. Here the event is
 * encoded once (a Buffer every subscriber shares) and each socket gets its own
 * few bytes around it — the frame header, and for graphql-ws its operation's
 * `{"id":…,"type":"next","payload":` prefix — written together, corked, as one
 * writev of buffers the kernel copies straight from the shared one.
 *
 * That bypasses ws's Sender, which is safe only while the Sender holds nothing
 * (no compression in progress, nothing queued) and the socket compresses
 * nothing: then the Sender would write exactly these bytes. Otherwise (a
 * permessage-deflate socket, a queue) the frame goes through `ws.send` as one
 * Buffer, in order behind what the Sender holds.
 */

/** ws's internals this module relies on (ws 8): the Sender's state, the negotiated extensions, the raw socket. */
interface WsInternals {
  _sender: { _state: number } | undefined;
  _socket: Socket | undefined;
  _extensions: Record<string, unknown>;
}

/** ws's Sender state when it holds nothing (sender.js `DEFAULT`). */
const SENDER_IDLE = 0;
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const FIN = 0x80;

/** The last header built, reused while lengths repeat (subscribers of one group get frames of one length). */
let lastHeader: { length: number; opcode: number; bytes: Buffer } | undefined;

/** Bytes of the header of a frame of `length` payload bytes. */
const headerLength = (length: number) => (length < 126 ? 2 : length < 65_536 ? 4 : 10);

/** Writes an unmasked server frame header (RFC 6455 §5.2) for a final frame of `length` payload bytes at the start of `target`. */
function writeHeader(target: Buffer, length: number, binary: boolean): void {
  target[0] = FIN | (binary ? OPCODE_BINARY : OPCODE_TEXT);
  if (length < 126) {
    target[1] = length;
  } else if (length < 65_536) {
    target[1] = 126;
    target.writeUInt16BE(length, 2);
  } else {
    target[1] = 127;
    target.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    target.writeUInt32BE(length >>> 0, 6);
  }
}

/** The header of a final frame of `length` payload bytes (text, or binary when `binary`). */
export function frameHeader(length: number, binary: boolean): Buffer {
  const opcode = binary ? OPCODE_BINARY : OPCODE_TEXT;
  if (lastHeader && lastHeader.length === length && lastHeader.opcode === opcode) return lastHeader.bytes;
  const bytes = Buffer.allocUnsafe(headerLength(length));
  writeHeader(bytes, length, binary);
  lastHeader = { length, opcode, bytes };
  return bytes;
}

/** A per-socket head this small is copied behind the frame header (one write instead of two). */
const MERGE_HEAD_BYTES = 256;

/**
 * Writes one message (text, or binary when `binary`) made of `frame` to an
 * open `socket`: straight to its TCP socket when ws holds nothing for it,
 * else through `ws.send`. The caller checked `readyState === OPEN`.
 */
export function writeMessage(socket: WebSocket, frame: Buffer | SplicedFrame, binary: boolean): void {
  const internals = socket as unknown as WsInternals;
  const raw = internals._socket;
  const direct =
    raw !== undefined &&
    internals._sender?._state === SENDER_IDLE &&
    internals._extensions['permessage-deflate'] === undefined &&
    raw.writable;
  if (!direct) {
    socket.send(frame instanceof SplicedFrame ? frame.join() : frame, { binary });
    return;
  }
  raw.cork();
  if (frame instanceof SplicedFrame) {
    const { head, shared, tail } = frame;
    if (head.length <= MERGE_HEAD_BYTES) {
      // The header and this socket's own bytes (a graphql-ws operation's prefix) in one small buffer.
      const size = headerLength(frame.length);
      const merged = Buffer.allocUnsafe(size + head.length);
      writeHeader(merged, frame.length, binary);
      head.copy(merged, size);
      raw.write(merged);
    } else {
      raw.write(frameHeader(frame.length, binary));
      raw.write(head);
    }
    raw.write(shared);
    if (tail.length > 0) raw.write(tail);
  } else {
    raw.write(frameHeader(frame.length, binary));
    raw.write(frame);
  }
  raw.uncork();
}

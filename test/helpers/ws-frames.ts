import { randomBytes } from 'node:crypto';

/**
 * WebSocket frames built and read by hand (RFC 6455 §5), for tests that must
 * control exactly what goes on the wire: several frames in one TCP write,
 * fragmented or malformed frames, reserved opcodes, lying lengths.
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

/** The close code and reason of the first close frame, if any. */
export function closeFrameOf(bytes: Buffer): { code: number; reason: string } | undefined {
  const frame = parseServerFrames(bytes).find((f) => f.opcode === OPCODE.close);
  if (!frame || frame.payload.length < 2) return undefined;
  return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() };
}

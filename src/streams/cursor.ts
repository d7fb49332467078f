import { randomBytes } from 'node:crypto';

/**
 * A cursor names one event of one stream's history: the history's epoch (new
 * on every restart that loses history) and the event's sequence number. It is
 * opaque to clients; they only hand it back.
 */
export interface CursorPosition {
  epoch: string;
  seq: number;
}

const PREFIX = 'v1';

export function newEpoch(): string {
  return randomBytes(6).toString('hex');
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(`${PREFIX}:${position.epoch}:${position.seq}`).toString('base64url');
}

/** Returns null for anything that is not a cursor this server issued. */
export function decodeCursor(cursor: string): CursorPosition | null {
  if (cursor.length > 128) return null;
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  if (parts.length !== 3 || parts[0] !== PREFIX) return null;
  const [, epoch, seqText] = parts as [string, string, string];
  if (!/^[0-9a-f]{1,32}$/.test(epoch) || !/^(0|[1-9][0-9]{0,15})$/.test(seqText)) return null;
  return { epoch, seq: Number(seqText) };
}

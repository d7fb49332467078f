import { decode } from '@msgpack/msgpack';
import { describe, expect, test } from 'vitest';
import { CONTRACT_FIELDS, STREAM_NAMES } from '../helpers/contract.ts';
import { useTestServer } from '../helpers/server.ts';
import { openLegacy, refusedLegacy, type ClientSocket } from '../helpers/sockets.ts';
import { encodeCursor } from '../../src/streams/cursor.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * `/ws/<stream>?encoding=msgpack`: the legacy frames as binary MessagePack
 * messages — the same objects as the JSON text frames (the contract fields in
 * contract order, `seq` and `cursor` with `meta=1`), as plain maps any
 * MessagePack decoder reads (decoded here with @msgpack/msgpack, not the
 * server's own library), with replay, resume and errors working the same.
 */

const server = useTestServer({ METRICS_INTERVAL_MS: '100', SIM_TPS: '100' });

/** The socket's frames decoded as MessagePack (each must be a binary message). */
function decoded(socket: ClientSocket): Record<string, unknown>[] {
  return socket.frames.map((frame) => {
    expect(frame.binary, 'a msgpack frame is a binary message').toBe(true);
    return decode(frame.bytes) as Record<string, unknown>;
  });
}

describe.each(STREAM_NAMES)('%s', (stream) => {
  test('msgpack frames decode to exactly the JSON frames of the same events, field for field, in contract order', async () => {
    const json = await openLegacy(server, `/ws/${stream}?meta=1&replay=5`);
    const packed = await openLegacy(server, `/ws/${stream}?meta=1&replay=5&encoding=msgpack`);
    await waitFor(() => packed.frames.length >= 3 && json.frames.length >= 3, { timeoutMs: 25_000, what: `3 ${stream} frames on both` });
    const bySeq = new Map(json.frames.map((frame) => [(frame.json as { seq: number }).seq, frame.json]));
    let compared = 0;
    for (const event of decoded(packed)) {
      expect(Object.keys(event)).toEqual([...CONTRACT_FIELDS[stream], 'seq', 'cursor']);
      const twin = bySeq.get(event['seq'] as number);
      if (twin === undefined) continue;
      expect(event).toEqual(twin);
      compared++;
    }
    expect(compared).toBeGreaterThan(0);
  });
});

test('without meta=1 a msgpack frame holds the contract fields only, like the JSON frame', async () => {
  const socket = await openLegacy(server, '/ws/transactions?encoding=msgpack');
  await waitFor(() => socket.frames.length >= 2, { what: '2 frames' });
  for (const event of decoded(socket)) expect(Object.keys(event)).toEqual(CONTRACT_FIELDS.transactions);
});

test('resuming with ?since= over msgpack continues right after the cursor', async () => {
  const first = await openLegacy(server, '/ws/transactions?meta=1&encoding=msgpack');
  await waitFor(() => first.frames.length >= 10, { what: '10 frames' });
  await first.close();
  const last = decoded(first).at(-1) as { seq: number; cursor: string };
  const resumed = await openLegacy(server, `/ws/transactions?meta=1&encoding=msgpack&since=${encodeURIComponent(last.cursor)}`);
  await waitFor(() => resumed.frames.length >= 5, { what: '5 resumed frames' });
  const seqs = decoded(resumed).map((event) => event['seq'] as number);
  expect(seqs[0]).toBe(last.seq + 1);
  expect(seqs).toEqual(seqs.map((_, i) => last.seq + 1 + i));
});

test('a REPLAY_GAP notice is a msgpack frame too: {error: {code, message, oldestCursor}}', async () => {
  // A well-formed cursor of another history (another epoch): resuming from it cannot be lossless.
  const foreign = encodeCursor({ epoch: 'abcdef012345', seq: 1 });
  const socket = await openLegacy(server, `/ws/transactions?meta=1&encoding=msgpack&since=${foreign}`);
  await waitFor(() => socket.frames.length >= 2, { what: 'the notice and an event' });
  const [notice, event] = decoded(socket) as [{ error?: unknown }, object];
  expect(notice.error).toMatchObject({ code: 'REPLAY_GAP', message: expect.any(String), oldestCursor: expect.any(String) });
  expect(Object.keys(event)).toEqual([...CONTRACT_FIELDS.transactions, 'seq', 'cursor']);
});

test('an unknown encoding is refused before the handshake with 400 naming the choices', async () => {
  const refusal = await refusedLegacy(server, '/ws/metrics?encoding=xml');
  expect(refusal.status).toBe(400);
  expect(refusal.body).toMatch(/encoding: json .* or msgpack/);
});

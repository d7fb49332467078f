import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { SplicedFrame } from '../../src/engine/frame.ts';
import { frameHeader, writeMessage } from '../../src/transports/ws-frames.ts';
import { track } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Shared-payload writes (src/transports/ws-frames.ts) against a real `ws`
 * client: every length class of the frame header, text and binary, spliced
 * parts, interleaved with ordinary `ws.send` frames, and the fallback through
 * ws's Sender when the socket negotiated permessage-deflate.
 */

async function pair(perMessageDeflate: boolean) {
  const server = track(new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate }), (s) => s.close());
  await new Promise((resolve) => server.once('listening', resolve));
  const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const client = track(new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate }), (c) =>
    c.terminate(),
  );
  const received: { data: Buffer; binary: boolean }[] = [];
  client.on('message', (data, binary) => received.push({ data: data as Buffer, binary }));
  await new Promise((resolve) => client.once('open', resolve));
  return { socket: await accepted, received, client };
}

const text = (length: number, seed: string) => seed.repeat(Math.ceil(length / seed.length)).slice(0, length);

describe('writing shared payloads to WebSockets', () => {
  test('frame headers: 7-bit, 16-bit and 64-bit lengths, text and binary opcodes', () => {
    expect([...frameHeader(0, false)]).toEqual([0x81, 0]);
    expect([...frameHeader(125, false)]).toEqual([0x81, 125]);
    expect([...frameHeader(126, true)]).toEqual([0x82, 126, 0, 126]);
    expect([...frameHeader(65_535, false)]).toEqual([0x81, 126, 0xff, 0xff]);
    expect([...frameHeader(65_536, false)]).toEqual([0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    // The cache of the last header never hands out another length's or opcode's bytes.
    expect([...frameHeader(65_536, true)]).toEqual([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect([...frameHeader(5, false)]).toEqual([0x81, 5]);
  });

  for (const deflate of [false, true]) {
    test(`a client reads every message whole and in order${deflate ? ' (permessage-deflate: through ws’s Sender)' : ''}`, async () => {
      const { socket, received } = await pair(deflate);
      const expected: { data: string; binary: boolean }[] = [];
      const shared = Buffer.from(text(70_000, '{"event":"abc"}'));
      for (const length of [0, 1, 125, 126, 1000, 65_535, 65_536, 70_000]) {
        const payload = shared.subarray(0, length);
        const prefix = Buffer.from(`{"id":"${length}","type":"next","payload":`);
        writeMessage(socket, new SplicedFrame(prefix, payload, Buffer.from('}')), false);
        expected.push({ data: `${prefix.toString()}${payload.toString('latin1')}}`, binary: false });
        // Over the deflate threshold: with permessage-deflate it is compressed asynchronously, so a frame written
        // past ws's Sender would overtake it.
        const plain = `plain ${length} ${'x'.repeat(2000)}`;
        socket.send(plain);
        expected.push({ data: plain, binary: false });
        writeMessage(socket, payload, true);
        expected.push({ data: payload.toString('latin1'), binary: true });
      }
      // A head too big to copy behind the header goes as its own write (and no tail).
      const big = Buffer.from(text(1000, 'first-part '));
      writeMessage(socket, new SplicedFrame(big, Buffer.from('!')), false);
      expected.push({ data: `${big.toString()}!`, binary: false });
      // Multi-byte UTF-8, whole: the bytes go out as they are, never re-encoded.
      const unicode = Buffer.from('"é€😀"');
      writeMessage(socket, new SplicedFrame(Buffer.from('['), unicode, Buffer.from(']')), false);
      expected.push({ data: Buffer.from('["é€😀"]').toString('latin1'), binary: false });
      await waitFor(() => received.length === expected.length, { what: `${expected.length} messages` });
      expect(received.map((m) => ({ data: m.data.toString('latin1'), binary: m.binary }))).toEqual(expected);
    });
  }
});

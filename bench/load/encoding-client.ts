/**
 * The client side of `npm run bench:encoding` (bench/encoding.ts), its own
 * process pinned to another core: measures bytes per event of every legacy
 * stream from its retained history, then holds `connections` readers on
 * `/ws/transactions` and counts what they receive over a window. Frames are
 * counted, not decoded, except one in a thousand (decoded to check the
 * encoding really is what was asked for).
 */
import type { Socket } from 'node:net';
import { unpack } from 'msgpackr';
import WebSocket from 'ws';

export interface ClientRequest {
  type: 'start';
  port: number;
  encoding: 'json' | 'msgpack';
  deflate: boolean;
  connections: number;
  streams: string[];
}

export interface ClientReport {
  type: 'report';
  /** Per stream: mean payload bytes and mean TCP bytes read per event (NaN: nothing retained). */
  sizes: Record<string, { payload: number; wire: number; events: number }>;
  /** Messages all readers received in the window. */
  messages: number;
}

const REPLAY = 200;

const send = (message: unknown) => process.send?.(message);

function open(url: string, deflate: boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: deflate, skipUTF8Validation: true });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const bytesRead = (ws: WebSocket) => (ws as unknown as { _socket?: Socket })._socket?.bytesRead ?? 0;

function check(data: Buffer, binary: boolean, encoding: ClientRequest['encoding']): void {
  const event = (encoding === 'msgpack' ? (binary ? unpack(data) : undefined) : binary ? undefined : JSON.parse(data.toString())) as
    { timestamp?: unknown } | undefined;
  if (typeof event?.timestamp !== 'string')
    throw new Error(`a frame that is not a ${encoding} event: ${data.subarray(0, 80).toString('hex')}`);
}

/** Mean sizes of up to REPLAY retained events of one stream. */
async function sizesOf(request: ClientRequest, stream: string): Promise<ClientReport['sizes'][string]> {
  const ws = await open(`ws://127.0.0.1:${request.port}/ws/${stream}?replay=${REPLAY}&encoding=${request.encoding}`, request.deflate);
  const afterHandshake = bytesRead(ws);
  let payload = 0;
  let events = 0;
  ws.on('message', (data: Buffer, binary) => {
    if (events === 0) check(data, binary, request.encoding);
    payload += data.length;
    events++;
  });
  // The replay arrives at once; live events may add a few more, which are just as representative.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const wire = bytesRead(ws) - afterHandshake;
  ws.terminate();
  return events === 0 ? { payload: Number.NaN, wire: Number.NaN, events } : { payload: payload / events, wire: wire / events, events };
}

let readers: WebSocket[] = [];
let counting = false;
let messages = 0;
let sample = 0;
let sizes: ClientReport['sizes'] = {};

process.on('message', (message: ClientRequest | { type: 'measure'; ms: number }) => {
  void (async () => {
    if (message.type === 'start') {
      sizes = {};
      for (const stream of message.streams) sizes[stream] = await sizesOf(message, stream);
      const url = `ws://127.0.0.1:${message.port}/ws/transactions?encoding=${message.encoding}`;
      for (let i = 0; i < message.connections; i++) {
        const ws = await open(url, message.deflate);
        ws.on('message', (data: Buffer, binary) => {
          if (!counting) return;
          messages++;
          if (++sample === 1000) {
            sample = 0;
            check(data, binary, message.encoding);
          }
        });
        readers.push(ws);
      }
      send({ type: 'live' });
      return;
    }
    counting = true;
    await new Promise((resolve) => setTimeout(resolve, message.ms));
    counting = false;
    const report: ClientReport = { type: 'report', sizes, messages };
    send(report);
    for (const ws of readers) ws.terminate();
    readers = [];
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});

import { once } from 'node:events';
import { afterEach, expect, test } from 'vitest';
import WebSocket, { type ClientOptions } from 'ws';
import { connectionsOf, getStats, probeStatus, sampleValue, samplesOf, scrape } from '../helpers/ops.ts';
import { useTestServer } from '../helpers/server.ts';
import { openLegacy, receivesMore, seqGaps } from '../helpers/sockets.ts';
import { waitFor } from '../helpers/wait.ts';
import { closeFramesOf, rawUpgrade, textFrame } from '../helpers/ws-frames.ts';

const PING_INTERVAL_MS = 200;
const PATH = '/ws/transactions';

// Fast pings so a silent peer is found quickly; every well-behaved client here must keep up with them.
const server = useTestServer({ WS_PING_INTERVAL_MS: String(PING_INTERVAL_MS) });
afterEach(async () => {
  // Nothing a client did may have taken the process down or stopped it serving.
  expect(await probeStatus(server.http('/health'))).toBe(200);
});

const open = (path: string, options: ClientOptions = {}) => openLegacy(server, path, options);

/** A ping answered means the server has processed every frame this client sent before it. */
const roundTrip = async (ws: WebSocket) => {
  const pong = once(ws, 'pong');
  ws.ping();
  await pong;
};

const allLegacyTerminations = async () =>
  samplesOf(await scrape(server), 'aurigraph_connections_terminated_total', { transport: 'legacy' }).reduce(
    (sum, sample) => sum + sample.value,
    0,
  );

const terminations = async (reason: string) =>
  sampleValue(await scrape(server), 'aurigraph_connections_terminated_total', { transport: 'legacy', reason }) ?? 0;

/**
 * A well-behaved `?meta=1` client on the same path as the misbehaving one: it
 * must keep receiving every event (no sequence gap) and stay open throughout.
 */
async function withWitness(misbehave: () => Promise<void>) {
  const witness = await open(`${PATH}?meta=1`);
  await receivesMore(witness, 3, 'the witness to receive frames');
  await misbehave();
  await receivesMore(witness, 10, 'the witness to keep receiving afterwards');
  expect(witness.closeInfo, 'the witness stays connected').toBeUndefined();
  expect(witness.ws.readyState).toBe(WebSocket.OPEN);
  expect(seqGaps(witness.frames), 'the witness missed no event').toEqual([]);
}

test('garbage text and binary frames are ignored: the sender stays connected and keeps receiving', async () => {
  await withWitness(async () => {
    const noisy = await open(PATH);
    await receivesMore(noisy, 1, 'the noisy client to receive a frame');
    const garbage: (string | Buffer)[] = [
      'not json',
      '{',
      '',
      '{"type":"subscribe","id":"1","payload":{"query":"subscription { metrics { tps } }"}}',
      '{"type":"connection_init"}',
      JSON.stringify({ unsubscribe: 'transactions' }),
      'x'.repeat(10_000),
      Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f]),
      Buffer.alloc(4096, 0xab),
    ];
    for (const frame of garbage) noisy.ws.send(frame, { binary: Buffer.isBuffer(frame) });
    // A handful, not a flood: the point is content the server cannot use, not message rate.
    for (let i = 0; i < 10; i++) noisy.ws.send(`{"n":${i}}`);
    await roundTrip(noisy.ws);
    await receivesMore(noisy, 5, 'the noisy client to keep receiving');
    expect(noisy.closeInfo).toBeUndefined();
    expect(noisy.ws.readyState).toBe(WebSocket.OPEN);
    // The server sends only event frames, never an answer to what a client said.
    for (const frame of noisy.frames) expect(Object.keys(frame.json as object)).toContain('txHash');
  });
});

test('a frame of exactly 64 KB is accepted (the limit is inclusive)', async () => {
  const client = await open(PATH);
  client.ws.send(Buffer.alloc(64 * 1024, 0x61), { binary: false });
  await roundTrip(client.ws);
  await receivesMore(client, 2, 'frames after the 64 KB frame');
  expect(client.closeInfo).toBeUndefined();
});

test('a text frame over 64 KB closes its sender with 1009 and is counted, nothing else happens', async () => {
  const before = await terminations('too-large');
  await withWitness(async () => {
    const big = await open(PATH);
    big.ws.send('x'.repeat(64 * 1024 + 1));
    expect((await big.closed).code).toBe(1009);
  });
  expect(await terminations('too-large')).toBe(before + 1);
});

test('a binary frame over 64 KB closes its sender with 1009', async () => {
  await withWitness(async () => {
    const big = await open(PATH);
    big.ws.send(Buffer.alloc(100 * 1024), { binary: true });
    expect((await big.closed).code).toBe(1009);
  });
});

test('a fragmented message over 1 MB, every fragment under 64 KB, closes its sender with 1009', async () => {
  await withWitness(async () => {
    const big = await open(PATH);
    const fragment = Buffer.alloc(60 * 1024, 0x62);
    const fragments = Math.ceil((1024 * 1024 + 1) / fragment.length) + 1;
    for (let i = 0; i < fragments && big.ws.readyState === WebSocket.OPEN; i++) {
      big.ws.send(fragment, { binary: true, fin: i === fragments - 1 });
    }
    expect((await big.closed).code).toBe(1009);
  });
});

test('a client that never answers pings is terminated and counted as missed-pong', async () => {
  const before = await terminations('missed-pong');
  const connectionsBefore = connectionsOf(await getStats(server), 'transactions');
  await withWitness(async () => {
    const silent = await open(PATH, { autoPong: false });
    let pings = 0;
    silent.ws.on('ping', () => pings++);
    await receivesMore(silent, 1, 'the silent client to receive a frame');
    // Terminated, not closed: no close frame, so the client sees 1006. Causes, not a clock: the server pinged
    // and went unanswered before it cut the connection (the test's own timeout is the hang guard).
    const closed = await silent.closed;
    expect(closed.code).toBe(1006);
    expect(pings, 'pings the server sent before giving up').toBeGreaterThanOrEqual(1);
  });
  expect(await terminations('missed-pong')).toBe(before + 1);
  // The witness is still open; the silent client is no longer counted.
  await waitFor(async () => connectionsOf(await getStats(server), 'transactions') === connectionsBefore + 1, {
    what: 'the terminated client to leave the stats',
  });
});

test('clients that answer pings survive many ping intervals', async () => {
  const client = await open('/ws/consensus');
  let pings = 0;
  client.ws.on('ping', () => pings++);
  await waitFor(() => pings >= 10, { what: '10 server pings (answered automatically)' });
  expect(client.closeInfo).toBeUndefined();
  await receivesMore(client, 1, 'consensus frames after 10 pings');
});

test('a text frame that is not UTF-8 closes its sender with 1007 and is counted as a protocol error', async () => {
  const before = await terminations('protocol-error');
  await withWitness(async () => {
    const broken = await open(PATH);
    broken.ws.send(Buffer.from([0xc3, 0x28, 0xff]), { binary: false });
    expect((await broken.closed).code).toBe(1007);
  });
  expect(await terminations('protocol-error')).toBe(before + 1);
});

test('an unmasked client frame (raw TCP) is refused with a 1002 close', async () => {
  await withWitness(async () => {
    const raw = await rawUpgrade(server.port, PATH);
    expect(raw.status).toBe(101);
    raw.send(textFrame('hello', { mask: false }));
    await waitFor(() => closeFramesOf(raw.bytes()).length > 0, { what: 'a close frame from the server' });
    expect(closeFramesOf(raw.bytes()).map((f) => f.code)).toEqual([1002]);
  });
});

test('a peer that resets its TCP connection right after the handshake does not disturb anyone', async () => {
  await withWitness(async () => {
    const raw = await rawUpgrade(server.port, PATH);
    raw.socket.resetAndDestroy();
    await raw.closed;
  });
});

/** Sends pings faster than the server can answer them (far more than ws's 60 queued auto-pongs). */
const floodPings = (ws: WebSocket) => {
  for (let i = 0; i < 2000 && ws.readyState === WebSocket.OPEN; i++) ws.ping(Buffer.alloc(125));
};

test('a client flooding pings is cut off without disturbing others', async () => {
  await withWitness(async () => {
    const flooder = await open(PATH);
    floodPings(flooder.ws);
    await flooder.closed;
  });
});

test('a client cut off for flooding pings is counted in aurigraph_connections_terminated_total', async () => {
  const before = await allLegacyTerminations();
  const flooder = await open(PATH);
  floodPings(flooder.ws);
  await flooder.closed;
  // The server ended this connection over the client's behaviour; operators must see that like any other termination.
  await waitFor(async () => (await allLegacyTerminations()) === before + 1, {
    what: 'the ping-flood termination to be counted (any reason label, transport="legacy")',
  });
});

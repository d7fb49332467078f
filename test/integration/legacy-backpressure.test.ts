import type { Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import WebSocket from 'ws';
import { connectionsOf, getStats, probeStatus, sampleValue, scrape } from '../helpers/ops.ts';
import { useTestServer } from '../helpers/server.ts';
import { openLegacy, receivesMore, seqGaps, seqs } from '../helpers/sockets.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Slow readers: a legacy client that stops reading must not grow the server's
 * memory without bound. The delivery engine caps each connection's unsent
 * bytes (SLOW_CONSUMER_BUFFER_BYTES, for every transport) and its lag (an
 * unanswered ping probe older than SLOW_CONSUMER_LAG_MS), then applies the
 * stream's policy: transactions (which must not skip) close the slow socket
 * with 4008; metrics snapshots (which supersede each other) are conflated for
 * it instead. Either way the other clients on the path get every event.
 *
 * A paused client stops reading from its TCP socket, so the kernel buffers fill
 * first and only then does the server's unsent byte count grow; the waits below
 * are generous because how much the kernel absorbs depends on the machine.
 */

const server = useTestServer({ SIM_TPS: '1000', METRICS_INTERVAL_MS: '50', SLOW_CONSUMER_BUFFER_BYTES: '1024' });
afterEach(async () => {
  expect(await probeStatus(server.http('/health'))).toBe(200);
});

const open = (path: string) => openLegacy(server, path);
const counter = async (name: string, labels: Record<string, string>) => sampleValue(await scrape(server), name, labels) ?? 0;
const slowClosures = () => counter('aurigraph_connections_terminated_total', { transport: 'legacy', reason: 'slow-consumer' });
const metricsDrops = () =>
  counter('aurigraph_messages_dropped_total', { endpoint: 'metrics', transport: 'legacy', reason: 'slow-consumer' });

test('a transactions client that stops reading is closed with 4008 while another keeps receiving every event', async () => {
  const closuresBefore = await slowClosures();
  const witness = await open('/ws/transactions?meta=1');
  const slow = await open('/ws/transactions');
  await receivesMore(slow, 1, 'the slow client to receive a frame');
  slow.ws.pause();

  await waitFor(async () => (await slowClosures()) > closuresBefore, {
    timeoutMs: 30_000,
    intervalMs: 100,
    what: 'the server to close the slow transactions client',
  });
  expect(await slowClosures()).toBe(closuresBefore + 1);
  await waitFor(async () => connectionsOf(await getStats(server), 'transactions') === 1, {
    what: 'the slow client to stop counting as a subscriber',
  });

  // Once it reads again it finds what was buffered, then the close frame with the documented code.
  slow.ws.resume();
  expect((await slow.closed).code).toBe(4008);
  expect(slow.closeInfo?.reason).toMatch(/slow/i);

  await receivesMore(witness, 50, 'the witness to keep receiving after the slow client was closed');
  expect(witness.closeInfo).toBeUndefined();
  expect(witness.ws.readyState).toBe(WebSocket.OPEN);
  expect(seqGaps(witness.frames), 'the witness missed no event').toEqual([]);
});

test('a metrics client that stops reading has snapshots dropped (counted), is not closed, and resumes', async () => {
  const closuresBefore = await slowClosures();
  const dropsBefore = await metricsDrops();
  const witness = await open('/ws/metrics?meta=1');
  // The server's end of the slow client's TCP connection: what it has not yet handed to the kernel.
  const serverSide = new Promise<Socket>((resolve) => server.app.server.once('upgrade', (_request, socket: Socket) => resolve(socket)));
  const slow = await open('/ws/metrics?meta=1');
  const slowServerSocket = await serverSide;
  await receivesMore(slow, 1, 'the slow metrics client to receive a frame');
  slow.ws.pause();

  // Metrics frames are tiny, so on their own they would take minutes to fill the kernel's buffers.
  // Pings do it quickly: the server answers each with a pong on the same socket, which nobody reads.
  // ws terminates a peer with 60 unanswered auto-pongs queued (ping-flood protection), so the pings go
  // in small batches and stop as soon as the server holds more than SLOW_CONSUMER_BUFFER_BYTES for this
  // socket — read from the server in this process, only to know when to stop.
  const buffered = () => slowServerSocket.writableLength;
  const payload = Buffer.alloc(125, 0x70);
  await waitFor(
    () => {
      if (buffered() > server.config.delivery.slowConsumerBufferBytes) return true;
      for (let i = 0; i < 25; i++) slow.ws.ping(payload);
      return false;
    },
    { timeoutMs: 30_000, intervalMs: 1, what: "the server's buffer for the slow metrics client to pass the cap" },
  );
  await waitFor(async () => (await metricsDrops()) > dropsBefore, {
    timeoutMs: 10_000,
    what: 'metrics frames to be dropped for the slow client',
  });
  expect(slow.closeInfo, 'the slow metrics client is still connected').toBeUndefined();

  expect(await slowClosures(), 'metrics readers are never closed for being slow').toBe(closuresBefore);
  expect(connectionsOf(await getStats(server), 'metrics')).toBe(2);
  // Everything the kernel held arrives first; then live snapshots again, past the ones that were dropped.
  const caughtUpTo = (seqs(witness.frames).at(-1) ?? 0) + 2;
  slow.ws.resume();
  await waitFor(() => (seqs(slow.frames).at(-1) ?? 0) >= caughtUpTo, {
    timeoutMs: 15_000,
    what: 'the slow metrics client to receive live snapshots again',
  });
  expect(slow.closeInfo).toBeUndefined();
  const missing = seqGaps(slow.frames).reduce((sum, [previous, next]) => sum + (next - previous - 1), 0);
  expect(missing, 'the slow client skipped snapshots').toBeGreaterThanOrEqual(1);
  expect(await metricsDrops(), 'every skipped snapshot is counted once').toBe(dropsBefore + missing);

  await receivesMore(witness, 5, 'the witness to keep receiving');
  expect(witness.closeInfo).toBeUndefined();
  expect(seqGaps(witness.frames), 'the witness missed no snapshot').toEqual([]);
});

import { isIP } from 'node:net';
import { beforeAll, describe, expect, test } from 'vitest';
import { CONTRACT_FIELDS, STREAM_NAMES, type StreamName } from '../helpers/contract.ts';
import { probeStatus } from '../helpers/ops.ts';
import { useTestServer } from '../helpers/server.ts';
import { httpErrorOf, openLegacy, refusedUpgrade, refusedUpgradeStatus, seqGaps, seqs, type ClientSocket } from '../helpers/sockets.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The legacy wire format. The streams and their field order come from the
 * registry (test/helpers/contract.ts); the value types are written out from
 * CONTRACT.md rather than imported from src/, so a change to the domain types
 * cannot quietly change what old clients receive — and a stream whose types
 * are not written out here fails to compile (the table is keyed by StreamName).
 */
type Check = (value: unknown) => boolean;
const ISO_MS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const timestamp: Check = (v) => typeof v === 'string' && ISO_MS_UTC.test(v) && new Date(v).toISOString() === v;
const hex: Check = (v) => typeof v === 'string' && /^0x[0-9a-fA-F]+$/.test(v);
const decimalString: Check = (v) => typeof v === 'string' && /^(0|[1-9][0-9]*)$/.test(v);
const int: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const nonNegative: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const range =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v);
const nonEmptyString: Check = (v) => typeof v === 'string' && v.length > 0;
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

const hash: Check = (v) => typeof v === 'string' && /^0x[0-9a-fA-F]{64}$/.test(v);

const CONTRACT: Record<StreamName, [field: string, check: Check][]> = {
  metrics: [
    ['timestamp', timestamp],
    ['tps', nonNegative],
    ['cpu', range(0, 100)],
    ['memory', (v) => typeof v === 'number' && v > 0],
    // Our own client is a live subscriber, so the count can never be 0 in a frame we receive.
    ['connections', (v) => int(v) && (v as number) >= 1],
    ['errorRate', range(0, 1)],
  ],
  transactions: [
    ['timestamp', timestamp],
    ['txHash', hex],
    ['from', hex],
    ['to', hex],
    ['value', decimalString],
    ['status', oneOf('PENDING', 'SUCCESS', 'FAILED')],
    ['gasUsed', int],
  ],
  validators: [
    ['timestamp', timestamp],
    ['validator', hex],
    ['status', oneOf('ACTIVE', 'INACTIVE', 'JAILED')],
    ['votingPower', nonNegative],
    ['uptime', range(0, 100)],
    ['lastBlockProposed', int],
  ],
  consensus: [
    ['timestamp', timestamp],
    ['leader', nonEmptyString],
    ['epoch', int],
    ['round', int],
    ['term', int],
    ['state', oneOf('COMMITTED', 'PENDING')],
    ['performanceScore', range(0, 1)],
    ['activeValidators', int],
  ],
  network: [
    ['timestamp', timestamp],
    ['peerId', nonEmptyString],
    ['ip', (v) => typeof v === 'string' && isIP(v) !== 0],
    ['connected', (v) => typeof v === 'boolean'],
    ['latency', nonNegative],
    ['version', (v) => typeof v === 'string' && SEMVER.test(v)],
  ],
  blocks: [
    ['timestamp', timestamp],
    ['height', (v) => int(v) && (v as number) >= 1],
    ['hash', hash],
    ['parentHash', hash],
    ['proposer', hex],
    ['txCount', int],
    ['gasUsed', int],
    ['state', oneOf('COMMITTED')],
  ],
};

/** Every field that breaks the contract's type, as `field=value` strings (empty when the frame is fine). */
function typeProblems(stream: StreamName, frame: Record<string, unknown>): string[] {
  return CONTRACT[stream].filter(([field, check]) => !check(frame[field])).map(([field]) => `${field}=${JSON.stringify(frame[field])}`);
}

const server = useTestServer();

// One plain and one `?meta=1` client per stream, opened together so slow streams fill up in parallel.
const plain = new Map<StreamName, ClientSocket>();
const withMeta = new Map<StreamName, ClientSocket>();
const pick = (map: Map<StreamName, ClientSocket>, stream: StreamName) => {
  const found = map.get(stream);
  if (!found) throw new Error(`no client for ${stream}`);
  return found;
};
const plainClient = (stream: StreamName) => pick(plain, stream);
const metaClient = (stream: StreamName) => pick(withMeta, stream);

beforeAll(async () => {
  await Promise.all(
    STREAM_NAMES.flatMap((stream) => [
      openLegacy(server, `/ws/${stream}`).then((c) => plain.set(stream, c)),
      openLegacy(server, `/ws/${stream}?meta=1`).then((c) => withMeta.set(stream, c)),
    ]),
  );
});

test('the type table covers exactly the registry streams, in the wire order of their fields', () => {
  for (const stream of STREAM_NAMES)
    expect(
      CONTRACT[stream].map(([field]) => field),
      stream,
    ).toEqual(CONTRACT_FIELDS[stream]);
});

describe.each(STREAM_NAMES)('/ws/%s', (stream) => {
  const fields = CONTRACT_FIELDS[stream];

  test('sends text frames of JSON objects with exactly the contract fields, in order, with the contract types', async () => {
    const client = plainClient(stream);
    const wanted = stream === 'metrics' || stream === 'transactions' ? 3 : 2;
    await waitFor(() => client.frames.length >= wanted, { timeoutMs: 20_000, what: `${wanted} ${stream} frames` });
    for (const frame of client.frames) {
      expect(frame.binary, 'frames are text, not binary').toBe(false);
      expect(frame.json, `frame is a JSON object: ${frame.text}`).toBeTypeOf('object');
      expect(frame.json).not.toBeNull();
      expect(Array.isArray(frame.json)).toBe(false);
      const object = frame.json as Record<string, unknown>;
      expect(Object.keys(object)).toEqual(fields);
      expect(typeProblems(stream, object), frame.text).toEqual([]);
    }
    expect(client.ws.protocol, 'no subprotocol is negotiated').toBe('');
  });

  test('?meta=1 adds exactly seq and cursor, with seq counting up by one', async () => {
    const client = metaClient(stream);
    await waitFor(() => client.frames.length >= 2, { timeoutMs: 20_000, what: `2 ${stream} frames with meta` });
    for (const frame of client.frames) {
      expect(frame.binary).toBe(false);
      const object = frame.json as Record<string, unknown>;
      expect(Object.keys(object)).toEqual([...fields, 'seq', 'cursor']);
      expect(typeProblems(stream, object), frame.text).toEqual([]);
      expect(int(object.seq) && (object.seq as number) >= 1, `seq=${String(object.seq)}`).toBe(true);
      expect(nonEmptyString(object.cursor), `cursor=${String(object.cursor)}`).toBe(true);
    }
    expect(seqGaps(client.frames)).toEqual([]);
    const cursors = client.frames.map((frame) => (frame.json as { cursor: string }).cursor);
    expect(new Set(cursors).size, 'each event has its own cursor').toBe(cursors.length);
  });
});

test('/ws/metrics sends each tick of the default ticker once, in order', async () => {
  // The cadence itself (one snapshot per METRICS_INTERVAL_MS, 1 s by default) is pinned with fake timers in
  // test/unit/metrics-ticker.test.ts; here: what the wire carries is consecutive ticks, none skipped or repeated,
  // each later than the one before — facts that hold however late a loaded machine runs the timer.
  expect(server.config.metricsIntervalMs).toBe(1000);
  const client = metaClient('metrics');
  await waitFor(() => client.frames.length >= 3, { timeoutMs: 15_000, what: '3 metrics frames' });
  expect(seqGaps(client.frames)).toEqual([]);
  const stamps = client.frames.map((frame) => Date.parse((frame.json as { timestamp: string }).timestamp));
  for (let i = 1; i < stamps.length; i++) expect(stamps[i], `snapshot ${seqs(client.frames)[i]}`).toBeGreaterThan(stamps[i - 1] as number);
});

test('two clients on one path receive the same frames byte for byte', async () => {
  const [a, b] = await Promise.all([openLegacy(server, '/ws/transactions?meta=1'), openLegacy(server, '/ws/transactions?meta=1')]);
  // Compare from the first seq both have seen.
  await waitFor(() => a.frames.length >= 5 && b.frames.length >= 5, { what: 'frames on both clients' });
  const seqOf = (text: string) => (JSON.parse(text) as { seq: number }).seq;
  const start = Math.max(seqOf((a.frames[0] as { text: string }).text), seqOf((b.frames[0] as { text: string }).text));
  const from = (client: ClientSocket) => client.frames.map((f) => f.text).filter((text) => seqOf(text) >= start);
  await waitFor(() => from(a).length >= 3 && from(b).length >= 3, { what: 'overlapping frames' });
  const n = Math.min(from(a).length, from(b).length);
  expect(from(a).slice(0, n)).toEqual(from(b).slice(0, n));
});

describe('upgrade routing', () => {
  test.each(['/ws/nope', '/ws/', '/ws', '/ws/metrics/extra', '/ws/Metrics', '/ws//metrics', '/foo', '/', '/graphql/stream', '/health'])(
    'an upgrade to %s is refused with HTTP 404 before the handshake',
    async (path) => {
      const refused = await refusedUpgrade(server.ws(path));
      expect(refused.status).toBe(404);
      // The one JSON error body, before the handshake too.
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      expect(httpErrorOf(refused.body).code).toBe('NOT_FOUND');
    },
  );

  test('a query string does not change routing: /ws/nope?meta=1 is 404, /ws/metrics?meta=1 is accepted', async () => {
    expect(await refusedUpgradeStatus(server.ws('/ws/nope?meta=1'))).toBe(404);
    const client = await openLegacy(server, '/ws/metrics?meta=1');
    await waitFor(() => client.frames.length >= 1, { what: 'a metrics frame' });
  });

  test('an unknown query parameter is HTTP 400 naming the allowed ones, before the handshake', async () => {
    const refused = await refusedUpgrade(server.ws('/ws/metrics?x=1'));
    expect(refused.status).toBe(400);
    const error = httpErrorOf(refused.body);
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.extensions['argument']).toBe('x');
    expect(error.extensions['allowed']).toEqual(expect.arrayContaining(['intervalMs', 'replay', 'since', 'meta']));
    for (const name of ['intervalMs', 'replay', 'since', 'meta']) expect(error.message).toContain(name);
    const transactions = httpErrorOf((await refusedUpgrade(server.ws('/ws/transactions?stauts=FAILED'))).body);
    expect(transactions.extensions['allowed']).toEqual(expect.arrayContaining(['status', 'from', 'to', 'address', 'minValue', 'maxValue']));
  });

  test('the server keeps serving after refused upgrades', async () => {
    await Promise.all(['/ws/nope', '/foo', '/ws/'].map((path) => refusedUpgradeStatus(server.ws(path))));
    expect(await probeStatus(server.http('/health'))).toBe(200);
    const client = await openLegacy(server, '/ws/transactions');
    await waitFor(() => client.frames.length >= 1, { what: 'a transactions frame' });
  });
});

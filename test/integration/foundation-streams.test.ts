import { expect, test } from 'vitest';
import { CONTRACT_FIELDS, parseEvent, STREAM_NAMES, type StreamName } from '../helpers/contract.ts';
import { graphqlSseClient, graphqlWsClient, subscribe } from '../helpers/clients.ts';
import { collect } from '../helpers/collect.ts';
import { fullStreamDocument, type FullEvent } from '../helpers/documents.ts';
import { useTestServer } from '../helpers/server.ts';
import { seqBreaks } from '../helpers/sequences.ts';
import { take, waitFor } from '../helpers/wait.ts';

// Fast chain (200 ms blocks, 50 tx/s) and a 200 ms metrics tick.
const server = useTestServer({ METRICS_INTERVAL_MS: '200' });

/**
 * How many events to take from each stream, and how long that may take with
 * the test chain. The budgets are several times the expected time so a loaded
 * machine does not flake, but a stream that never publishes still fails.
 * network: a peer churns with probability 1/4 every 500 ms (~1 event per 2 s).
 */
const EXPECTATIONS: { [S in StreamName]: { count: number; timeoutMs: number } } = {
  metrics: { count: 3, timeoutMs: 8_000 },
  transactions: { count: 20, timeoutMs: 8_000 },
  validators: { count: 3, timeoutMs: 15_000 },
  consensus: { count: 4, timeoutMs: 8_000 },
  network: { count: 2, timeoutMs: 25_000 },
  blocks: { count: 3, timeoutMs: 8_000 },
};

function checkEvents<S extends StreamName>(stream: S, events: (FullEvent<S> | undefined)[]): void {
  const { count } = EXPECTATIONS[stream];
  expect(events, stream).toHaveLength(count);
  let previousSeq = 0;
  for (const event of events) {
    expect(event, stream).toBeDefined();
    const { seq, cursor, ...rest } = event as FullEvent<S>;
    // Exactly the contract's fields (plus seq and cursor), nothing missing, nothing extra.
    expect(Object.keys(rest).sort(), stream).toEqual([...CONTRACT_FIELDS[stream]].sort());
    const parsed = parseEvent(stream, rest);
    expect(parsed.ok ? [] : parsed.problems, `${stream} event ${JSON.stringify(rest)}`).toEqual([]);
    expect(Number.isSafeInteger(seq), stream).toBe(true);
    expect(seq, `${stream} seq strictly increases`).toBeGreaterThan(previousSeq);
    previousSeq = seq;
    expect(typeof cursor).toBe('string');
    expect(cursor.length).toBeGreaterThan(0);
  }
  const cursors = new Set(events.map((e) => e?.cursor));
  expect(cursors.size, `${stream} cursors are distinct`).toBe(count);
}

/** Takes each stream's expected count of full events on one client, all streams at once, and checks them. */
async function expectEveryStream(client: Parameters<typeof subscribe>[0]): Promise<void> {
  const received = await Promise.all(STREAM_NAMES.map(async (stream) => [stream, await takeStream(client, stream)] as const));
  for (const [stream, events] of received) checkEvents(stream, events as (FullEvent<typeof stream> | undefined)[]);
}

async function takeStream<S extends StreamName>(client: Parameters<typeof subscribe>[0], stream: S): Promise<(FullEvent<S> | undefined)[]> {
  const { count, timeoutMs } = EXPECTATIONS[stream];
  const results = await take(subscribe(client, fullStreamDocument(stream)), count, timeoutMs);
  for (const result of results) expect(result.errors, stream).toBeUndefined();
  return results.map((r) => (r.data as Record<string, FullEvent<S>> | null | undefined)?.[stream]);
}

test('each stream delivers valid events with strictly increasing seq over graphql-ws', async () => {
  await expectEveryStream(graphqlWsClient(server));
});

test('each stream delivers valid events with strictly increasing seq over SSE', async () => {
  await expectEveryStream(graphqlSseClient(server, { singleConnection: true }));
});

test('transactions are delivered without gaps: consecutive seq within one subscription', async () => {
  const events = await takeStream(graphqlWsClient(server), 'transactions');
  expect(seqBreaks(events.map((e) => e?.seq ?? Number.NaN))).toEqual([]);
});

test('two subscribers on different transports see the same event under the same seq', async () => {
  const a = graphqlWsClient(server);
  const b = graphqlSseClient(server);
  const document = fullStreamDocument('transactions');
  const fromWs = collect(a, document);
  const fromSse = collect(b, document);
  const seqsOf = (c: typeof fromWs) => c.results.map((r) => r.data?.transactions.seq ?? Number.NaN);
  await waitFor(() => fromWs.results.length > 0 && fromSse.results.length > 0, { what: 'both to receive an event' });
  // From the later of the two starts on, both must have seen the same 10 events.
  const from = Math.max(seqsOf(fromWs)[0] as number, seqsOf(fromSse)[0] as number);
  await waitFor(() => seqsOf(fromWs).includes(from + 9) && seqsOf(fromSse).includes(from + 9), {
    what: 'both to reach the same seq',
  });
  const window = (c: typeof fromWs) =>
    c.results.map((r) => r.data?.transactions).filter((e) => e !== undefined && e.seq >= from && e.seq <= from + 9);
  expect(window(fromWs)).toHaveLength(10);
  expect(window(fromSse)).toEqual(window(fromWs));
  expect(fromWs.error).toBeUndefined();
  expect(fromSse.error).toBeUndefined();
});

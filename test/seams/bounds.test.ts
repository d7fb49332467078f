/**
 * Issue 11, inputs 10 and 11: validation, GraphQL types and legacy frames come
 * from one descriptor per stream, so they cannot disagree, and every value has
 * a bound.
 */
import { describe, expect, test } from 'vitest';
import { graphqlWsClient } from '../helpers/clients.ts';
import { collect } from '../helpers/collect.ts';
import { ingestOk, makeConsensus, makeNetwork, makeTransaction, postIngest, TEST_INGEST_TOKEN } from '../helpers/ingest-client.ts';
import { startTestServer } from '../helpers/server.ts';
import { legacyFeed, query } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

const ingestServer = () => startTestServer({ SOURCES: 'ingest', INGEST_TOKEN: TEST_INGEST_TOKEN });
/** The fields an ingest refusal names (zod may report more than one problem for one field). */
const fieldsOf = (json: unknown) =>
  new Set((json as { errors: { extensions: { problems: { field: string }[] } }[] }).errors[0]?.extensions.problems.map((p) => p.field));

describe('input 10: values past 32 bits', () => {
  test('gasUsed 2^31 is accepted, delivered on graphql-ws and legacy, and recentTransactions still answers everyone', async () => {
    const server = await ingestServer();
    const live = collect<{ transactions: { seq: number; gasUsed: number } }, Record<string, never>>(
      graphqlWsClient(server),
      'subscription { transactions { seq gasUsed } }',
    );
    const legacy = await legacyFeed(server, '/ws/transactions');
    await waitFor(() => server.app.engine.subscriberCount('transactions') === 2, { what: 'both subscribers' });

    const big = 2 ** 31;
    await ingestOk(server, 'transactions', [makeTransaction('big', 0, { status: 'SUCCESS', gasUsed: big })]);
    await waitFor(() => live.results.length === 1 && legacy.frames.length === 1, { what: 'the event on both transports' });
    expect(live.results[0]).toMatchObject({ data: { transactions: { gasUsed: big } } });
    expect(live.results[0]?.errors).toBeUndefined();
    expect(JSON.parse(legacy.frames[0] as string)).toMatchObject({ gasUsed: big });
    const recent = await query<{ recentTransactions: { gasUsed: number }[] }>(server, '{ recentTransactions(limit: 5) { gasUsed } }');
    expect(recent.recentTransactions.map((tx) => tx.gasUsed)).toEqual([big]);
  });

  test('chain counters take 2^40 (SafeInt); beyond 2^53 − 1 and beyond Int for a count are refused with the field named', async () => {
    const server = await ingestServer();
    await ingestOk(server, 'consensus', [{ ...makeConsensus('c', 0), epoch: 2 ** 40, round: 2 ** 40 + 1, term: 2 ** 40 + 2 }]);
    const tooBig = await postIngest(server, 'transactions', [makeTransaction('x', 0, { gasUsed: 2 ** 53 })]);
    expect(tooBig.status).toBe(400);
    expect(fieldsOf(tooBig.json)).toEqual(new Set(['gasUsed']));
    const notAnInt = await postIngest(server, 'consensus', [{ ...makeConsensus('c', 1), activeValidators: 2 ** 31 }]);
    expect(notAnInt.status).toBe(400);
    expect(fieldsOf(notAnInt.json)).toEqual(new Set(['activeValidators']));
    const state = await query<{ consensusState: { epoch: number; round: number; term: number } }>(
      server,
      '{ consensusState { epoch round term } }',
    );
    expect(state.consensusState).toEqual({ epoch: 2 ** 40, round: 2 ** 40 + 1, term: 2 ** 40 + 2 });
  });
});

describe('input 11: every string has a bound from its descriptor', () => {
  test('an over-long decimal, version or peer id is refused whole with the field named; nothing is retained', async () => {
    const server = await ingestServer();
    const cases = [
      { stream: 'transactions', event: makeTransaction('v', 0, { value: '9'.repeat(79) }), field: 'value' },
      { stream: 'network', event: { ...makeNetwork('n', 0), version: `1.0.0-${'a'.repeat(100)}` }, field: 'version' },
      { stream: 'network', event: { ...makeNetwork('n', 1), peerId: 'p'.repeat(129) }, field: 'peerId' },
      { stream: 'transactions', event: { ...makeTransaction('h', 0), txHash: `0x${'a'.repeat(66)}` }, field: 'txHash' },
    ] as const;
    for (const { stream, event, field } of cases) {
      const answer = await postIngest(server, stream, [event]);
      expect(answer.status, field).toBe(400);
      expect(fieldsOf(answer.json), field).toEqual(new Set([field]));
    }
    expect(server.app.streams.hubs.transactions.lastSeq + server.app.streams.hubs.network.lastSeq).toBe(0);
  });

  test('a 78-digit value (2^256 range) is accepted; a filter bound past 78 digits is refused with its argument named', async () => {
    const server = await ingestServer();
    await ingestOk(server, 'transactions', [makeTransaction('max', 0, { value: '9'.repeat(78) })]);
    const refused = collect(graphqlWsClient(server), `subscription { transactions(filter: { minValue: "${'1'.repeat(1000)}" }) { seq } }`);
    await waitFor(() => refused.ended, { what: 'the refusal' });
    expect(refused.error).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_REQUEST', argument: 'filter.minValue' }) }),
    ]);
  });
});

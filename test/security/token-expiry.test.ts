import { describe, expect, test } from 'vitest';
import { graphqlWsConnection } from '../helpers/clients.ts';
import { useControlFeed } from '../helpers/control-feed.ts';
import { sequenceProblems } from '../helpers/sequences.ts';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { openLegacy, seqGaps, seqs } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { latestSeq } from '../helpers/stream-feeds.ts';
import { signHs256, signHs256ExpiringAt, TEST_JWT_SECRET } from '../helpers/tokens.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * A token that expires on an open connection: graphql-ws and legacy both
 * close 4440 "token expired" (retryable with a fresh token), SSE ends its
 * stream with a TOKEN_EXPIRED result then `complete` — never before `exp`
 * (clock tolerance 0). The client then reconnects with a fresh token and
 * resumes by cursor with nothing lost and nothing repeated, while a control
 * client with a long-lived token is undisturbed. Ordering is asserted, never
 * how soon after `exp` the close came.
 */

const LIFETIME_MS = 2000;
/** A hang guard only: how long a test waits for an expiry close before it gives up. */
const GUARD_MS = 20_000;

const server = useTestServer({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_CLOCK_TOLERANCE_S: '0' });
useControlFeed(server, { authorization: async () => `Bearer ${await signHs256({ scope: 'stream:*' })}`, minEvents: 51 });
const latest = () => latestSeq(server, 'transactions');

interface Received {
  seq: number;
  cursor: string;
}

describe('graphql-ws', () => {
  test('after exp the socket closes 4440 "token expired"; a fresh token resumes with after: <cursor> without loss', async () => {
    const expMs = Math.ceil((Date.now() + LIFETIME_MS) / 1000) * 1000;
    const first = graphqlWsConnection(server, {
      authorization: `Bearer ${await signHs256ExpiringAt(expMs, { scope: 'stream:transactions' })}`,
    });
    const before: Received[] = [];
    let sinkError: unknown;
    first.client.subscribe<{ transactions: Received }>(
      { query: 'subscription { transactions { seq cursor } }' },
      { next: (r) => r.data && before.push(r.data.transactions), error: (e) => (sinkError = e), complete: () => {} },
    );
    const closed = await first.closed;
    const closedAt = Date.now();
    expect(closed).toEqual({ code: 4440, reason: 'token expired' });
    expect(closedAt, 'not before exp').toBeGreaterThanOrEqual(expMs - 50);
    await waitFor(() => sinkError, { what: 'the subscription to see the close' });
    expect((sinkError as { code?: number }).code).toBe(4440);
    expect(before.length).toBeGreaterThan(10);
    expect(sequenceProblems(before.map((e) => e.seq))).toBeUndefined();
    await first.dispose();

    // The chain moves on while the client fetches a new token.
    const lastBefore = (before.at(-1) as Received).seq;
    await waitFor(() => latest() >= lastBefore + 20, { what: 'events published while the client is away' });
    const newestWhileAway = latest();

    const second = graphqlWsConnection(server, { authorization: `Bearer ${await signHs256({ scope: 'stream:transactions' })}` });
    const after: Received[] = [];
    second.client.subscribe<{ transactions: Received }>(
      {
        query: 'subscription Resume($after: String) { transactions(after: $after) { seq cursor } }',
        variables: { after: (before.at(-1) as Received).cursor },
      },
      { next: (r) => r.data && after.push(r.data.transactions), error: () => {}, complete: () => {} },
    );
    await waitFor(() => (after.at(-1)?.seq ?? 0) > newestWhileAway + 10, { what: 'the resumed subscription to go live' });
    expect(after[0]?.seq, 'resumes right after the last event received').toBe(lastBefore + 1);
    expect(sequenceProblems([...before, ...after].map((e) => e.seq)), 'nothing lost or repeated across the expiry').toBeUndefined();
    expect(second.closeInfo).toBeUndefined();
    await second.dispose();
  });

  test('a token that expires later keeps the connection open until then', async () => {
    const expMs = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    const connection = graphqlWsConnection(server, { authorization: `Bearer ${await signHs256ExpiringAt(expMs, { scope: 'stream:*' })}` });
    await connection.acknowledged;
    const closed = await connection.closed;
    expect(closed.code).toBe(4440);
    expect(Date.now(), 'not before exp').toBeGreaterThanOrEqual(expMs - 50);
    await connection.dispose();
  });
});

describe('legacy /ws/<stream>', () => {
  test('after exp the socket closes 4440 "token expired" (as graphql-ws); ?since=<cursor> with a fresh token resumes without loss', async () => {
    const expMs = Math.ceil((Date.now() + LIFETIME_MS) / 1000) * 1000;
    const shortLived = await signHs256ExpiringAt(expMs, { scope: 'stream:transactions' });
    const first = await openLegacy(server, `/ws/transactions?meta=1&access_token=${shortLived}`);
    const closed = await first.closed;
    expect(closed.code).toBe(4440);
    expect(closed.reason).toMatch(/^token expired/);
    expect(Date.now(), 'not before exp').toBeGreaterThanOrEqual(expMs - 50);
    const before = seqs(first.frames);
    expect(before.length).toBeGreaterThan(10);
    expect(seqGaps(first.frames)).toEqual([]);
    const lastFrame = first.frames.at(-1)?.json as { seq: number; cursor: string };

    await waitFor(() => latest() >= lastFrame.seq + 20, { what: 'events published while away' });
    const newestWhileAway = latest();
    const fresh = await signHs256({ scope: 'stream:transactions' });
    const second = await openLegacy(server, `/ws/transactions?meta=1&since=${encodeURIComponent(lastFrame.cursor)}`, {
      headers: { authorization: `Bearer ${fresh}` },
    });
    await waitFor(() => (seqs(second.frames).at(-1) ?? 0) > newestWhileAway + 10, { what: 'the resumed legacy socket to go live' });
    const after = seqs(second.frames);
    expect(after[0]).toBe(lastFrame.seq + 1);
    expect(sequenceProblems([...before, ...after])).toBeUndefined();
    await second.close();
  });

  test('the expired token is refused on reconnect (401), so the client must fetch a fresh one', async () => {
    const expMs = Math.ceil((Date.now() + 1000) / 1000) * 1000;
    const shortLived = await signHs256ExpiringAt(expMs, { scope: 'stream:*' });
    const first = await openLegacy(server, `/ws/metrics?access_token=${shortLived}`);
    expect((await first.closed).code).toBe(4440);
    await expect(openLegacy(server, `/ws/metrics?access_token=${shortLived}`)).rejects.toThrow(/401/);
  });
});

describe('SSE', () => {
  // The issue: "at exp the server ends that connection". SSE has no close code, but the stream must end,
  // or a token stays good forever on a stream opened before it expired.
  test('an SSE stream ends when its token expires: a TOKEN_EXPIRED result, then complete, not before exp', async () => {
    const expMs = Math.ceil((Date.now() + LIFETIME_MS) / 1000) * 1000;
    const probe = sseProbe(server.http('/graphql'), {
      query: 'subscription { transactions { seq } }',
      headers: { authorization: `Bearer ${await signHs256ExpiringAt(expMs, { scope: 'stream:transactions' })}` },
    });
    await waitFor(() => probe.results.length > 3, { what: 'SSE events before exp' });
    await waitFor(() => probe.ended, { timeoutMs: GUARD_MS, what: 'the SSE stream to end once its token expired' }).catch(() => {
      throw new Error(`the SSE stream outlived its token: still open ${Date.now() - expMs} ms after exp`);
    });
    expect(Date.now(), 'not before exp').toBeGreaterThanOrEqual(expMs - 50);
    expect(probe.status).toBe(200);
    // The client learns why: the last result is the TOKEN_EXPIRED error, then the stream completes.
    expect(probe.messages.at(-1)?.event).toBe('complete');
    const last = probe.results.at(-1);
    expect(last?.data ?? null).toBeNull();
    expect(last?.errors?.[0]).toMatchObject({ message: 'token expired', extensions: { code: 'TOKEN_EXPIRED' } });
    expect(sequenceProblems(probe.results.slice(0, -1).map((r) => (r.data?.['transactions'] as { seq: number }).seq))).toBeUndefined();
  });
});

describe('clock tolerance', () => {
  test('AUTH_CLOCK_TOLERANCE_S accepts a token that expired within the tolerance, not beyond', async () => {
    const tolerant = await startTestServer({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_CLOCK_TOLERANCE_S: '30' });
    const ask = async (expiresInS: number) =>
      (
        await fetch(tolerant.http('/graphql'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${await signHs256({ expiresInS, scope: 'stream:*' })}` },
          body: JSON.stringify({ query: '{ __typename }' }),
        })
      ).status;
    expect(await ask(-10)).toBe(200);
    expect(await ask(-60)).toBe(401);
  });
});

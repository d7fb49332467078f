import { beforeEach, expect, test } from 'vitest';
import { errorOf, makeTransaction, makeTransactions, postIngest, TEST_INGEST_TOKEN } from '../helpers/ingest-client.ts';
import { graphqlWsFeed, type SeqFeed } from '../helpers/instance-feeds.ts';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The ingest endpoint's HTTP surface: its token (separate from subscriber
 * auth), its body limit, the streams and methods it accepts. Every refusal
 * publishes nothing, which a sentinel event sent afterwards proves. Every
 * refusal has the server's one error body: {"errors":[{"message","extensions":{"code",…}}]}.
 */

const MAX_BODY = 4096;
const server = useTestServer({ SOURCES: 'ingest', INGEST_TOKEN: TEST_INGEST_TOKEN, INGEST_MAX_BODY_BYTES: String(MAX_BODY) });
let n = 0;

// The previous test's subscriber (closed when it ended) has detached, so `watch` counts only its own.
beforeEach(() => waitFor(() => server.app.engine.subscriberCount() === 0, { what: 'no subscriber left' }));

async function watch(): Promise<SeqFeed> {
  const feed = await graphqlWsFeed(server, 'transactions');
  await waitFor(() => server.app.engine.subscriberCount('transactions') === 1, { what: 'the subscriber attached' });
  return feed;
}

/** Proves the refusals before it published nothing: the sentinel is the only event the subscriber got. */
async function expectOnlySentinel(f: SeqFeed): Promise<void> {
  const event = makeTransaction(`http-sentinel-${process.pid}`, ++n);
  expect((await postIngest(server, 'transactions', event)).status).toBe(200);
  await waitFor(() => f.events.length >= 1, { what: 'the sentinel' });
  expect(f.field('txHash')).toEqual([event.txHash]);
}

test('a wrong or missing token is 401 with WWW-Authenticate: Bearer, and nothing is published', async () => {
  const f = await watch();
  const event = makeTransaction(`http-auth-${process.pid}`, 1);
  const attempts = [
    { token: null },
    { token: 'not-the-ingest-token-at-all' },
    { token: `${TEST_INGEST_TOKEN}x` },
    { token: TEST_INGEST_TOKEN.slice(0, -1) },
    { authorization: `Basic ${Buffer.from(`ingest:${TEST_INGEST_TOKEN}`).toString('base64')}` },
    { authorization: TEST_INGEST_TOKEN },
    { authorization: `bearer  ${TEST_INGEST_TOKEN}` },
  ];
  for (const options of attempts) {
    const response = await postIngest(server, 'transactions', event, options);
    expect(response.status, JSON.stringify(options)).toBe(401);
    expect(String(response.headers['www-authenticate']), JSON.stringify(options)).toMatch(/^Bearer\b/);
    expect(response.text, 'the expected token is never echoed').not.toContain(TEST_INGEST_TOKEN);
    expect(errorOf(response).code, JSON.stringify(options)).toBe('AUTH_REQUIRED');
  }
  await expectOnlySentinel(f);
  // The refused event was not remembered by dedup either.
  expect((await postIngest(server, 'transactions', event)).json).toEqual({ accepted: 1, duplicates: 0 });
});

test(`a body over INGEST_MAX_BODY_BYTES (${MAX_BODY}) is 413, declared or streamed, and nothing is published`, async () => {
  const f = await watch();
  const big = makeTransactions(`http-big-${process.pid}`, 0, 40); // ~10 KB of valid events
  expect(JSON.stringify(big).length).toBeGreaterThan(2 * MAX_BODY);
  const declared = await postIngest(server, 'transactions', big);
  expect(declared.status).toBe(413);
  expect(errorOf(declared)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', extensions: { limit: MAX_BODY } });
  expect(errorOf(declared).message).toMatch(/4096/);
  const streamed = await postIngest(server, 'transactions', big, { chunked: true });
  expect(streamed.status).toBe(413);
  expect(errorOf(streamed).code).toBe('PAYLOAD_TOO_LARGE');
  await expectOnlySentinel(f);
  // Just under the limit is fine.
  const small = makeTransactions(`http-small-${process.pid}`, 0, 5);
  expect(JSON.stringify(small).length).toBeLessThan(MAX_BODY);
  expect((await postIngest(server, 'transactions', small)).json).toEqual({ accepted: 5, duplicates: 0 });
});

test('metrics cannot be ingested (each instance measures itself): 404; unknown streams 404', async () => {
  const f = await watch();
  const metrics = await postIngest(server, 'metrics', {
    timestamp: new Date().toISOString(),
    tps: 1,
    cpu: 1,
    memory: 1,
    connections: 1,
    errorRate: 0,
  });
  expect(metrics.status).toBe(404);
  expect(errorOf(metrics).code).toBe('NOT_FOUND');
  for (const path of ['mempool', '', 'transactions/extra']) {
    const response = await postIngest(server, path, makeTransaction('x', 1));
    expect(response.status, path).toBe(404);
    expect(errorOf(response).code, path).toBe('NOT_FOUND');
  }
  expect(server.app.engine.subscriberCount('metrics')).toBe(0);
  await expectOnlySentinel(f);
});

test('GET (and other methods) are 405 with Allow: POST', async () => {
  for (const method of ['GET', 'PUT', 'DELETE']) {
    const response = await postIngest(server, 'transactions', method === 'GET' ? '' : makeTransaction('m', 1), { method });
    expect(response.status, method).toBe(405);
    expect(response.headers['allow'], method).toBe('POST');
    expect(errorOf(response).code, method).toBe('METHOD_NOT_ALLOWED');
  }
});

test('a batch within the size limit that is an empty array publishes nothing and is not an error', async () => {
  const response = await postIngest(server, 'transactions', []);
  expect(response.status).toBe(200);
  expect(response.json).toEqual({ accepted: 0, duplicates: 0 });
});

test('without SOURCES=ingest there is no ingest endpoint', async () => {
  const plain = await startTestServer({ SOURCES: 'simulator', INGEST_TOKEN: TEST_INGEST_TOKEN });
  const response = await postIngest(plain, 'transactions', makeTransaction('off', 1));
  expect(response.status).toBe(404);
  expect(errorOf(response).code).toBe('NOT_FOUND');
});

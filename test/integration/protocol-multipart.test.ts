import { describe, expect, test } from 'vitest';
import { gql } from '@apollo/client';
import { LiveMetricsDocument } from '../../examples/generated/graphql.ts';
import { apolloHttpClient } from '../helpers/clients.ts';
import { useControlFeed } from '../helpers/control-feed.ts';
import { MULTIPART_ACCEPT, multipartProbe } from '../helpers/multipart.ts';
import { useTestServer } from '../helpers/server.ts';
import { signHs256, signHs256ExpiringAt, TEST_JWT_SECRET } from '../helpers/tokens.ts';
import { takeEmitted, waitFor } from '../helpers/wait.ts';

/**
 * Multipart HTTP subscriptions — Apollo's protocol, what Apollo Client 3.7+/4
 * HttpLink speaks with no WebSocket at all — on `/graphql`, through the same
 * engine: each event a `{"payload": result}` part, `{}` heartbeats every 5 s,
 * a failure that ends the subscription as `{"payload": null, "errors"}`, an
 * operation that cannot start as a plain JSON result with its errors.
 */

const server = useTestServer({ METRICS_INTERVAL_MS: '100' });
useControlFeed(server);

const keysOf = (value: unknown): string[] => Object.keys((value ?? {}) as object).sort();
const METRICS = 'subscription { metrics { seq tps } }';

describe("Apollo Client 4's HttpLink", () => {
  test('subscribes with no WebSocket and gets exactly its selection (plus __typename); unsubscribing releases it on the server', async () => {
    const { client } = apolloHttpClient(server);
    type Result = { data?: { metrics: Record<string, unknown> }; error?: unknown };
    const results = await takeEmitted<Result>(
      (next, fail) =>
        client
          .subscribe({ query: LiveMetricsDocument, fetchPolicy: 'no-cache' })
          .subscribe({ next: (r) => next(r as Result), error: fail }),
      3,
    );
    for (const result of results) {
      expect(result.error).toBeUndefined();
      expect(keysOf(result.data?.metrics)).toEqual(['__typename', 'errorRate', 'timestamp', 'tps']);
    }
    await waitFor(() => server.app.engine.subscriberCount(undefined, 'multipart') === 0, { what: 'the unsubscribe to reach the server' });
  });

  test('a document that does not validate arrives as GraphQL errors on the error channel', async () => {
    const { client } = apolloHttpClient(server);
    const failure = await new Promise<unknown>((resolve) => {
      client.subscribe({ query: gql('subscription { metrics { nope } }') }).subscribe({
        next: (result) => resolve((result as { error?: unknown }).error ?? result),
        error: resolve,
      });
    });
    expect((failure as { errors?: unknown }).errors).toMatchObject([{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]);
  });
});

describe('the protocol on the wire', () => {
  test('multipart/mixed with boundary "graphql" and subscriptionSpec 1.0; every event is {payload: {data, extensions.cursor}}', async () => {
    const probe = multipartProbe(server.http('/graphql'), { query: 'subscription { transactions { seq cursor } }' });
    await waitFor(() => probe.parts.length >= 5, { what: '5 parts' });
    expect(probe.status).toBe(200);
    expect(probe.headers?.get('content-type')).toBe('multipart/mixed;boundary="graphql";subscriptionSpec="1.0"');
    for (const part of probe.parts) {
      const { payload } = part as { payload: { data: { transactions: { seq: number; cursor: string } }; extensions: { cursor: string } } };
      expect(payload.extensions.cursor).toBe(payload.data.transactions.cursor);
    }
    expect(server.app.engine.subscriberCount('transactions', 'multipart')).toBe(1);
  });

  test('with no events to send, a {} heartbeat part comes every 5 s, as the spec says', async () => {
    // An empty list matches nothing: the subscription is live but silent.
    const probe = multipartProbe(server.http('/graphql'), {
      query: 'subscription { transactions(filter: { status: [] }) { seq } }',
    });
    await waitFor(() => probe.parts.length >= 1, { timeoutMs: 8000, what: 'a heartbeat' });
    expect(probe.parts).toEqual([{}]);
  });

  test('an operation that cannot start is one plain JSON result with its errors, not an empty multipart body', async () => {
    const probe = multipartProbe(server.http('/graphql'), { query: 'subscription { metrics { nope } }' });
    await waitFor(() => probe.ended, { what: 'the answer' });
    expect(probe.headers?.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(probe.body)).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
  });

  test('a multipart Accept without subscriptionSpec is refused 406, naming what the path speaks', async () => {
    const response = await fetch(server.http('/graphql'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed' },
      body: JSON.stringify({ query: METRICS }),
    });
    expect(response.status).toBe(406);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'NOT_ACCEPTABLE' } }] });
  });

  test('a query with the multipart Accept header is answered as JSON', async () => {
    const response = await fetch(server.http('/graphql'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: MULTIPART_ACCEPT },
      body: JSON.stringify({ query: '{ recentTransactions(limit: 2) { seq } }' }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: { recentTransactions: unknown[] } }).data.recentTransactions.length).toBeGreaterThan(0);
  });
});

describe('with AUTH_MODE=jwt', () => {
  const secured = useTestServer({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET, METRICS_INTERVAL_MS: '100' });

  test('no token: 401 with the error shape every HTTP refusal has', async () => {
    const probe = multipartProbe(secured.http('/graphql'), { query: METRICS });
    await waitFor(() => probe.ended, { what: 'the refusal' });
    expect(probe.status).toBe(401);
    expect(JSON.parse(probe.body)).toMatchObject({ errors: [{ extensions: { code: 'AUTH_REQUIRED' } }] });
  });

  test('a token that expires mid-stream ends it with {payload: null, errors: [TOKEN_EXPIRED]} and the closing boundary', async () => {
    const token = await signHs256ExpiringAt(Date.now() + 1500, { scope: 'stream:*' });
    const probe = multipartProbe(secured.http('/graphql'), { query: METRICS, headers: { authorization: `Bearer ${token}` } });
    await waitFor(() => probe.closed, { what: 'the end of the stream' });
    expect(probe.parts.length).toBeGreaterThan(1);
    expect(probe.parts.at(-1)).toMatchObject({ payload: null, errors: [{ extensions: { code: 'TOKEN_EXPIRED' } }] });
    expect(secured.app.engine.subscriberCount(undefined, 'multipart')).toBe(0);
  });

  test("HttpLink's headers carry the token", async () => {
    const { client } = apolloHttpClient(secured, { authorization: `Bearer ${await signHs256({ scope: 'stream:*' })}` });
    const [result] = await takeEmitted<{ data?: unknown; error?: unknown }>(
      (next, fail) => client.subscribe({ query: LiveMetricsDocument, fetchPolicy: 'no-cache' }).subscribe({ next, error: fail }),
      1,
    );
    expect(result?.error).toBeUndefined();
    expect(keysOf(result?.data)).toEqual(['metrics']);
  });
});

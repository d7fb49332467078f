import { describe, expect, test } from 'vitest';
import { graphqlSseClient, graphqlWsConnection, type GraphQLWsConnection } from '../helpers/clients.ts';
import { STREAM_NAMES } from '../helpers/contract.ts';
import { useControlFeed } from '../helpers/control-feed.ts';
import { useTestServer } from '../helpers/server.ts';
import { openLegacy, seqGaps, tryUpgrade } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { signHs256, tamperedToken, TEST_JWT_SECRET, unsignedToken, type TokenClaims } from '../helpers/tokens.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * AUTH_MODE=jwt with an HS256 secret, issuer and audience: who gets in on
 * each transport (graphql-ws connection_init, HTTP, SSE, legacy), what the
 * refusals look like (graphql-ws: 4401 for a missing or invalid token, 4440
 * for an expired one; HTTP: 401 + WWW-Authenticate; legacy: 401 before the
 * handshake), per-stream scopes (FORBIDDEN / 403), while a well-behaved
 * control client keeps receiving every transaction.
 */

const ISSUER = 'https://issuer.aurigraph.test';
const AUDIENCE = 'aurigraph-realtime';

/** A token the server accepts, with the given scope and overrides. */
const token = (claims: TokenClaims = {}) => signHs256({ iss: ISSUER, aud: AUDIENCE, scope: 'stream:*', ...claims });
const bearer = async (claims: TokenClaims = {}) => `Bearer ${await token(claims)}`;

const server = useTestServer({
  AUTH_MODE: 'jwt',
  AUTH_JWT_SECRET: TEST_JWT_SECRET,
  AUTH_ISSUER: ISSUER,
  AUTH_AUDIENCE: AUDIENCE,
  AUTH_CLOCK_TOLERANCE_S: '0',
});
// Everything refused, forged or out of scope here must leave the well-behaved client alone.
useControlFeed(server, { authorization: () => bearer(), minEvents: 21 });

const connect = (authorization?: string, connectionParams?: Record<string, unknown>) =>
  graphqlWsConnection(server, {
    ...(authorization !== undefined && { authorization }),
    ...(connectionParams && { connectionParams }),
  });

/** Runs one operation on an acknowledged connection and resolves with its first result or error. */
function firstResult(connection: GraphQLWsConnection, query: string, variables?: Record<string, unknown>) {
  return new Promise<{ data?: unknown; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }>(
    (resolve, reject) => {
      const stop = connection.client.subscribe(
        { query, ...(variables && { variables }) },
        {
          next: (result) => {
            resolve(result as never);
            // A live subscription is stopped here; anything else completes by itself (graphql-ws's client
            // double-counts an unsubscribe that races the server's complete and then drops the socket).
            if (query.trimStart().startsWith('subscription') && !result.errors) stop();
          },
          error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error as Error)),
          complete: () => {},
        },
      );
    },
  );
}

const httpQuery = (query: string, headers: Record<string, string> = {}) =>
  fetch(server.http('/graphql'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });

describe('graphql-ws: token in connectionParams.authorization', () => {
  test('a valid token is acknowledged and its subscription receives events', async () => {
    const connection = connect(await bearer({ scope: 'stream:transactions' }));
    await connection.acknowledged;
    const result = await firstResult(connection, 'subscription { transactions { seq txHash } }');
    expect(result.errors).toBeUndefined();
    expect(result.data).toMatchObject({ transactions: { txHash: expect.stringMatching(/^0x/) } });
  });

  test('the bare token without "Bearer " is accepted too', async () => {
    const connection = connect(await token());
    await connection.acknowledged;
    expect(connection.closeInfo).toBeUndefined();
  });

  test.each([
    ['no token', () => Promise.resolve(undefined), 'a bearer token is required'],
    ['an empty string', () => Promise.resolve(''), 'a bearer token is required'],
    ['garbage', () => Promise.resolve('Bearer not.a.jwt'), 'invalid token'],
    ['another scheme', async () => `Basic ${Buffer.from('user:pass').toString('base64')}`, 'expected "Bearer <token>"'],
    ['two words after Bearer', async () => `Bearer ${await token()} extra`, 'expected "Bearer <token>"'],
    [
      'a token signed with another secret',
      async () => `Bearer ${await signHs256({ iss: ISSUER, aud: AUDIENCE }, 'x'.repeat(40))}`,
      'invalid token',
    ],
    [
      'a forged payload (signature of another)',
      async () => `Bearer ${tamperedToken(await token({ scope: 'stream:metrics' }), { iss: ISSUER, aud: AUDIENCE, scope: 'stream:*' })}`,
      'invalid token',
    ],
    [
      'an unsigned token (alg none)',
      async () => `Bearer ${unsignedToken({ iss: ISSUER, aud: AUDIENCE, scope: 'stream:*' })}`,
      'invalid token',
    ],
    ['a token from another issuer', () => bearer({ iss: 'https://evil.test' }), 'invalid token'],
    ['a token for another audience', () => bearer({ aud: 'someone-else' }), 'invalid token'],
    ['a token not valid yet (nbf)', () => bearer({ notBeforeInS: 120 }), 'invalid token'],
  ])('%s: closed 4401 at connection_init', async (_name, make, reason) => {
    const authorization = await make();
    const connection = connect(authorization);
    const closed = await connection.closed;
    expect(closed).toEqual({ code: 4401, reason });
  });

  test('an expired token: closed 4440 "token expired" at connection_init (retryable with a fresh token)', async () => {
    const connection = connect(await bearer({ expiresInS: -60 }));
    expect(await connection.closed).toEqual({ code: 4440, reason: 'token expired' });
  });

  test('an authorization that is not a string (object, number) counts as missing: 4401', async () => {
    for (const value of [{ token: await token() }, 42, [await bearer()]]) {
      const connection = connect(undefined, { authorization: value });
      expect(await connection.closed).toEqual({ code: 4401, reason: 'a bearer token is required' });
    }
  });

  test('a subscription outside the scope gets a FORBIDDEN error; the connection and its allowed subscription go on', async () => {
    const connection = connect(await bearer({ scope: 'stream:transactions' }));
    await connection.acknowledged;
    const allowed: number[] = [];
    const stop = connection.client.subscribe<{ transactions: { seq: number } }>(
      { query: 'subscription { transactions { seq } }' },
      { next: (r) => r.data && allowed.push(r.data.transactions.seq), error: () => {}, complete: () => {} },
    );
    for (const stream of STREAM_NAMES.filter((s) => s !== 'transactions')) {
      const result = await firstResult(connection, `subscription { ${stream} { seq } }`);
      expect(result.errors?.[0]?.extensions?.['code'], stream).toBe('FORBIDDEN');
      expect(result.data ?? null).toBeNull();
    }
    const query = await firstResult(connection, '{ latestMetrics { tps } }');
    expect(query.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const before = allowed.length;
    await waitFor(() => allowed.length >= before + 5, { what: 'the allowed subscription to keep receiving' });
    expect(connection.closeInfo).toBeUndefined();
    stop();
  });

  test('stream:* may read every stream; a token without any scope may read none', async () => {
    const all = connect(await bearer({ scope: 'stream:*' }));
    const none = connect(await bearer({ scope: undefined }));
    const odd = connect(await bearer({ scope: 'stream:transactionsX stream: STREAM:metrics transactions' }));
    await Promise.all([all.acknowledged, none.acknowledged, odd.acknowledged]);
    for (const stream of STREAM_NAMES) {
      const [ok, refused, alsoRefused] = await Promise.all([
        firstResult(all, `subscription { ${stream}(replay: 1) { seq } }`),
        firstResult(none, `subscription { ${stream}(replay: 1) { seq } }`),
        firstResult(odd, `subscription { ${stream}(replay: 1) { seq } }`),
      ]);
      expect(ok.errors, stream).toBeUndefined();
      expect(refused.errors?.[0]?.extensions?.['code'], stream).toBe('FORBIDDEN');
      expect(alsoRefused.errors?.[0]?.extensions?.['code'], `${stream}: scopes match exactly`).toBe('FORBIDDEN');
    }
  });
});

describe('HTTP: Authorization: Bearer', () => {
  test('a valid token reads what its scope allows; the rest is FORBIDDEN', async () => {
    const authorization = await bearer({ scope: 'stream:transactions' });
    const ok = await httpQuery('{ recentTransactions(limit: 1) { txHash } }', { authorization });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { data?: unknown; errors?: unknown };
    expect(body.errors).toBeUndefined();
    const refused = await httpQuery('{ latestMetrics { tps } }', { authorization });
    const refusedBody = (await refused.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(refusedBody.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  test.each([
    ['no token', undefined, 'a bearer token is required'],
    ['garbage', 'Bearer garbage', 'invalid token'],
    ['an unsigned token', `Bearer ${unsignedToken({ iss: ISSUER, aud: AUDIENCE })}`, 'invalid token'],
  ])('%s: 401 with WWW-Authenticate: Bearer, before any GraphQL', async (_name, authorization, reason) => {
    const response = await httpQuery('{ __typename }', authorization === undefined ? {} : { authorization });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="aurigraph-realtime"/);
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]).toMatchObject({ message: reason, extensions: { code: 'AUTH_REQUIRED' } });
  });

  test('expired, wrong issuer, wrong audience: 401', async () => {
    for (const [claims, reason] of [
      [{ expiresInS: -5 }, 'token expired'],
      [{ iss: 'https://evil.test' }, 'invalid token'],
      [{ aud: 'other' }, 'invalid token'],
    ] as const) {
      const response = await httpQuery('{ __typename }', { authorization: await bearer(claims) });
      expect(response.status, reason).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(((await response.json()) as { errors: { message: string }[] }).errors[0]?.message).toBe(reason);
    }
  });

  test('GET queries are screened too', async () => {
    const url = server.http(`/graphql?query=${encodeURIComponent('{ latestMetrics { tps } }')}`);
    expect((await fetch(url, { headers: { accept: 'application/json' } })).status).toBe(401);
    const ok = await fetch(url, { headers: { accept: 'application/json', authorization: await bearer() } });
    expect(ok.status).toBe(200);
  });
});

describe('SSE: Authorization: Bearer', () => {
  const query = 'subscription { transactions { seq txHash } }';

  test('no or invalid token: 401 with WWW-Authenticate before the stream opens', async () => {
    for (const authorization of [undefined, 'Bearer nope', await bearer({ expiresInS: -1 })]) {
      const probe = sseProbe(server.http('/graphql'), { query, headers: authorization ? { authorization } : {} });
      await probe.head;
      expect(probe.status, String(authorization)).toBe(401);
      expect(probe.headers?.get('www-authenticate')).toMatch(/^Bearer /);
      probe.abort();
    }
  });

  test('a valid token streams events; a stream outside its scope gets FORBIDDEN', async () => {
    const authorization = await bearer({ scope: 'stream:transactions' });
    const ok = sseProbe(server.http('/graphql'), { query, headers: { authorization } });
    await waitFor(() => ok.results.length >= 3, { what: 'SSE events' });
    expect(ok.status).toBe(200);
    expect(ok.results[0]?.errors).toBeUndefined();
    ok.abort();
    const refused = sseProbe(server.http('/graphql'), { query: 'subscription { metrics { tps } }', headers: { authorization } });
    await waitFor(() => refused.ended, { what: 'the FORBIDDEN answer' });
    // An operation problem once the request was accepted: an `event: next` with the errors, then `complete`, on a 200 stream.
    expect(refused.status).toBe(200);
    expect(refused.messages.map((m) => m.event)).toEqual(['next', 'complete']);
    expect(refused.results[0]?.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    refused.abort();
  });

  test('graphql-sse clients (distinct and single connection) carry the token', async () => {
    for (const singleConnection of [false, true]) {
      const client = graphqlSseClient(server, { authorization: await bearer({ scope: 'stream:transactions' }), singleConnection });
      const seqs: number[] = [];
      const stop = client.subscribe<{ transactions: { seq: number } }>(
        { query: 'subscription { transactions { seq } }' },
        { next: (r) => r.data && seqs.push(r.data.transactions.seq), error: () => {}, complete: () => {} },
      );
      await waitFor(() => seqs.length >= 3, { what: `graphql-sse (${singleConnection ? 'single' : 'distinct'}) events` });
      stop();
      client.dispose();

      const anonymous = graphqlSseClient(server, { singleConnection });
      const failure = await new Promise<unknown>((resolve) => {
        anonymous.subscribe(
          { query: 'subscription { transactions { seq } }' },
          { next: () => resolve('got data'), error: resolve, complete: () => resolve('completed') },
        );
      });
      anonymous.dispose();
      expect(String((failure as { message?: string })?.message ?? failure), `anonymous ${singleConnection}`).toMatch(/401|bearer token/i);
    }
  });
});

describe('legacy /ws/<stream>: Authorization header or ?access_token=', () => {
  test('a valid token in the header or the query string opens the stream', async () => {
    const viaHeader = await openLegacy(server, '/ws/transactions?meta=1', {
      headers: { authorization: await bearer({ scope: 'stream:transactions' }) },
    });
    const viaQuery = await openLegacy(server, `/ws/transactions?meta=1&access_token=${await token({ scope: 'stream:transactions' })}`);
    await waitFor(() => viaHeader.frames.length >= 5 && viaQuery.frames.length >= 5, { what: 'legacy frames' });
    expect(seqGaps(viaHeader.frames)).toEqual([]);
    expect(seqGaps(viaQuery.frames)).toEqual([]);
    await Promise.all([viaHeader.close(), viaQuery.close()]);
  });

  test.each([
    ['no token', '', {}],
    ['a garbage access_token', '?access_token=garbage', {}],
    ['a garbage header', '', { authorization: 'Bearer garbage' }],
  ])('%s: 401 before the handshake', async (_name, query, headers) => {
    const outcome = await tryUpgrade(server.ws(`/ws/transactions${query}`), { headers });
    expect(outcome.status).toBe(401);
  });

  test('expired, wrong issuer, wrong audience, unsigned: 401', async () => {
    for (const t of [
      await token({ expiresInS: -1 }),
      await token({ iss: 'https://evil.test' }),
      await token({ aud: 'nope' }),
      unsignedToken({ iss: ISSUER, aud: AUDIENCE, scope: 'stream:*' }),
    ]) {
      expect((await tryUpgrade(server.ws(`/ws/transactions?access_token=${t}`))).status).toBe(401);
    }
  });

  test('a stream outside the scope: 403 before the handshake; stream:* opens every stream', async () => {
    const narrow = await token({ scope: 'stream:transactions' });
    for (const stream of STREAM_NAMES.filter((s) => s !== 'transactions')) {
      expect((await tryUpgrade(server.ws(`/ws/${stream}?access_token=${narrow}`))).status, stream).toBe(403);
      const outcome = await tryUpgrade(server.ws(`/ws/${stream}`), { headers: { authorization: await bearer({ scope: 'stream:*' }) } });
      expect(outcome.status, stream).toBe(101);
      outcome.socket?.close();
    }
  });

  test('the header wins over ?access_token= (a bad header is not rescued by a good query token)', async () => {
    const outcome = await tryUpgrade(server.ws(`/ws/transactions?access_token=${await token()}`), {
      headers: { authorization: 'Bearer garbage' },
    });
    expect(outcome.status).toBe(401);
  });
});

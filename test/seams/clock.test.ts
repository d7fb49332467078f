/**
 * Issue 11, input 9: one clock rule for tokens, applied the same at admission
 * and at expiry, on every transport: a token is good until `exp` plus
 * AUTH_CLOCK_TOLERANCE_S, and connections end exactly then, saying why.
 */
import { describe, expect, test } from 'vitest';
import { graphqlWsConnection } from '../helpers/clients.ts';
import { startTestServer } from '../helpers/server.ts';
import { refusedLegacy } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { legacyFeed } from '../helpers/stream-feeds.ts';
import { signHs256ExpiringAt, TEST_JWT_SECRET } from '../helpers/tokens.ts';
import { waitFor } from '../helpers/wait.ts';

const TOLERANCE_S = 5;
const jwtServer = () =>
  startTestServer({
    AUTH_MODE: 'jwt',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    AUTH_CLOCK_TOLERANCE_S: String(TOLERANCE_S),
    METRICS_INTERVAL_MS: '100',
  });

/** A token whose `exp` passed `agoS` seconds ago (whole seconds, as JWT has them), and when connections on it end. */
async function expiredToken(agoS: number): Promise<{ token: string; endsAt: number }> {
  const expS = Math.floor(Date.now() / 1000) - agoS;
  const token = await signHs256ExpiringAt(expS * 1000, { scope: 'stream:*' });
  return { token, endsAt: (expS + TOLERANCE_S) * 1000 };
}

describe('a token 3 s past exp with a 5 s tolerance is still good: admitted, streaming, then ended at exp + tolerance', () => {
  test('graphql-ws: acknowledged, events flow, then 4440 token expired — not at once', async () => {
    const server = await jwtServer();
    const { token, endsAt } = await expiredToken(3);
    const connection = graphqlWsConnection(server, { authorization: `Bearer ${token}` });
    await connection.acknowledged;
    const results: unknown[] = [];
    connection.client.subscribe(
      { query: 'subscription { metrics { seq } }' },
      { next: (r) => void results.push(r), error: () => {}, complete: () => {} },
    );
    const closed = await connection.closed;
    expect(results.length, 'events before the end').toBeGreaterThan(0);
    expect(closed).toEqual({ code: 4440, reason: 'token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(endsAt - 50);
  });

  test('SSE: a 200 stream with events, then a TOKEN_EXPIRED result and complete — the client learns why it ended', async () => {
    const server = await jwtServer();
    const { token, endsAt } = await expiredToken(3);
    const probe = sseProbe(server.http('/graphql'), {
      query: 'subscription { metrics { seq } }',
      headers: { authorization: `Bearer ${token}` },
    });
    await waitFor(() => probe.ended, { what: 'the stream to end', timeoutMs: 15_000 });
    expect(probe.status).toBe(200);
    const last = probe.results.at(-1);
    expect(probe.results.length, 'events, then the expiry').toBeGreaterThan(1);
    expect(last?.errors?.[0]?.extensions?.['code']).toBe('TOKEN_EXPIRED');
    expect(probe.messages.at(-1)?.event).toBe('complete');
    expect(Date.now()).toBeGreaterThanOrEqual(endsAt - 50);
  });

  test('legacy: streams, then closes 4440', async () => {
    const server = await jwtServer();
    const { token, endsAt } = await expiredToken(3);
    const feed = await legacyFeed(server, `/ws/metrics?access_token=${token}`);
    const closed = await new Promise<number>((resolve) => feed.socket.once('close', (code) => resolve(code)));
    expect(feed.frames.length).toBeGreaterThan(0);
    expect(closed).toBe(4440);
    expect(Date.now()).toBeGreaterThanOrEqual(endsAt - 50);
  });
});

describe('a token past exp + tolerance is refused at admission, with the same cause on every transport', () => {
  test('graphql-ws 4440, SSE 401 TOKEN_EXPIRED, legacy 401 TOKEN_EXPIRED', async () => {
    const server = await jwtServer();
    const { token } = await expiredToken(TOLERANCE_S + 3);
    const connection = graphqlWsConnection(server, { authorization: `Bearer ${token}` });
    expect(await connection.closed).toEqual({ code: 4440, reason: 'token expired' });

    const probe = sseProbe(server.http('/graphql'), {
      query: 'subscription { metrics { seq } }',
      headers: { authorization: `Bearer ${token}` },
    });
    await waitFor(() => probe.ended, { what: 'the refusal' });
    expect(probe.status).toBe(401);
    expect(JSON.parse(probe.body)).toMatchObject({ errors: [{ extensions: { code: 'TOKEN_EXPIRED' } }] });

    const refused = await refusedLegacy(server, `/ws/metrics?access_token=${token}`);
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ errors: [{ extensions: { code: 'TOKEN_EXPIRED' } }] });
  });
});

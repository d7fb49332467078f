import { describe, expect, test } from 'vitest';
import { graphqlWsConnection } from '../helpers/clients.ts';
import { useControlFeed } from '../helpers/control-feed.ts';
import { startTestServer, useTestServer, type TestServer } from '../helpers/server.ts';
import { openLegacy, seqGaps, tryUpgrade } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { signHs256, startJwksServer, type TokenClaims } from '../helpers/tokens.ts';
import { useFixture } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * AUTH_JWKS_URL: RS256 and ES256 tokens verified against a local identity
 * provider's JWKS, keys cached (one fetch serves many tokens, unknown kids do
 * not hammer the provider), key rotation (a new kid is accepted once the
 * server refetched), no algorithm confusion (HS256 / none refused).
 */

const ISSUER = 'https://idp.aurigraph.test';
const AUDIENCE = 'aurigraph-realtime';
/** The server refetches for an unknown kid at most this often (auth.ts: jose cooldownDuration). */
const COOLDOWN_MS = 30_000;

let rsKid: string;
let esKid: string;
const claims = (extra: TokenClaims = {}): TokenClaims => ({ iss: ISSUER, aud: AUDIENCE, scope: 'stream:*', ...extra });

const jwks = useFixture(async () => {
  const provider = await startJwksServer();
  rsKid = await provider.addKey('RS256');
  esKid = await provider.addKey('ES256');
  return provider;
});
const server = useTestServer(() => ({
  AUTH_MODE: 'jwt',
  AUTH_JWKS_URL: jwks.url,
  AUTH_ISSUER: ISSUER,
  AUTH_AUDIENCE: AUDIENCE,
  AUTH_CLOCK_TOLERANCE_S: '0',
}));
useControlFeed(server, { authorization: async () => `Bearer ${await jwks.sign(esKid, claims())}`, minEvents: 21 });

const httpStatus = async (authorization: string, target: TestServer = server) =>
  (
    await fetch(target.http('/graphql'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body: JSON.stringify({ query: '{ recentTransactions(limit: 1) { txHash } }' }),
    })
  ).status;

describe.each([
  ['RS256', () => rsKid],
  ['ES256', () => esKid],
])('%s', (_alg, kid) => {
  test('accepted on graphql-ws, HTTP, SSE and legacy', async () => {
    const token = await jwks.sign(kid(), claims({ scope: 'stream:transactions' }));
    const ws = graphqlWsConnection(server, { authorization: `Bearer ${token}` });
    await ws.acknowledged;
    await ws.dispose();
    expect(await httpStatus(`Bearer ${token}`)).toBe(200);
    const sse = sseProbe(server.http('/graphql'), {
      query: 'subscription { transactions { seq } }',
      headers: { authorization: `Bearer ${token}` },
    });
    await waitFor(() => sse.results.length >= 2, { what: 'SSE events' });
    sse.abort();
    const legacy = await openLegacy(server, `/ws/transactions?meta=1&access_token=${token}`);
    await waitFor(() => legacy.frames.length >= 3, { what: 'legacy frames' });
    expect(seqGaps(legacy.frames)).toEqual([]);
    await legacy.close();
    // Scope still applies.
    expect((await tryUpgrade(server.ws(`/ws/metrics?access_token=${token}`))).status).toBe(403);
  });

  test('wrong issuer, wrong audience, expired: refused everywhere', async () => {
    for (const [extra, code, reason] of [
      [{ iss: 'https://evil.test' }, 4401, 'invalid token'],
      [{ aud: 'other-api' }, 4401, 'invalid token'],
      [{ expiresInS: -30 }, 4440, 'token expired'],
    ] as const) {
      const token = await jwks.sign(kid(), claims(extra));
      const ws = graphqlWsConnection(server, { authorization: `Bearer ${token}` });
      expect(await ws.closed).toEqual({ code, reason });
      await ws.dispose();
      expect(await httpStatus(`Bearer ${token}`), reason).toBe(401);
      expect((await tryUpgrade(server.ws(`/ws/transactions?access_token=${token}`))).status, reason).toBe(401);
    }
  });
});

describe('forgeries', () => {
  test('a token signed by a key the provider never published is refused', async () => {
    const rogue = await jwks.addKey('RS256', { publish: false });
    const token = await jwks.sign(rogue, claims());
    expect(await httpStatus(`Bearer ${token}`)).toBe(401);
    const ws = graphqlWsConnection(server, { authorization: `Bearer ${token}` });
    expect((await ws.closed).code).toBe(4401);
    await ws.dispose();
  });

  test('a published kid on a token signed by another key is refused', async () => {
    const rogue = await jwks.addKey('RS256', { publish: false });
    const forged = await jwks.sign(rogue, claims(), { kid: rsKid });
    expect(await httpStatus(`Bearer ${forged}`)).toBe(401);
  });

  test('HS256 tokens are refused in JWKS mode (no algorithm confusion), signed with anything', async () => {
    const jwk = (await (await fetch(jwks.url)).json()) as { keys: Record<string, unknown>[] };
    for (const secret of ['x'.repeat(40), JSON.stringify(jwk.keys[0])]) {
      const token = await signHs256(claims(), secret);
      expect(await httpStatus(`Bearer ${token}`)).toBe(401);
    }
  });
});

describe('key cache and rotation', () => {
  test('one fetch serves many verifications; tokens with unknown kids do not hammer the provider', async () => {
    const fetchesBefore = jwks.fetches;
    for (let i = 0; i < 20; i++) expect(await httpStatus(`Bearer ${await jwks.sign(rsKid, claims())}`)).toBe(200);
    const unknown = await jwks.addKey('ES256', { publish: false });
    const results = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => httpStatus(`Bearer ${await jwks.sign(unknown, claims(), { kid: `made-up-${i}` })}`)),
    );
    expect(new Set(results)).toEqual(new Set([401]));
    expect(jwks.fetches - fetchesBefore, 'fetches for 50 verifications').toBeLessThanOrEqual(1);
  });

  test(
    'rotation: a key published after the last fetch is accepted once the server refetched (after its cooldown), not once per attempt',
    async () => {
      const fetchesBefore = jwks.fetches;
      const newKid = await jwks.addKey('ES256', { publish: false });
      jwks.publish(newKid);
      const publishedAt = Date.now();
      const token = await jwks.sign(newKid, claims());
      // Old keys keep working throughout the rotation.
      expect(await httpStatus(`Bearer ${await jwks.sign(rsKid, claims())}`)).toBe(200);
      // The refetch is due once the cooldown since the last fetch has passed; the wait is only a safety net.
      await waitFor(async () => (await httpStatus(`Bearer ${token}`)) === 200, {
        timeoutMs: COOLDOWN_MS + 30_000,
        intervalMs: 1000,
        what: 'a token with the new kid to be accepted',
      });
      const tookMs = Date.now() - publishedAt;
      expect(jwks.fetches - fetchesBefore, 'refetched, but not once per attempt').toBeGreaterThanOrEqual(1);
      expect(jwks.fetches - fetchesBefore).toBeLessThanOrEqual(2);
      // The new key works on every transport.
      const ws = graphqlWsConnection(server, { authorization: `Bearer ${token}` });
      await ws.acknowledged;
      await ws.dispose();
      const legacy = await openLegacy(server, `/ws/transactions?access_token=${token}`);
      await legacy.close();
      console.log(`[jwks rotation] new kid accepted ${tookMs} ms after it was published (cooldown ${COOLDOWN_MS} ms)`);
    },
    COOLDOWN_MS + 60_000,
  );

  test('keys already fetched keep working while the provider is down or answers garbage', async () => {
    const token = await jwks.sign(rsKid, claims());
    for (const mode of ['error', 'garbage'] as const) {
      jwks.mode = mode;
      expect(await httpStatus(`Bearer ${token}`), mode).toBe(200);
    }
    jwks.mode = 'ok';
  });
});

describe('provider unreachable from the start', () => {
  test('tokens are refused (never accepted), nothing crashes, answers are client errors or 503', async () => {
    const down = await startJwksServer();
    const kid = await down.addKey('RS256');
    const url = down.url;
    const token = await down.sign(kid, claims());
    await down.close();
    const target = await startTestServer({ AUTH_MODE: 'jwt', AUTH_JWKS_URL: url, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE });
    const http = await httpStatus(`Bearer ${token}`, target);
    const ws = graphqlWsConnection(target, { authorization: `Bearer ${token}` });
    const wsClosed = await ws.closed;
    await ws.dispose();
    const legacy = (await tryUpgrade(target.ws(`/ws/transactions?access_token=${token}`))).status;
    console.log(`[jwks unreachable] HTTP ${http}, graphql-ws close ${JSON.stringify(wsClosed)}, legacy ${legacy}`);
    expect((await fetch(target.http('/health'))).status).toBe(200);
    // 1013 "try again later": the keys could not be fetched, which is not the token's fault (README, Security).
    expect(wsClosed.code).toBe(1013);
    // Refused either as unauthenticated (401) or as temporarily unavailable (503); a 500 would say the server broke.
    expect([401, 503]).toContain(http);
    expect([401, 503]).toContain(legacy);
  });
});

import { get as httpsGet } from 'node:https';
import { createClient as createSseClient } from 'graphql-sse';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { useControlFeed } from '../helpers/control-feed.ts';
import { sequenceProblems } from '../helpers/sequences.ts';
import { useTestServer, type ServerUrls } from '../helpers/server.ts';
import { openLegacy, seqGaps, tryUpgrade } from '../helpers/sockets.ts';
import { createSelfSignedCertificate, httpsFetch, opensslAvailable } from '../helpers/tls.ts';
import { signHs256, TEST_JWT_SECRET } from '../helpers/tokens.ts';
import { track, useFixture } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Native TLS (TLS_CERT_FILE / TLS_KEY_FILE) with a certificate generated
 * here: /health over https, graphql-ws over wss, SSE (graphql-sse) over
 * https, legacy over wss — verified against the certificate as CA, not with
 * verification turned off — and the auth and origin rules still hold.
 */

const HAVE_OPENSSL = opensslAvailable();
if (!HAVE_OPENSSL)
  console.warn(
    '[tls tests skipped] openssl is not installed (apt-get install openssl); the npm package `selfsigned` is not installed either',
  );

describe.skipIf(!HAVE_OPENSSL)('native TLS', () => {
  const authorization = async () => `Bearer ${await signHs256({ scope: 'stream:*' })}`;
  const certificate = useFixture(() => track(createSelfSignedCertificate()));
  const server = useTestServer(() => ({
    TLS_CERT_FILE: certificate.certFile,
    TLS_KEY_FILE: certificate.keyFile,
    AUTH_MODE: 'jwt',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
  }));
  const secure: ServerUrls = {
    http: (path = '') => `https://127.0.0.1:${server.port}${path}`,
    ws: (path = '') => `wss://127.0.0.1:${server.port}${path}`,
  };
  const control = useControlFeed(server, { authorization, ws: () => ({ ca: certificate.cert }), urls: secure, minEvents: 11 });

  test('/health answers over https to a client that trusts the certificate', async () => {
    const response = await httpsFetch(certificate.cert)(secure.http('/health'));
    expect(response.status).toBe(200);
  });

  test('a client that does not trust the certificate is refused by TLS itself', async () => {
    const error = await new Promise<Error>((resolve) => {
      httpsGet(secure.http('/health'), (response) => {
        response.resume();
        resolve(new Error(`unexpectedly answered ${response.statusCode}`));
      }).on('error', resolve);
    });
    expect((error as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
  });

  test('plain http and ws on the TLS port get nothing', async () => {
    await expect(fetch(server.http('/health'), { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    await expect(tryUpgrade(server.ws('/ws/metrics'), { timeoutMs: 5000 })).rejects.toThrow();
  });

  test('graphql-ws over wss:// (the control client) receives every transaction', async () => {
    await waitFor(() => control.events.length >= 20, { what: '20 events over wss' });
    expect(sequenceProblems(control.events.map((e) => e.seq))).toBeUndefined();
  });

  test('graphql-ws over wss:// still demands a token: 4401', async () => {
    const ws = new WebSocket(secure.ws('/graphql'), 'graphql-transport-ws', { ca: certificate.cert });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('error', () => {});
    expect(await closed).toBe(4401);
  });

  test('SSE over https with graphql-sse (distinct and single connection)', async () => {
    for (const singleConnection of [false, true]) {
      const client = createSseClient({
        url: secure.http(singleConnection ? '/graphql/stream' : '/graphql'),
        singleConnection,
        retryAttempts: 0,
        fetchFn: httpsFetch(certificate.cert),
        headers: { authorization: await authorization() },
      });
      const seqs: number[] = [];
      const stop = client.subscribe<{ transactions: { seq: number } }>(
        { query: 'subscription { transactions { seq } }' },
        { next: (r) => r.data && seqs.push(r.data.transactions.seq), error: () => {}, complete: () => {} },
      );
      await waitFor(() => seqs.length >= 10, { what: `SSE events over https (single connection: ${singleConnection})` });
      stop();
      client.dispose();
      expect(sequenceProblems(seqs)).toBeUndefined();
    }
  });

  test('legacy /ws/<stream> over wss:// with a token', async () => {
    const legacy = await openLegacy(secure, `/ws/transactions?meta=1&access_token=${await signHs256({ scope: 'stream:transactions' })}`, {
      ca: certificate.cert,
    });
    await waitFor(() => legacy.frames.length >= 10, { what: 'legacy frames over wss' });
    expect(seqGaps(legacy.frames)).toEqual([]);
    await legacy.close();
  });

  test('the same-origin rule knows the page is https', async () => {
    const headers = { authorization: await authorization() };
    const same = await tryUpgrade(secure.ws('/ws/metrics'), {
      headers: { ...headers, origin: `https://127.0.0.1:${server.port}` },
      ws: { ca: certificate.cert },
    });
    expect(same.status).toBe(101);
    same.socket?.close();
    const downgraded = await tryUpgrade(secure.ws('/ws/metrics'), {
      headers: { ...headers, origin: `http://127.0.0.1:${server.port}` },
      ws: { ca: certificate.cert },
    });
    expect(downgraded.status).toBe(403);
  });
});

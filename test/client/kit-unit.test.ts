import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  backoffDelay,
  CLOSE,
  createResumableClient,
  isFatal,
  planResume,
  ResumePlanError,
  type ReplayGap,
} from 'aurigraph-realtime/client';
import { waitFor } from '../helpers/wait.ts';

describe('planResume: the document rewrite', () => {
  test('adds `$after: String` and `after: $after` to a document that has neither', () => {
    const plan = planResume('subscription LiveMetrics { metrics { tps } }');
    expect(plan?.query).toBe('subscription LiveMetrics($after: String) {\n  metrics(after: $after) {\n    tps\n  }\n}');
    expect(plan?.resumeQuery).toBe(plan?.query);
    expect(plan).toMatchObject({ afterVariable: 'after', replayVariable: undefined, defaults: {}, responseKey: 'metrics' });
  });

  test('keeps an existing `after: $var` in place and learns the replay variable and the alias', () => {
    const plan = planResume(
      'subscription F($from: String, $n: Int) { failed: transactions(filter: {status: [FAILED]}, after: $from, replay: $n) { seq } }',
    );
    expect(plan?.query).toContain('failed: transactions(filter: {status: [FAILED]}, after: $from, replay: $n)');
    expect(plan?.query).toContain('subscription F($from: String, $n: Int)');
    expect(plan).toMatchObject({ afterVariable: 'from', replayVariable: 'n', responseKey: 'failed' });
  });

  test('a literal `after` becomes a variable with that default; a literal `replay` is dropped on resume', () => {
    const plan = planResume('subscription ($after: Int) { transactions(replay: 5, after: "abc") { seq } }');
    expect(plan?.afterVariable).toBe('after1'); // `$after` is taken
    expect(plan?.defaults).toEqual({ after1: 'abc' });
    expect(plan?.query).toContain('transactions(replay: 5, after: $after1)');
    expect(plan?.resumeQuery).toContain('transactions(after: $after1)');
  });

  test('queries and unparsable text pass through; a fragment-spread root field is refused clearly', () => {
    expect(planResume('query { latestMetrics { tps } }')).toBeUndefined();
    expect(planResume('subscription {')).toBeUndefined();
    expect(() => planResume('subscription { ...F } fragment F on Subscription { metrics { tps } }')).toThrow(ResumePlanError);
  });
});

describe('policy', () => {
  test('backoff grows exponentially to its cap, with jitter within [step/2, step]', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, opts, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([1, 2, 3].map((n) => backoffDelay(n, opts, () => 0))).toEqual([50, 100, 200]);
    expect(backoffDelay(3, { ...opts, jitter: 0 }, () => 0.3)).toBe(400);
  });

  test('what is final and what is retried', () => {
    const close = (code: number, reason = '') => ({ code, reason });
    // Refused credentials: 4401 (missing or invalid token) and 4403 (scope) are final whatever the reason says.
    expect(isFatal(close(CLOSE.UNAUTHORIZED, 'invalid token'))).toBe(true);
    expect(isFatal(close(CLOSE.UNAUTHORIZED, 'a bearer token is required'))).toBe(true);
    expect(isFatal(close(CLOSE.FORBIDDEN, "the token's scope does not include stream:metrics"))).toBe(true);
    // An expired token (4440) is retried: the reconnect asks getToken for a fresh one.
    expect(isFatal(close(CLOSE.TOKEN_EXPIRED, 'token expired'))).toBe(false);
    // Try again later (1013: message rate, connection limit, JWKS down) is retried.
    expect(isFatal(close(CLOSE.TRY_AGAIN_LATER, 'rate limited: too many messages; retry later'))).toBe(false);
    // Protocol violations are final.
    expect(isFatal(close(4400, 'bad'))).toBe(true);
    expect(isFatal(close(1002))).toBe(true);
    for (const code of [4406, 4409, 4429]) expect(isFatal(close(code)), String(code)).toBe(true);
    for (const code of [1000, 1001, 1006, 1011, 1012, 1013, 4008, 4408, 4440, 4499, 4500])
      expect(isFatal(close(code)), String(code)).toBe(false);
    // The kit and the server share one close-code table.
    expect(CLOSE).toMatchObject({
      GOING_AWAY: 1001,
      TRY_AGAIN_LATER: 1013,
      SLOW_CONSUMER: 4008,
      UNAUTHORIZED: 4401,
      FORBIDDEN: 4403,
      TOKEN_EXPIRED: 4440,
    });
    expect(isFatal([{ message: 'bad filter', extensions: { code: 'BAD_REQUEST' } }])).toBe(true);
    expect(isFatal([{ message: 'no scope', extensions: { code: 'FORBIDDEN' } }])).toBe(true);
    expect(isFatal([{ message: 'end one first', extensions: { code: 'TOO_MANY_OPERATIONS' } }])).toBe(true);
    expect(isFatal([{ message: 'slow down', extensions: { code: 'RATE_LIMITED' } }])).toBe(false);
    expect(isFatal(new Error('connect ECONNREFUSED'))).toBe(false);
    expect(isFatal({ type: 'error', message: 'socket hang up' })).toBe(false);
  });
});

/**
 * A scripted graphql-transport-ws server: each connection acknowledges, records
 * the subscribe payload and runs the next script, so the kit's bookkeeping
 * (cursor, dedupe, gap, variables on resume) can be checked frame by frame.
 */
type Script = (send: (payload: unknown) => void, socket: WebSocket, id: string) => void;

async function fakeServer(scripts: Script[]) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'graphql-transport-ws' });
  await once(wss, 'listening');
  const subscribes: { query: string; variables: Record<string, unknown> }[] = [];
  let connection = 0;
  wss.on('connection', (socket) => {
    const script = scripts[Math.min(connection++, scripts.length - 1)] as Script;
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as {
        type: string;
        id: string;
        payload: { query: string; variables: Record<string, unknown> };
      };
      if (message.type === 'connection_init') socket.send(JSON.stringify({ type: 'connection_ack' }));
      if (message.type === 'subscribe') {
        subscribes.push(message.payload);
        script((payload) => socket.send(JSON.stringify({ id: message.id, type: 'next', payload })), socket, message.id);
      }
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    subscribes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

const event = (seq: number, epoch = 'a') => ({ data: { transactions: { seq } }, extensions: { cursor: `${epoch}${seq}` } });

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('createResumableClient against a scripted server', () => {
  test('resubscribes after the last delivered cursor, drops exact repeats only, and nulls `replay` on resume', async () => {
    const server = await fakeServer([
      (send, socket) => {
        send(event(1));
        send(event(2));
        setTimeout(() => socket.close(1001, 'Going away'), 20);
      },
      (send) => {
        // A misbehaving server repeats event 2 (same cursor, same result): dropped. Then an older seq under a cursor
        // never seen: not a repeat of anything delivered, so it is delivered, after a gap (seq went back).
        send(event(2));
        send({ data: { transactions: { seq: 1 } }, extensions: { cursor: 'other-cursor-for-1' } });
        send(event(3));
      },
    ]);
    const kit = createResumableClient({ url: server.url, webSocketImpl: WebSocket, backoff: { initialMs: 10, maxMs: 10 } });
    cleanup = async () => {
      await kit.dispose();
      await server.close();
    };
    const seqs: number[] = [];
    const subscription = kit.resumable<{ transactions: { seq: number } }>(
      { query: 'subscription ($n: Int) { transactions(replay: $n) { seq } }', variables: { n: 10 } },
      { next: (r) => seqs.push(r.data?.transactions.seq ?? -1), error: () => {}, complete: () => {} },
    );
    await waitFor(() => seqs.length === 5, { what: 'three events, the gap result, the re-numbered event' });
    // -1: the REPLAY_GAP result (no onGap handler, so the sink gets it: never a silent gap).
    expect(seqs).toEqual([1, 2, -1, 1, 3]);
    expect(subscription.duplicatesDropped).toBe(1);
    expect(subscription.cursor).toBe('a3');
    expect(subscription.resubscriptions).toBe(1);
    expect(server.subscribes.map((s) => s.variables)).toEqual([
      { n: 10, after: null },
      { n: null, after: 'a2' },
    ]);
    expect(server.subscribes[0]?.query).toContain('transactions(replay: $n, after: $after)');
  });

  test('a REPLAY_GAP goes to onGap (not the sink), resets seq dedupe, and the next resume starts at oldestCursor', async () => {
    const gapResult = {
      data: null,
      errors: [{ message: 'cursor is not from this stream', extensions: { code: 'REPLAY_GAP', oldestCursor: 'b0' } }],
    };
    const server = await fakeServer([
      (send, socket) => {
        send(event(7));
        setTimeout(() => socket.close(4008, 'slow consumer'), 20);
      },
      (send, socket) => {
        send(gapResult);
        setTimeout(() => socket.terminate(), 20);
      },
      (send) => {
        send(event(1, 'b'));
        send(event(2, 'b'));
      },
    ]);
    const gaps: ReplayGap[] = [];
    const kit = createResumableClient({
      url: server.url,
      webSocketImpl: WebSocket,
      backoff: { initialMs: 10, maxMs: 10 },
      onGap: (g) => gaps.push(g),
    });
    cleanup = async () => {
      await kit.dispose();
      await server.close();
    };
    const results: unknown[] = [];
    kit.subscribe(
      { query: 'subscription { transactions { seq } }' },
      { next: (r) => results.push(r), error: () => {}, complete: () => {} },
    );
    await waitFor(() => results.length === 3, { what: 'three results' });
    expect(results.map((r) => (r as ReturnType<typeof event>).data.transactions.seq)).toEqual([7, 1, 2]);
    expect(gaps).toEqual([{ after: 'a7', oldestCursor: 'b0', error: gapResult.errors[0], operationName: undefined }]);
    expect(server.subscribes.map((s) => s.variables['after'])).toEqual([null, 'a7', 'b0']);
  });

  test('without an onGap handler the gap result reaches the sink: never a silent gap', async () => {
    const gapResult = { data: null, errors: [{ message: 'gap', extensions: { code: 'REPLAY_GAP', oldestCursor: 'x' } }] };
    const server = await fakeServer([(send) => send(gapResult)]);
    const kit = createResumableClient({ url: server.url, webSocketImpl: WebSocket });
    cleanup = async () => {
      await kit.dispose();
      await server.close();
    };
    const results: unknown[] = [];
    kit.subscribe(
      { query: 'subscription { transactions { seq } }', variables: { after: 'stale' } },
      { next: (r) => results.push(r), error: () => {}, complete: () => {} },
    );
    await waitFor(() => results.length === 1, { what: 'the gap result' });
    expect(results[0]).toEqual(gapResult);
    expect(server.subscribes[0]?.variables).toEqual({ after: 'stale' });
  });

  test('a new history without a notice (seq restarts, another epoch): onGap once, and every event is delivered', async () => {
    // Real cursor form: base64url of v1:<epoch>:<seq>.
    const cursor = (epoch: string, seq: number) => Buffer.from(`v1:${epoch}:${seq}`).toString('base64url');
    const at = (epoch: string, seq: number, txHash = `${epoch}-${seq}`) => ({
      data: { transactions: { seq, txHash } },
      extensions: { cursor: cursor(epoch, seq) },
    });
    const server = await fakeServer([
      (send) => {
        for (let seq = 1; seq <= 5; seq++) send(at('aaaa', seq));
        // The server lost its history and says nothing (an older server): numbering restarts in epoch bbbb.
        for (let seq = 1; seq <= 3; seq++) send(at('bbbb', seq));
        // Then it rewinds without changing the epoch: seq 2 again, another event under a known cursor.
        send(at('bbbb', 2, 'rewound-2'));
        // And an exact repeat of what was just delivered: the only thing dropped.
        send(at('bbbb', 2, 'rewound-2'));
        send(at('bbbb', 3, 'rewound-3'));
      },
    ]);
    const gaps: ReplayGap[] = [];
    const kit = createResumableClient({ url: server.url, webSocketImpl: WebSocket, onGap: (g) => gaps.push(g) });
    cleanup = async () => {
      await kit.dispose();
      await server.close();
    };
    const hashes: string[] = [];
    const subscription = kit.resumable<{ transactions: { seq: number; txHash: string } }>(
      { query: 'subscription { transactions { seq txHash } }' },
      { next: (r) => hashes.push(r.data?.transactions.txHash ?? 'error'), error: () => {}, complete: () => {} },
    );
    await waitFor(() => hashes.length === 10, { what: 'ten events' });
    expect(hashes).toEqual(['aaaa-1', 'aaaa-2', 'aaaa-3', 'aaaa-4', 'aaaa-5', 'bbbb-1', 'bbbb-2', 'bbbb-3', 'rewound-2', 'rewound-3']);
    expect(subscription.duplicatesDropped).toBe(1);
    expect(gaps.map((g) => [g.after, g.oldestCursor, g.error.extensions?.['code'], g.error.extensions?.['reason']])).toEqual([
      [cursor('aaaa', 5), undefined, 'REPLAY_GAP', 'history-changed'],
      [cursor('bbbb', 3), undefined, 'REPLAY_GAP', 'history-changed'],
    ]);
    expect(subscription.cursor).toBe(cursor('bbbb', 3));
  });

  test('unsubscribing completes the sink once and sends `complete`; iterate() works like graphql-ws', async () => {
    const completes: string[] = [];
    const server = await fakeServer([
      (send, socket, id) => {
        send(event(1));
        send(event(2));
        socket.on('message', (data) => {
          const message = JSON.parse(String(data)) as { type: string; id: string };
          if (message.type === 'complete' && message.id === id) completes.push(id);
        });
      },
    ]);
    const kit = createResumableClient({ url: server.url, webSocketImpl: WebSocket });
    cleanup = async () => {
      await kit.dispose();
      await server.close();
    };
    const seen: number[] = [];
    for await (const result of kit.iterate<{ transactions: { seq: number } }>({ query: 'subscription { transactions { seq } }' })) {
      seen.push(result.data?.transactions.seq ?? -1);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    await waitFor(() => completes.length === 1, { what: 'complete to reach the server' });
  });
});

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { useControlFeed } from '../helpers/control-feed.ts';
import { liveSubscribers } from '../helpers/leaks.ts';
import { useTestServer } from '../helpers/server.ts';
import { acknowledgedSocket, messagesOfType } from '../helpers/sockets.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Requests that cost the server something it never gives back: subscriptions
 * started for a response that cannot stream, and caches filled with large
 * documents. Found by the protocol fuzz test; pinned here one by one. A
 * control client must be unharmed meanwhile.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
};
const MB = 1024 * 1024;

const server = useTestServer();
useControlFeed(server);

describe('a subscription over HTTP whose Accept cannot stream', () => {
  test.each(['application/json', 'application/graphql-response+json', 'image/png'])(
    'Accept: %s is refused (406 NOT_ACCEPTABLE) and leaves no subscriber behind',
    async (accept) => {
      const before = server.app.engine.subscriberCount();
      const statuses = new Set<number>();
      for (let i = 0; i < 10; i++) {
        const post = await fetch(server.http('/graphql'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept },
          body: JSON.stringify({ query: 'subscription { transactions { seq } }' }),
        });
        statuses.add(post.status);
        const text = await post.text();
        // yoga answers single results only: a subscription is refused plainly, and yoga's internal `http` extension
        // stays inside. (A client that accepts no JSON at all gets yoga's bodiless 406 from content negotiation.)
        if ((post.headers.get('content-type') ?? '').includes('json')) {
          const body = JSON.parse(text) as { errors?: { extensions?: Record<string, unknown> }[] };
          expect(body.errors?.[0]?.extensions).toEqual({ code: 'NOT_ACCEPTABLE' });
        }
        const get = await fetch(server.http(`/graphql?query=${encodeURIComponent('subscription { consensus { seq } }')}`), {
          headers: { accept },
        });
        statuses.add(get.status);
        await get.arrayBuffer();
      }
      expect([...statuses], `statuses ${[...statuses].join(',')}`).toEqual([406]);
      // Nothing streams to these clients, so nothing may stay subscribed for them.
      const settled = await waitFor(() => server.app.engine.subscriberCount() === before).then(
        () => undefined,
        () => liveSubscribers(server.app.engine),
      );
      expect(settled, `subscribers left behind by 20 refused requests (before: ${before})`).toBeUndefined();
    },
  );
});

describe('graphql-ws operation ids reused while still starting', () => {
  test('subscribe, complete, subscribe again with the same id — nothing survives the socket', async () => {
    const target = server;
    const count = () => target.app.engine.subscriberCount('network', 'graphql-ws');
    const before = count();
    for (let i = 0; i < 5; i++) {
      const socket = await acknowledgedSocket(target);
      const subscribe = { type: 'subscribe', id: 'same', payload: { query: 'subscription { network { seq } }' } };
      // A client that unsubscribes and resubscribes quickly (a UI re-render) does exactly this.
      socket.send(subscribe);
      socket.send({ type: 'complete', id: 'same' });
      socket.send(subscribe);
      await waitFor(() => messagesOfType(socket, 'next').length > 0 || count() > before, {
        what: 'the resubscription to start',
      });
      // The first start was cancelled by the complete: only the second one runs.
      expect(count() - before, 'subscriptions running for one id').toBe(1);
      socket.ws.close();
      await socket.closed;
    }
    const left = await waitFor(() => count() === before).then(
      () => 0,
      () => count() - before,
    );
    expect(left, 'network subscriptions left running after 5 closed sockets').toBe(0);
  });
});

describe('caches fed with large documents', () => {
  // A server of its own, so nothing the tests above left behind grows the heap meanwhile.
  const server = useTestServer();

  test('many distinct ~1 MB documents do not pin their size in memory (HTTP)', async () => {
    const before = heapAfterGc();
    for (let i = 0; i < 120; i++) {
      // ≤ 1000 tokens (the comment is not a token), so the token limit does not stop it; ~1 MB like WS_MAX_MESSAGE_BYTES.
      const query = `{ __typename } # ${i} ${'x'.repeat(1_000_000)}`;
      const response = await fetch(server.http('/graphql'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      await response.arrayBuffer();
    }
    const grownMb = Math.round((heapAfterGc() - before) / MB);
    console.log(`[caches] heap after GC grew ${grownMb} MB after 120 distinct ~1 MB documents over HTTP`);
    expect(grownMb, 'heap growth (MB) retained after 120 MB of documents').toBeLessThan(48);
  }, 60_000);

  test('many distinct ~1 MB invalid documents over graphql-ws do not pin their size either', async () => {
    const socket = await acknowledgedSocket(server);
    const before = heapAfterGc();
    for (let i = 0; i < 120; i++) {
      socket.send({ type: 'subscribe', id: `d${i}`, payload: { query: `{ nope${i} } # ${'y'.repeat(900_000)}` } });
      await waitFor(() => socket.messages.some((m) => (m as { id?: string }).id === `d${i}`) || socket.ws.readyState !== socket.ws.OPEN, {
        what: `the answer to d${i}`,
      });
    }
    socket.ws.close();
    const grownMb = Math.round((heapAfterGc() - before) / MB);
    console.log(`[caches] heap after GC grew ${grownMb} MB after 120 distinct ~0.9 MB documents over graphql-ws`);
    expect(grownMb, 'heap growth (MB) retained after 108 MB of documents').toBeLessThan(48);
  }, 60_000);
});

import { setTimeout as delay } from 'node:timers/promises';
import { beforeEach, expect, test } from 'vitest';
import { graphqlSseClient, graphqlWsClient } from '../helpers/clients.ts';
import type { TransactionEvent } from '../helpers/contract.ts';
import { makeTransaction, makeTransactions, postIngest } from '../helpers/ingest-client.ts';
import { getReady } from '../helpers/instance-feeds.ts';
import { describeWithNginx, requestFrom } from '../helpers/nginx.ts';
import { getStats } from '../helpers/ops.ts';
import { startIngestLoop, type IngestLoop } from '../helpers/redis-instances.ts';
import { describeWithRedis } from '../helpers/redis-server.ts';
import { LEGACY_RESUME, MULTIPART_RESUME, SUBSCRIPTIONS_TRANSPORT_WS_RESUME } from '../helpers/resume-checks.ts';
import { seqBreaks } from '../helpers/sequences.ts';
import { httpErrorOf, tryUpgrade, type UpgradeOutcome } from '../helpers/sockets.ts';
import { clientFeed } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';
import { readyStatus, useFleet } from './fleet.ts';
import { expectEveryEventOnceInOrder, expectNoSilentGap, longestWait, resumingFeeds, type ResumingFeed } from './resuming-feeds.ts';

/**
 * The deployment, proven with its real parts: Debian's nginx with the site
 * file from deploy/nginx/ (included unchanged; the test writes only the
 * instances' `server` lines and the listen address) in front of three server
 * processes on one real redis-server, round-robin. Every protocol works
 * through it; SSE is not buffered; per-IP limits see the client, not nginx.
 * Then chaos: instances killed -9 one at a time under ingest, Redis killed
 * -9, and a rolling restart with SIGTERM — with a resuming client on each
 * transport checking what it was given.
 */

/** A draining instance answers /ready (and new connections) with 503 this long before it closes its listener. */
const READY_GRACE_MS = 500;
/** The bound of a whole stop, the grace included. */
const SHUTDOWN_TIMEOUT_MS = 3000;
/** Per instance; small, so the per-IP test can fill every instance's allowance for one address. */
const MAX_CONNECTIONS_PER_IP = 6;
/** Room for a loaded two-core machine on top of every configured bound. */
const SLACK_MS = 5000;
/** One instance killed about this often during the chaos. */
const KILL_EVERY_MS = 10_000;

describeWithNginx('a fleet behind nginx', () => {
  describeWithRedis('three instances on one Redis behind deploy/nginx/aurigraph-realtime.conf', () => {
    const fleet = useFleet(3, {
      // One nginx hop: the client is the rightmost X-Forwarded-For entry.
      TRUST_PROXY: 'true',
      MAX_CONNECTIONS_PER_IP: String(MAX_CONNECTIONS_PER_IP),
      READY_GRACE_MS: String(READY_GRACE_MS),
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    });
    // Each test starts with nobody subscribed: the previous test's clients (closed when it ended) have detached.
    beforeEach(() => fleet.settled());

    test(
      'every protocol works through nginx: each subscriber gets every event once, in order, wherever it landed',
      { timeout: 60_000 },
      async () => {
        const { nginx } = fleet;
        const feeds = [
          clientFeed(graphqlWsClient(nginx), 'transactions', {}, 'graphql-ws'),
          await SUBSCRIPTIONS_TRANSPORT_WS_RESUME.open(nginx, {}, 'subscriptions-transport-ws'),
          clientFeed(graphqlSseClient(nginx), 'transactions', {}, 'SSE, distinct connections'),
          clientFeed(graphqlSseClient(nginx, { singleConnection: true }), 'transactions', {}, 'SSE, single connection'),
          await MULTIPART_RESUME.open(nginx, {}, 'multipart (Apollo Client 4 HttpLink)'),
          await LEGACY_RESUME.open(nginx, {}, 'legacy /ws/transactions'),
        ];
        await waitFor(async () => (await fleet.subscribers('transactions')) === feeds.length, {
          timeoutMs: 20_000,
          what: `${feeds.length} transactions subscribers in the fleet`,
        });
        const perInstance = await Promise.all(fleet.running().map(async (server) => (await getStats(server)).transactionConnections));
        expect(
          perInstance.filter((n) => (n ?? 0) > 0).length,
          `round-robin spread the subscribers over the instances (${perInstance.join(', ')})`,
        ).toBeGreaterThan(1);

        const sent = makeTransactions(`${fleet.prefix}-protocols`, 0, 24);
        for (let i = 0; i < sent.length; i += 6) {
          const response = await postIngest(nginx, 'transactions', sent.slice(i, i + 6));
          expect(response.status, response.text).toBe(200);
        }
        const hashes = sent.map((event) => event.txHash);
        const ours = new Set(hashes);
        const received = (feed: (typeof feeds)[number]) => feed.events.filter((event) => ours.has(String(event['txHash'])));
        await waitFor(() => feeds.every((feed) => received(feed).length >= hashes.length), {
          timeoutMs: 20_000,
          what: 'the 24 events on every subscriber',
        }).catch(() => {}); // the assertions below say who is missing what
        for (const feed of feeds) {
          expect(feed.errors, `${feed.label}: errors`).toEqual([]);
          expect(
            received(feed).map((event) => event['txHash']),
            `${feed.label}: every event once, in order`,
          ).toEqual(hashes);
          expect(seqBreaks(received(feed).map((event) => event.seq)), `${feed.label}: seq`).toEqual([]);
        }

        // Plain HTTP through the same site: a query, GraphiQL, the status page.
        const query = await fetch(nginx.http('/graphql'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ query: '{ recentTransactions(limit: 1000) { txHash } }' }),
        });
        expect(query.status).toBe(200);
        const recent = ((await query.json()) as { data: { recentTransactions: { txHash: string }[] } }).data.recentTransactions;
        expect(recent.map((tx) => tx.txHash).slice(-hashes.length)).toEqual(hashes);
        const graphiql = await fetch(nginx.http('/graphql'), { headers: { accept: 'text/html' } });
        expect(graphiql.status).toBe(200);
        expect(graphiql.headers.get('content-type')).toMatch(/text\/html/);
        expect(await graphiql.text()).toMatch(/graphiql/i);
        const statusPage = await fetch(nginx.http('/'), { headers: { accept: 'text/html' } });
        expect(statusPage.status).toBe(200);
        expect(statusPage.headers.get('content-type')).toMatch(/text\/html/);
      },
    );

    test(
      'SSE events arrive as they happen, not buffered by nginx: each within a second of its timestamp, in both graphql-sse modes',
      { timeout: 60_000 },
      async () => {
        const { nginx } = fleet;
        const arrivals = { 'distinct connections': new Map<string, number>(), 'single connection': new Map<string, number>() };
        const subscribe = (mode: keyof typeof arrivals) =>
          graphqlSseClient(nginx, { singleConnection: mode === 'single connection' }).subscribe<{ transactions?: { txHash: string } }>(
            { query: 'subscription { transactions { txHash } }' },
            {
              next: (result) => {
                const tx = result.data?.transactions;
                if (tx) arrivals[mode].set(tx.txHash, Date.now());
              },
              error: () => {},
              complete: () => {},
            },
          );
        subscribe('distinct connections');
        subscribe('single connection');
        await waitFor(async () => (await fleet.subscribers('transactions')) === 2, { timeoutMs: 20_000, what: 'both SSE subscribers' });

        const sent: TransactionEvent[] = [];
        for (let i = 0; i < 8; i++) {
          // Timestamped now, sent alone: a buffering proxy would sit on each small event until more came.
          const event = makeTransaction(`${fleet.prefix}-unbuffered`, i);
          sent.push(event);
          const response = await postIngest(nginx, 'transactions', event);
          expect(response.status, response.text).toBe(200);
          // Pacing, not synchronisation: events a quarter of a second apart.
          await delay(250);
        }
        await waitFor(() => Object.values(arrivals).every((map) => sent.every((event) => map.has(event.txHash))), {
          timeoutMs: 20_000,
          what: 'every event over both SSE modes',
        });
        for (const [mode, map] of Object.entries(arrivals)) {
          const late = sent
            .map((event) => ({ txHash: event.txHash.slice(0, 10), ms: (map.get(event.txHash) as number) - Date.parse(event.timestamp) }))
            .filter(({ ms }) => ms > 1000);
          expect(late, `SSE ${mode}: events that arrived more than 1 s after their timestamp`).toEqual([]);
        }
      },
    );

    test('/metrics and /ready answer internal addresses only; ingest bodies over 1 MiB stop at nginx', { timeout: 30_000 }, async () => {
      const { nginx } = fleet;
      // 127.0.0.1 is on the site's internal list; 127.0.0.2 stands for any other address.
      const metrics = await requestFrom('127.0.0.1', nginx.http('/metrics'));
      expect(metrics.status).toBe(200);
      expect(metrics.text).toContain('aurigraph_websocket_connections_total');
      expect((await requestFrom('127.0.0.2', nginx.http('/metrics'))).status).toBe(403);
      const ready = await requestFrom('127.0.0.1', nginx.http('/ready'));
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.text)).toMatchObject({ status: 'ready' });
      expect((await requestFrom('127.0.0.2', nginx.http('/ready'))).status).toBe(403);

      const oversized = await postIngest(nginx, 'transactions', Buffer.alloc(1024 * 1024 + 4096, 0x20));
      expect(oversized.status).toBe(413);
      // nginx's own page: the instances answer every error in their JSON shape.
      expect(String(oversized.headers['content-type'])).toMatch(/text\/html/);
      const within = await postIngest(nginx, 'transactions', [makeTransaction(`${fleet.prefix}-body`, 0)]);
      expect(within.status, within.text).toBe(200);
    });

    test(
      'per-IP limits count the client address nginx forwards, not nginx: one client is refused at its cap, another still connects',
      { timeout: 60_000 },
      async () => {
        const { nginx } = fleet;
        /** A legacy upgrade through nginx from a local address; nginx's own rate limiting (not the server's) is waited out. */
        const upgradeFrom = async (address: string, headers: Record<string, string> = {}): Promise<UpgradeOutcome> => {
          for (let attempt = 1; ; attempt++) {
            const outcome = await tryUpgrade(nginx.ws('/ws/metrics'), { ws: { localAddress: address }, headers });
            const fromNginx = outcome.status === 429 && !outcome.body.trimStart().startsWith('{');
            if (!fromNginx || attempt === 20) return outcome;
            // Pacing: the site allows 10 new connections per second per address.
            await delay(300);
          }
        };
        const everyInstanceFull = async () =>
          (await Promise.all(fleet.running().map((server) => getStats(server)))).every(
            (s) => (s.metricsConnections ?? 0) >= MAX_CONNECTIONS_PER_IP,
          );

        // Fill every instance's allowance for 127.0.0.2 (round-robin decides where each lands).
        const refusedOnTheWay: UpgradeOutcome[] = [];
        let opened = 0;
        while (!(await everyInstanceFull())) {
          expect(
            opened + refusedOnTheWay.length,
            'upgrades from 127.0.0.2 needed to fill every instance (more: refusals that were not about 127.0.0.2 — is the server counting nginx?)',
          ).toBeLessThan(3 * MAX_CONNECTIONS_PER_IP + 10);
          const outcome = await upgradeFrom('127.0.0.2');
          if (outcome.status === 101) opened++;
          else refusedOnTheWay.push(outcome);
        }
        expect(opened).toBe(3 * MAX_CONNECTIONS_PER_IP);

        const refused = await upgradeFrom('127.0.0.2');
        expect(refused.status, `a connection over the cap: ${refused.body}`).toBe(429);
        expect(httpErrorOf(refused.body).code).toBe('RATE_LIMITED');
        expect(httpErrorOf(refused.body).message).toMatch(/address/);
        for (const outcome of refusedOnTheWay) expect(httpErrorOf(outcome.body).code).toBe('RATE_LIMITED');
        // Claiming another address does not help: the server takes the one nginx appended, not the client's claim.
        const spoofed = await upgradeFrom('127.0.0.2', { 'x-forwarded-for': '198.51.100.7' });
        expect(spoofed.status, spoofed.body).toBe(429);
        // Another client behind the same nginx is not affected: the server does not see nginx's address.
        const other = await upgradeFrom('127.0.0.3');
        expect(other.status, other.body).toBe(101);
      },
    );

    /** Waits until every feed has the last accepted event; the assertions that follow say what is missing if not. */
    const allDelivered = (feeds: ResumingFeed[], loop: IngestLoop) => {
      const last = loop.accepted.at(-1)?.txHash;
      return waitFor(() => feeds.every((feed) => feed.received.some((d) => d.txHash === last)), {
        timeoutMs: 30_000,
        what: 'the last accepted event on every client',
      }).catch(() => {});
    };

    /** Resuming clients on every transport, attached and streaming under a chain node's ~200 events/s through nginx. */
    const streamingUnderIngest = async (tag: string): Promise<{ feeds: ResumingFeed[]; loop: IngestLoop }> => {
      const feeds = resumingFeeds(fleet.nginx);
      await waitFor(async () => (await fleet.subscribers('transactions')) === feeds.length, {
        timeoutMs: 20_000,
        what: `${feeds.length} resuming clients attached`,
      });
      // Batches of 10 every ~50 ms: about 200 events/s when the box keeps up.
      const loop = startIngestLoop([fleet.nginx], `${fleet.prefix}-${tag}`, { batch: 10, pauseMs: 40, maxBatches: 1_000_000 });
      await waitFor(() => feeds.every((feed) => feed.received.length >= 20), { timeoutMs: 20_000, what: 'every client streaming' });
      return { feeds, loop };
    };

    test(
      'chaos: one instance at a time killed -9 and restarted every ~10 s under ingest: every accepted event reaches every client once, in order',
      { timeout: 180_000 },
      async () => {
        const { feeds, loop } = await streamingUnderIngest('kills');
        const started = Date.now();
        // Every instance dies at least once, so every client — wherever it was — has to resume at least once.
        for (const [n, i] of [0, 1, 2, 0].entries()) {
          // Pacing, not synchronisation: a kill about every 10 s.
          await delay(Math.max(0, started + n * KILL_EVERY_MS - Date.now()));
          await fleet.kill(i);
          await fleet.start(i);
        }
        const acceptedBefore = loop.accepted.length;
        await waitFor(() => loop.accepted.length >= acceptedBefore + 200, {
          timeoutMs: 30_000,
          what: '200 more events after the last restart',
        });
        await loop.stop();
        await allDelivered(feeds, loop);

        for (const feed of feeds) {
          expectEveryEventOnceInOrder(feed, loop);
          expect(feed.reconnects.length, `${feed.label}: resumed after its instance died`).toBeGreaterThan(0);
        }
      },
    );

    test(
      'chaos: redis-server killed -9 and restarted under ingest: a signalled gap or nothing lost, and every event answered 2xx delivered',
      { timeout: 150_000 },
      async () => {
        const { feeds, loop } = await streamingUnderIngest('redis');
        // A history worth losing: a few hundred events stored before the kill.
        await waitFor(() => loop.accepted.length >= 300, { timeoutMs: 30_000, what: '300 events stored before the kill' });
        await fleet.redis.kill('SIGKILL');
        for (const server of fleet.running()) await readyStatus(server, 503, 20_000);
        // The chain node is told at once, again and again while Redis is away, not left waiting for it to come back.
        await waitFor(() => loop.failures.filter((failure) => failure.startsWith('503')).length >= 10, {
          timeoutMs: 30_000,
          what: 'ingest requests answered 503 while Redis is down',
        });
        const refused = await postIngest(fleet.nginx, 'transactions', makeTransaction(`${fleet.prefix}-outage`, 0));
        expect(refused.status, refused.text).toBe(503);
        expect(refused.headers['retry-after'], 'Retry-After on the 503 through nginx').toBeDefined();
        // Those 503s did not take the instances out of nginx's upstream: new requests still reach them.
        expect((await fetch(fleet.nginx.http('/health'))).status).toBe(200);
        await fleet.redis.restart();
        for (const server of fleet.running()) await readyStatus(server, 200, 30_000);
        const acceptedBefore = loop.accepted.length;
        await waitFor(() => loop.accepted.length >= acceptedBefore + 200, {
          timeoutMs: 30_000,
          what: '200 events accepted after the restart',
        });
        await loop.stop();
        await allDelivered(feeds, loop);

        // Every ingest request was answered: 2xx, or a bounded 503 while Redis was away (a hang would be nginx's 504).
        expect(loop.failures.filter((failure) => !failure.startsWith('503')).slice(0, 5), 'ingest answers other than 2xx and 503').toEqual(
          [],
        );
        for (const feed of feeds) expectNoSilentGap(feed, loop);
      },
    );

    test(
      'rolling restart with SIGTERM, one instance after the other: nothing lost, nobody waits past the drain bound',
      { timeout: 150_000 },
      async () => {
        const { feeds, loop } = await streamingUnderIngest('rolling');
        // An instance's whole stop: the grace and the drain inside SHUTDOWN_TIMEOUT_MS, then its last log lines (about a second).
        const stopBoundMs = SHUTDOWN_TIMEOUT_MS + 1000;
        const firstStop = Date.now();
        for (let i = 0; i < fleet.size; i++) {
          const { exit, tookMs } = await fleet.terminate(i);
          expect(exit.code, `instance ${i}: exit code after SIGTERM`).toBe(0);
          expect(tookMs, `instance ${i}: ms from SIGTERM to exit`).toBeLessThanOrEqual(stopBoundMs + SLACK_MS);
          await fleet.start(i);
          expect((await getReady(fleet.instance(i))).status).toBe(200);
          // The stream goes on through the restarted fleet before the next instance stops.
          const accepted = loop.accepted.length;
          await waitFor(() => loop.accepted.length >= accepted + 100, {
            timeoutMs: 30_000,
            what: `100 events after instance ${i} came back`,
          });
        }
        await loop.stop();
        await allDelivered(feeds, loop);

        for (const feed of feeds) {
          expectEveryEventOnceInOrder(feed, loop);
          expect(feed.reconnects.length, `${feed.label}: resumed after its instance drained`).toBeGreaterThan(0);
          expect(longestWait(feed, loop, firstStop), `${feed.label}: longest wait for an event (ms)`).toBeLessThanOrEqual(
            stopBoundMs + SLACK_MS,
          );
        }
      },
    );
  });
});

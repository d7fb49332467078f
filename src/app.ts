import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createMemoryBus } from './bus/memory.ts';
import { createRedisBus } from './bus/redis.ts';
import { createIngestRoute, INGEST_PREFIX } from './sources/ingest.ts';
import { createRedisStreamsSource } from './sources/redis-streams.ts';
import type { Config } from './config.ts';
import { createBroadcastTracker, type BroadcastTracker } from './ops/broadcast.ts';
import { createHealthRoutes, type Lifecycle, type OpsRoute } from './ops/http-routes.ts';
import { createLogger, type Logger } from './ops/logger.ts';
import { createPrometheusRoute } from './ops/prometheus.ts';
import { createStatsRoute } from './ops/stats.ts';
import { createMetricsTicker } from './sources/metrics-ticker.ts';
import { createSimulatorSource } from './sources/simulator/index.ts';
import type { EventSource } from './sources/source.ts';
import { createStreams, type Streams } from './streams/index.ts';
import { createChainState } from './streams/state.ts';
import { createGraphQLHttp, GRAPHQL_PATH } from './transports/graphql-http.ts';
import { createGraphQLWsEndpoint } from './transports/graphql-ws.ts';
import { createLegacyEndpoint, type LegacyEndpoint } from './transports/legacy-ws.ts';
import { routeUpgrades, type WebSocketEndpoint } from './transports/upgrade.ts';
import { createHttpGate } from './transports/http-gate.ts';
import { createAdmission } from './security/admission.ts';
import { createAuthenticator } from './security/auth.ts';
import { createStatusPageRoutes } from './status-page/routes.ts';

export interface App {
  readonly server: Server;
  readonly streams: Streams;
  readonly logger: Logger;
  readonly tracker: BroadcastTracker;
  readonly legacy: LegacyEndpoint;
  lifecycle(): Lifecycle;
  /** Listens, then starts the event sources. Resolves with the bound address. */
  start(): Promise<AddressInfo>;
  /** Drains: refuses new work, completes subscriptions, closes sockets, stops sources. Bounded by SHUTDOWN_TIMEOUT_MS. */
  stop(): Promise<void>;
}

/** Wires sources → bus → streams → transports. Nothing here has side effects until start(). */
export function createApp(config: Config, options: { logger?: Logger } = {}): App {
  const logger = options.logger ?? createLogger(config);
  let lifecycle: Lifecycle = 'starting';

  const bus =
    config.bus === 'redis'
      ? createRedisBus({
          url: config.redis.url,
          prefix: config.redis.keyPrefix,
          bufferSize: config.replay.bufferSize,
          dedupWindowMs: config.dedupWindowMs,
          logger,
          // Each instance's metrics describe that instance; chain-wide TPS comes from the shared transactions.
          localStreams: ['metrics'],
        })
      : createMemoryBus({ dedupWindowMs: config.dedupWindowMs });
  const tracker = createBroadcastTracker({ targetMs: config.broadcastLatencyTargetMs, logger });
  const streams = createStreams(bus, {
    bufferSize: config.replay.bufferSize,
    ttlMs: config.replay.ttlMs,
    queueLimit: config.subscriberQueueLimit,
    onDelivered: tracker.delivered,
    onDeliverError: (stream, error) => logger.error({ stream, err: error }, 'delivery to a subscriber failed'),
  });
  const state = createChainState(streams.hubs);

  const sources: EventSource[] = [];
  if (config.sources.includes('simulator')) sources.push(createSimulatorSource(config.simulator));
  if (config.sources.includes('redis')) {
    sources.push(createRedisStreamsSource({ url: config.redis.url, prefix: config.redis.streamPrefix, logger }));
  }
  const ingest =
    config.sources.includes('ingest') && config.ingest.token
      ? createIngestRoute({ token: config.ingest.token, maxBodyBytes: config.ingest.maxBodyBytes, bus, logger })
      : undefined;
  sources.push(
    createMetricsTicker({
      intervalMs: config.metricsIntervalMs,
      observeTransactions: (listener) => streams.hubs.transactions.tap(listener),
      connections: () => streams.subscriberCount(),
    }),
  );

  const authenticator = createAuthenticator(config.auth);
  const admission = createAdmission(config);
  const gate = createHttpGate({ authenticator, admission, logger, graphiql: config.graphiql });
  const yoga = createGraphQLHttp({ config, streams, state, logger, authRequired: authenticator.required, gate });
  const graphqlWs = createGraphQLWsEndpoint({ config, yoga, logger, tracker, authenticator });
  const legacy = createLegacyEndpoint({ config, hubs: streams.hubs, tracker, logger, authenticator });
  const wsEndpoints: WebSocketEndpoint[] = [graphqlWs, legacy];

  const opsRoutes = new Map<string, OpsRoute>();
  for (const route of [
    ...createHealthRoutes(() => (lifecycle === 'ready' && !bus.healthy() ? 'degraded' : lifecycle)),
    createStatsRoute(streams, tracker),
    ...createStatusPageRoutes({ logger }),
    createPrometheusRoute({
      streams,
      tracker,
      transports: {
        sockets: () => ({
          'graphql-ws': graphqlWs.connections(),
          legacy: legacy.connections(),
          sse: streams.subscriberCount('sse'),
        }),
        refused: () => admission.refused,
        *terminated() {
          for (const [reason, count] of legacy.counters.terminated) yield ['legacy', reason, count];
          for (const [reason, count] of graphqlWs.terminated) yield ['graphql-ws', reason, count];
        },
      },
    }),
  ]) {
    opsRoutes.set(`${route.method} ${route.path}`, route);
  }

  const handleRequest = (request: IncomingMessage, response: ServerResponse) => {
    const pathname = (request.url ?? '/').split('?', 1)[0];
    if (ingest && pathname?.startsWith(INGEST_PREFIX)) {
      void ingest.handle(request, response, pathname).catch((error: unknown) => {
        logger.error({ err: error, path: pathname }, 'ingest failed');
        if (!response.headersSent) response.writeHead(500).end();
      });
      return;
    }
    const route = opsRoutes.get(`${request.method} ${pathname}`);
    if (route) {
      void Promise.resolve(route.handle(request, response)).catch((error: unknown) => {
        logger.error({ err: error, path: pathname }, 'ops route failed');
        if (!response.headersSent) response.writeHead(500).end();
      });
      return;
    }
    void gate.screen(request, response, pathname ?? '/').then(
      (answered) => {
        if (!answered) void yoga(request, response);
      },
      (error: unknown) => {
        logger.error({ err: error, path: pathname }, 'request screening failed');
        if (!response.headersSent) response.writeHead(500).end();
      },
    );
  };
  const server = config.tls
    ? createHttpsServer({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }, handleRequest)
    : createServer(handleRequest);
  // Every TCP socket, so a drain can close the ones with no response in flight.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const closeIdleSockets = () => {
    for (const socket of sockets) {
      // `_httpMessage` is the response being written on this socket; none means nobody is waiting on it.
      if (!(socket as Socket & { _httpMessage?: unknown })._httpMessage) socket.destroy();
    }
  };
  // Long-lived SSE responses must not be cut by Node's default request timeout,
  // but a client that never finishes its headers (slow loris) must be.
  server.requestTimeout = 0;
  server.headersTimeout = 10_000;

  routeUpgrades(
    server,
    [{ match: (pathname) => (pathname === GRAPHQL_PATH ? graphqlWs : undefined) }, legacy],
    { accepting: () => lifecycle === 'ready' || lifecycle === 'starting', admission, logger },
  );

  let stopping: Promise<void> | undefined;

  return {
    server,
    streams,
    logger,
    tracker,
    legacy,
    lifecycle: () => lifecycle,
    async start() {
      await bus.start();
      await streams.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      for (const source of sources) await source.start(bus.publish);
      lifecycle = 'ready';
      const address = server.address() as AddressInfo;
      logger.info({ port: address.port, host: address.address, sources: sources.map((s) => s.name) }, 'listening');
      return address;
    },
    stop() {
      stopping ??= (async () => {
        lifecycle = 'draining';
        logger.info('draining');
        const deadline = new Promise<'timeout'>((resolve) =>
          setTimeout(resolve, config.shutdownTimeoutMs, 'timeout').unref(),
        );
        const drain = (async () => {
          for (const source of [...sources].reverse()) await source.stop();
          // Ending every subscription makes graphql-ws send `complete` and ends SSE streams;
          // one macrotask lets those writes reach the sockets before the 1001 closes.
          await streams.stop();
          await new Promise((resolve) => setImmediate(resolve));
          await Promise.all(wsEndpoints.map((endpoint) => endpoint.dispose()));
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          // Node's closeIdleConnections skips sockets that never sent a request (browsers and fetch
          // pre-open them) and those that go idle later; sweep until the server has closed.
          const sweep = setInterval(closeIdleSockets, 50);
          closeIdleSockets();
          await closed;
          clearInterval(sweep);
        })();
        const outcome = await Promise.race([drain.then(() => 'drained' as const), deadline]);
        if (outcome === 'timeout') {
          logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'drain timed out; closing remaining connections');
          server.closeAllConnections();
          for (const endpoint of wsEndpoints) for (const ws of endpoint.wss.clients) ws.terminate();
        }
        state.stop();
        await bus.stop();
        lifecycle = 'stopped';
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}

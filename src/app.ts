import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EventBus } from './bus/bus.ts';
import { createBus } from './bus/create.ts';
import { createWorkerDirectory } from './cluster/directory.ts';
import { createWorkerBus } from './cluster/worker-bus.ts';
import type { WorkerLink } from './cluster/worker.ts';
import type { Config } from './config.ts';
import { createDeliveryCounters, type DeliveryCounters } from './engine/counters.ts';
import { createDeliveryEngine, type DeliveryEngine } from './engine/engine.ts';
import { createOperationRunner } from './engine/operations.ts';
import { RealtimeError } from './errors.ts';
import { drain, trackSockets } from './lifecycle.ts';
import { createHealthRoutes, type Lifecycle, type Readiness } from './ops/http-routes.ts';
import { createLogger, throttledWarning, type Logger } from './ops/logger.ts';
import { createPrometheusRegistry, createPrometheusRoute } from './ops/prometheus.ts';
import { collectStats, createStatsRoute } from './ops/stats.ts';
import { createAdmission } from './security/admission.ts';
import { createAuthenticator, type Principal } from './security/auth.ts';
import { createCors } from './security/cors.ts';
import { createSources } from './sources/create.ts';
import { createIngestRoute } from './sources/ingest.ts';
import { statusPageAssets } from './status-page/routes.ts';
import { createStreams, type Streams } from './streams/index.ts';
import { graphiqlAssets } from './transports/graphiql.ts';
import { createGraphQLHttp, envelopeOf, GRAPHIQL_DEFAULT_DOCUMENT, GRAPHQL_PATH, GRAPHQL_SSE_PATH } from './transports/graphql-http.ts';
import { createAssetRoutes } from './transports/http/assets.ts';
import { createGraphQLSocketEndpoint } from './transports/graphql-socket.ts';
import { authenticateRequest } from './transports/http/request.ts';
import { createRouter, type Route } from './transports/http/router.ts';
import { createHttpServer } from './transports/http/server.ts';
import { createLegacyEndpoint } from './transports/legacy.ts';
import { createLocalDirectory, createRedisDirectory } from './transports/sse-directory.ts';
import { createSingleConnectionMode } from './transports/sse-single.ts';
import { createMultipartRoute, createMultipartStreams } from './transports/multipart.ts';
import { createSseRoute, createSseStreams } from './transports/sse.ts';
import { closeEndpoint, routeUpgrades } from './transports/upgrade.ts';
import { createSocketMonitor } from './transports/websocket.ts';

export interface App {
  readonly server: Server;
  readonly streams: Streams;
  readonly engine: DeliveryEngine;
  readonly counters: DeliveryCounters;
  readonly bus: EventBus;
  readonly logger: Logger;
  readiness(): Readiness;
  /** Listens, then starts the event sources. Resolves with the bound address. */
  start(): Promise<AddressInfo>;
  /** Drains: refuses new work, completes subscriptions, closes connections, stops sources. Bounded by SHUTDOWN_TIMEOUT_MS. */
  stop(): Promise<void>;
}

/**
 * Wires sources → bus → streams → delivery engine → transports. Nothing here
 * starts a timer or touches the network until start().
 */
export function createApp(config: Config, options: { logger?: Logger; cluster?: WorkerLink } = {}): App {
  const logger = options.logger ?? createLogger(config);
  // A worker (WORKERS > 1): the primary owns the bus, the sources and the numbering; this process serves.
  const link = options.cluster;
  const { production } = config;
  let lifecycle: Lifecycle = 'starting';
  const readiness = (): Readiness => (lifecycle === 'ready' && !bus.healthy() ? 'degraded' : lifecycle);

  const bus = link ? createWorkerBus(link.channel, { publishTimeoutMs: config.ingest.timeoutMs }) : createBus(config, logger);
  const streams = createStreams(bus, { bufferSize: config.replay.bufferSize, ttlMs: config.replay.ttlMs });
  const counters = createDeliveryCounters({ targetMs: config.delivery.latencyTargetMs, logger });
  const engine = createDeliveryEngine({
    streams,
    counters,
    logger,
    bufferLimitBytes: config.delivery.slowConsumerBufferBytes,
    lagLimitMs: config.delivery.slowConsumerLagMs,
  });
  const sources = link ? [] : createSources(config, { streams, logger, instance: { connections: () => engine.subscriberCount() } });

  const authenticator = createAuthenticator(config.auth);
  const admission = createAdmission(config);
  if (config.limits.maxConnectionsRequested !== undefined) {
    logger.warn(
      {
        requested: config.limits.maxConnectionsRequested,
        maxConnections: config.limits.maxConnections,
        openFileLimit: config.limits.openFileLimit,
      },
      'MAX_CONNECTIONS lowered: the open-file limit leaves descriptors for no more (raise LimitNOFILE / ulimit -n to allow more)',
    );
  }
  const cors = createCors(config.corsOrigins);
  const limits = { metricsIntervalMs: config.metricsIntervalMs, replayBufferSize: config.replay.bufferSize };

  // yoga's context reads the principal the router verified for its request.
  const principals = new WeakMap<IncomingMessage, Principal>();
  const yoga = createGraphQLHttp({
    config,
    streams,
    logger,
    authRequired: authenticator.required,
    principalOf: (request) => principals.get(request),
  });
  const runner = createOperationRunner({
    envelope: envelopeOf(yoga),
    streams,
    production,
    authRequired: authenticator.required,
    limits,
    onInternalError: (error) => logger.error({ err: error }, 'preparing an operation failed'),
  });

  const monitor = createSocketMonitor({
    pingIntervalMs: config.ws.pingIntervalMs,
    onTerminate: (_socket, transport, reason) => {
      counters.terminated(transport, reason);
      logger.warn({ transport, reason }, 'peer terminated');
    },
  });
  const graphqlWs = createGraphQLSocketEndpoint({
    path: GRAPHQL_PATH,
    maxMessageBytes: config.ws.maxMessageBytes,
    keepAliveMs: config.keepAliveMs,
    runner,
    engine,
    monitor,
    counters,
    authenticator,
    logger,
    limits: config.limits,
    production,
  });
  const legacy = createLegacyEndpoint({ config, engine, monitor, counters, logger, authenticator });
  const wsEndpoints = [graphqlWs, legacy];

  const sseStreams = createSseStreams({ keepAliveMs: config.keepAliveMs, cors });
  const multipartStreams = createMultipartStreams(cors);
  const httpStreams = [sseStreams, multipartStreams];
  const sseDeps = { cors, runner, engine, streams: sseStreams, admission, authenticator, logger, production };
  // With several instances on one Redis, single-connection SSE streams are found fleet-wide; with workers, instance-wide.
  const directory =
    config.bus === 'redis'
      ? createRedisDirectory({ url: config.redis.url, prefix: config.redis.keyPrefix, logger })
      : link
        ? createWorkerDirectory(link.channel, link.instance)
        : createLocalDirectory();
  const singleConnection = createSingleConnectionMode({
    ...sseDeps,
    directory,
    path: GRAPHQL_SSE_PATH,
    reservationTtlMs: config.sse.reservationTtlMs,
    maxOperations: config.limits.maxSubscriptionsPerConnection,
  });

  /** GraphQL over HTTP (yoga): anything that can run an operation needs the token. */
  const graphqlHttp: Route = {
    name: 'graphql-http',
    path: GRAPHQL_PATH,
    async handle({ request, response, url }) {
      const accept = request.headers.accept ?? '';
      // yoga would answer an empty 406; say what this path speaks, in the one error shape.
      if (accept && !/json|\*\/\*|application\/\*|text\/html/.test(accept) && request.method !== 'OPTIONS') {
        throw new RealtimeError(
          'NOT_ACCEPTABLE',
          'this path answers application/json or application/graphql-response+json; subscriptions also text/event-stream',
        );
      }
      admission.screen(request);
      const principal = await authenticateRequest(request, url, authenticator);
      if (principal) principals.set(request, principal);
      // yoga answers unparsable `variables`/`extensions` in a GET with 500; they are the client's mistake.
      for (const name of ['variables', 'extensions']) {
        const value = url.searchParams.get(name);
        if (value === null) continue;
        try {
          JSON.parse(value);
        } catch {
          throw new RealtimeError('BAD_REQUEST', `${name}: not valid JSON`, { argument: name });
        }
      }
      await yoga(request, response);
    },
  };

  const assets = [
    ...statusPageAssets(),
    ...(config.graphiql
      ? graphiqlAssets({ path: GRAPHQL_PATH, title: 'aurigraph-realtime GraphiQL', defaultQuery: GRAPHIQL_DEFAULT_DOCUMENT })
      : []),
  ];

  const prometheus = createPrometheusRegistry({
    engine,
    counters,
    transports: {
      sockets: () => ({
        'graphql-ws': monitor.count('graphql-ws'),
        'subscriptions-transport-ws': monitor.count('subscriptions-transport-ws'),
        legacy: monitor.count('legacy'),
        sse: sseStreams.count(),
        multipart: multipartStreams.count(),
      }),
      refused: () => admission.refused,
      capacity: () => {
        const sockets = admission.sockets();
        return {
          connections: admission.open(),
          connectionsLimit: admission.limits.maxConnections,
          sockets: sockets.open,
          plainSockets: sockets.plain,
          socketsLimit: admission.limits.maxSockets,
        };
      },
    },
    service: { readiness, bus, latencyTargetMs: config.delivery.latencyTargetMs },
  });
  const localStats = () => collectStats(engine, counters);
  link?.serve({ stats: localStats, metrics: () => prometheus.getMetricsAsJSON(), subscribers: () => engine.subscriberCount() });

  const routes: Route[] = [
    ...createHealthRoutes(readiness),
    createStatsRoute(link ? link.instanceStats : localStats),
    createPrometheusRoute(link ? link.instanceMetrics : () => prometheus.metrics()),
    // Before the GraphQL routes: a browser asking /graphql for HTML gets GraphiQL, the public page.
    ...createAssetRoutes(assets, { logger }),
    ...(config.sources.includes('ingest') && config.ingest.token
      ? [
          createIngestRoute({
            token: config.ingest.token,
            maxBodyBytes: config.ingest.maxBodyBytes,
            timeoutMs: config.ingest.timeoutMs,
            bus,
            logger,
          }),
        ]
      : []),
    {
      name: 'cors-preflight',
      path: GRAPHQL_PATH,
      prefix: true,
      methods: ['OPTIONS'],
      handle: ({ request, response }) => cors.preflight(request, response),
    },
    ...singleConnection.routes,
    createSseRoute({ ...sseDeps, path: GRAPHQL_PATH }),
    createMultipartRoute({ ...sseDeps, streams: multipartStreams, path: GRAPHQL_PATH }),
    graphqlHttp,
  ];
  const router = createRouter({ routes, production, logger });
  const server = createHttpServer(config, router);
  const sockets = trackSockets(server);
  admission.watch(server);
  routeUpgrades(server, wsEndpoints, { accepting: () => lifecycle === 'ready' || lifecycle === 'starting', admission, logger, production });

  let stopping: Promise<void> | undefined;
  return {
    server,
    streams,
    engine,
    counters,
    bus,
    logger,
    readiness,
    async start() {
      await bus.start();
      await directory.start();
      await streams.start();
      engine.start();
      monitor.start();
      graphqlWs.start();
      for (const streams of httpStreams) streams.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      // From here an 'error' is a failed accept (EMFILE/ENFILE at the open-file limit): the listener goes on, and so must
      // the process — unhandled, it would end every connection at once.
      const acceptFailed = throttledWarning(logger, 'accepting a connection failed; the listener goes on');
      server.on('error', (error: NodeJS.ErrnoException) => {
        admission.acceptFailed();
        acceptFailed({ code: error.code, err: error.message });
      });
      for (const source of sources) await source.start(bus.publish);
      lifecycle = 'ready';
      const address = server.address() as AddressInfo;
      logger.info(
        { port: address.port, host: address.address, sources: sources.map((s) => s.name), maxConnections: config.limits.maxConnections },
        // With workers the primary says `listening` once every worker does.
        link ? 'worker listening' : 'listening',
      );
      return address;
    },
    stop() {
      stopping ??= (async () => {
        // A balancer only sent traffic to an instance that was ready; one still starting needs no grace.
        const readyGraceMs = lifecycle === 'ready' ? config.readyGraceMs : 0;
        lifecycle = 'draining';
        admission.close();
        logger.info(readyGraceMs > 0 ? { readyGraceMs } : {}, 'draining');
        await drain(
          server,
          sockets,
          {
            async stopSources() {
              for (const source of [...sources].reverse()) await source.stop();
            },
            completeSubscriptions: () => engine.endAll(),
            async closeConnections() {
              singleConnection.endAll();
              for (const streams of httpStreams) streams.endAll();
              await Promise.all(wsEndpoints.map(closeEndpoint));
            },
            forceClose() {
              for (const endpoint of wsEndpoints) for (const ws of endpoint.wss.clients) ws.terminate();
            },
            async release() {
              monitor.stop();
              graphqlWs.stop();
              for (const streams of httpStreams) streams.stop();
              engine.stop();
              streams.stop();
              await directory.stop();
              await bus.stop();
            },
          },
          { timeoutMs: config.shutdownTimeoutMs, readyGraceMs, logger },
        );
        lifecycle = 'stopped';
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}

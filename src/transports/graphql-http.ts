import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from '../config.ts';
import type { Logger } from '../ops/logger.ts';
import type { GraphQLContext } from '../schema/index.ts';
import { getSchema } from '../schema/index.ts';
import type { ChainState } from '../streams/state.ts';
import type { Streams, Transport } from '../streams/index.ts';
import { useCursorExtension, useGraphQLSSESingleConnection, useSseEventIds } from './sse.ts';
import type { HttpGate } from './http-gate.ts';
import type { IncomingMessage } from 'node:http';
import { graphqlLimitPlugins } from '../security/graphql-limits.ts';
import type { Principal } from '../security/auth.ts';

export const GRAPHQL_PATH = '/graphql';
export const GRAPHQL_SSE_PATH = '/graphql/stream';

/**
 * What a new user sees first in GraphiQL: two live streams, each selecting only the fields it needs. ▶ offers both;
 * the second shows a server-side filter and resume by cursor (`after`), the way the client kit resumes.
 */
export const GRAPHIQL_DEFAULT_DOCUMENT = `# Live chain metrics, once a second.
# Select only the fields you need.
subscription LiveMetrics {
  metrics {
    timestamp
    tps
    errorRate
    connections
  }
}

# Only FAILED transactions: filtered on the server.
# Resume: put a cursor in Variables as
#   {"after": "<cursor>"}
# and run again: every event after it first (none
# missed while you were away), then live ones.
# Also try filter: {address: ["0x…"]} and replay: 20.
subscription FailedTransactions($after: String) {
  transactions(
    filter: { status: [FAILED] }
    after: $after
  ) {
    seq
    cursor
    timestamp
    txHash
    from
    to
    value
    status
  }
}

# More streams: validators, consensus, network.
# Ctrl-Space suggests fields; the Docs pane has them all.
`;

export interface ServerContext {
  /** Set by transports that run operations outside yoga's own HTTP handling. */
  transport?: Transport;
  /** The verified token's principal, when graphql-ws authenticated the connection. */
  principal?: Principal | undefined;
  /** Node's request, which yoga's Node adapter passes along for HTTP. */
  req?: IncomingMessage;
}

export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

/**
 * yoga serves GraphQL over HTTP, SSE on `/graphql` (graphql-sse "distinct
 * connections" mode) and graphql-sse single-connection mode on
 * `/graphql/stream`. graphql-ws reuses its envelope (see graphql-ws.ts).
 */
export function createGraphQLHttp(deps: {
  config: Config;
  streams: Streams;
  state: ChainState;
  logger: Logger;
  authRequired: boolean;
  gate: HttpGate;
}): Yoga {
  const { config, streams, state, logger, authRequired, gate } = deps;
  // The GraphiQL page inlines ~9 MB of assets so it works offline; render it once.
  const graphiqlPages = new Map<string, string>();
  return createYoga<ServerContext, GraphQLContext>({
    schema: getSchema(),
    graphqlEndpoint: GRAPHQL_PATH,
    healthCheckEndpoint: '/yoga-health-unused',
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug({ args }, 'yoga'),
      info: (...args) => logger.info({ args }, 'yoga'),
      warn: (...args) => logger.warn({ args }, 'yoga'),
      error: (...args) => logger.error({ args }, 'yoga'),
    },
    maskedErrors: config.nodeEnv === 'production',
    cors: { origin: [...config.corsOrigins], credentials: true },
    graphiql: config.graphiql
      ? {
          title: 'aurigraph-realtime GraphiQL',
          subscriptionsProtocol: 'WS',
          defaultQuery: GRAPHIQL_DEFAULT_DOCUMENT,
        }
      : false,
    renderGraphiQL: (options) => {
      const key = JSON.stringify(options ?? {});
      let page = graphiqlPages.get(key);
      if (!page) {
        page = renderGraphiQL(options);
        graphiqlPages.set(key, page);
      }
      return page;
    },
    context: (initial): GraphQLContext => ({
      streams,
      state,
      // Over plain HTTP, subscriptions can only stream as SSE (or multipart, counted alike).
      transport: initial.transport ?? 'sse',
      limits: { metricsIntervalMs: config.metricsIntervalMs, replayBufferSize: config.replay.bufferSize },
      authRequired,
      principal: initial.principal ?? (initial.req ? gate.principalOf(initial.req) : undefined),
      lastEventId: initial.transport ? undefined : (initial.request.headers.get('last-event-id') ?? undefined),
    }),
    plugins: [
      ...graphqlLimitPlugins(config.graphql),
      useGraphQLSSESingleConnection(GRAPHQL_SSE_PATH),
      useCursorExtension(),
      useSseEventIds(),
    ],
  });
}

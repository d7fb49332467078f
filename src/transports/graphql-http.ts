import { GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.ts';
import type { Envelope } from '../engine/operations.ts';
import { RealtimeError, toClientError } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import type { GraphQLContext } from '../schema/index.ts';
import { getSchema } from '../schema/index.ts';
import type { Principal } from '../security/auth.ts';
import { graphqlLimitPlugins } from '../security/graphql-limits.ts';
import type { Streams } from '../streams/index.ts';

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

# More streams: validators, consensus, network, blocks.
# Ctrl-Space suggests fields; the Docs pane has them all.
`;

/** What yoga's Node adapter hands the context factory. */
interface ServerContext {
  req?: IncomingMessage;
}

export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

/**
 * Subscriptions stream through the delivery engine (SSE, WebSocket); yoga
 * answers only single results, so it refuses a subscription plainly instead of
 * streaming nothing.
 */
function useSingleResultsOnly(): Plugin {
  return {
    onSubscribe({ setResultAndStopExecution }) {
      setResultAndStopExecution({
        errors: [
          new GraphQLError('subscriptions stream over SSE (Accept: text/event-stream) or WebSocket (graphql-ws) on /graphql', {
            extensions: { code: 'NOT_ACCEPTABLE', http: { status: 406 } },
          }),
        ],
      });
    },
  };
}

/**
 * yoga serves GraphQL queries over HTTP (GET and POST, JSON). Its envelope (parse and validate with every operation limit) is also
 * what the operation runner uses on every other transport.
 */
export function createGraphQLHttp(deps: {
  config: Pick<Config, 'production' | 'graphql' | 'corsOrigins' | 'metricsIntervalMs' | 'replay'>;
  streams: Streams;
  logger: Logger;
  authRequired: boolean;
  principalOf(request: IncomingMessage): Principal | undefined;
}): Yoga {
  const { config, streams, logger, authRequired } = deps;
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
    // The one masking rule (errors.ts); yoga keeps its `http` extension internally and never sends it.
    maskedErrors: {
      maskError(error) {
        if (error instanceof GraphQLError && !(error.originalError instanceof Error && !(error.originalError instanceof GraphQLError)))
          return error;
        const formatted = toClientError(error, { production: config.production });
        const http = error instanceof GraphQLError ? error.extensions['http'] : undefined;
        return new GraphQLError(formatted.message, {
          ...(error instanceof GraphQLError && { nodes: error.nodes ?? null, path: error.path ?? null }),
          extensions: { ...formatted.extensions, ...(http ? { http } : {}) },
          originalError: error instanceof RealtimeError ? error : undefined,
        });
      },
    },
    cors: { origin: [...config.corsOrigins], credentials: true },
    // GraphiQL is served as separate cached assets (graphiql.ts), not by yoga.
    graphiql: false,
    context: (initial): GraphQLContext => ({
      streams,
      principal: initial.req ? deps.principalOf(initial.req) : undefined,
      authRequired,
      limits: { metricsIntervalMs: config.metricsIntervalMs, replayBufferSize: config.replay.bufferSize },
    }),
    plugins: [...graphqlLimitPlugins(config.graphql), useSingleResultsOnly()],
  });
}

/** yoga's parse and validate, with every operation limit, for the operation runner. */
export function envelopeOf(yoga: Yoga): () => Envelope {
  return () => {
    const { parse, validate, schema } = yoga.getEnveloped({});
    return {
      schema,
      parse: (source) => parse(source),
      validate: (document) => validate(schema, document),
    };
  };
}

import { createSourceEventStream, GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.ts';
import type { BroadcastTracker } from '../ops/broadcast.ts';
import type { Logger } from '../ops/logger.ts';
import { RealtimeError } from '../errors.ts';
import type { Authenticator, Principal } from '../security/auth.ts';
import { startHeartbeat } from './heartbeat.ts';
import { createSharedExecution, sharedStreamOf } from './shared-execution.ts';
import type { Yoga } from './graphql-http.ts';
import type { WebSocketEndpoint } from './upgrade.ts';

type Enveloped = ReturnType<Yoga['getEnveloped']>;
interface RootValue {
  execute: Enveloped['execute'];
  subscribe: Enveloped['subscribe'];
}

/** What graphql-ws hands to every callback as `ctx.extra`. */
interface Extra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
}

export interface GraphQLWsEndpoint extends WebSocketEndpoint {
  /** Connections closed with a protocol or limit error, by close code. */
  readonly terminated: ReadonlyMap<string, number>;
}

/** Close codes that mean the server ended the connection over the client's behaviour. */
const isTermination = (code: number | undefined) => code !== undefined && (code === 1009 || code === 1011 || code >= 4000);

/** Documented close codes (README, Security). */
export const GRAPHQL_WS_CLOSE = {
  /** Missing or invalid token at connection_init, or the token expired on an open connection. */
  FORBIDDEN: 4403,
  /** More messages per second than WS_MESSAGE_RATE allows. */
  TOO_MANY_MESSAGES: 4429,
} as const;

/** Per-socket state kept beside graphql-ws's own. */
interface ConnectionState {
  principal: Principal | undefined;
  operations: Set<string>;
  tokens: number;
  refilledAt: number;
  expiry: NodeJS.Timeout | undefined;
}

/** setTimeout holds at most 2^31 − 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * graphql-ws (`graphql-transport-ws` subprotocol) on `/graphql`, running every
 * operation through yoga's envelope so plugins apply on WebSocket exactly as on
 * HTTP. A thin adapter over graphql-ws's protocol core (`makeServer`) rather
 * than its `useServer` starter: one heartbeat timer for all sockets, sends
 * without a promise per message, client errors logged and counted instead of
 * printed to stderr, and the connection-level rules: token at
 * connection_init, expiry, operations per socket, message rate.
 */
export function createGraphQLWsEndpoint(deps: {
  config: Config;
  yoga: Yoga;
  logger: Logger;
  tracker: BroadcastTracker;
  authenticator: Authenticator;
}): GraphQLWsEndpoint {
  const { config, yoga, logger, tracker, authenticator } = deps;
  const { limits } = config;
  const shared =
    config.graphqlWsEngine === 'shared'
      ? createSharedExecution({ config, tracker, logger, maskErrors: config.nodeEnv === 'production' })
      : undefined;
  const states = new WeakMap<WebSocket, ConnectionState>();
  const terminated = new Map<string, number>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.ws.maxMessageBytes,
    perMessageDeflate: false,
  });
  const count = (reason: string) => terminated.set(reason, (terminated.get(reason) ?? 0) + 1);
  const server = makeServer<Record<string, unknown> | undefined, Extra>(
    {
      connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
      execute: (args) => (args.rootValue as RootValue).execute(args),
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args),
      onSubscribe: async (ctx, id, params) => {
        const state = states.get(ctx.extra.socket);
        if (!state) return [new GraphQLError('connection is closing')];
        if (state.operations.size >= limits.maxSubscriptionsPerConnection) {
          return [
            new GraphQLError(`at most ${limits.maxSubscriptionsPerConnection} operations per connection`, {
              extensions: { code: 'RATE_LIMITED' },
            }),
          ];
        }
        const { principal } = state;
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          transport: 'graphql-ws',
          principal,
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(params.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('could not parse the document')];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const operationName = params.operationName ?? null;
        const variableValues = params.variables ?? null;
        const stream = shared && sharedStreamOf(document, operationName);
        let contextValue: unknown;
        const pushSink =
          shared && stream
            ? shared.open(
                {
                  schema,
                  document,
                  operationName,
                  variableValues,
                  // Scope is part of the key: subscribers share results only with peers allowed the same things.
                  key: [params.query, operationName ?? '', JSON.stringify(variableValues), scopeKey(principal)].join('\u0000'),
                },
                stream,
                id,
                ctx.extra.socket,
                () => contextValue,
              )
            : undefined;
        contextValue = await contextFactory(pushSink ? { pushSink } : undefined);
        const args: ExecutionArgs = {
          schema,
          document,
          operationName,
          variableValues,
          contextValue,
          // On the engine path the subscription's source stream is only a lifetime handle that never yields, so
          // graphql's and envelop's per-event result mapping (an iterator wrapper per subscriber) is skipped.
          rootValue: { execute, subscribe: pushSink ? createSourceEventStream : subscribe } as RootValue,
        };
        state.operations.add(id);
        return args;
      },
      onComplete: (ctx, id) => {
        states.get(ctx.extra.socket)?.operations.delete(id);
      },
      onConnect: async (ctx) => {
        const { socket, request } = ctx.extra;
        const state = states.get(socket);
        if (!state) return false;
        const authorization = ctx.connectionParams?.['authorization'];
        try {
          state.principal = await authenticator.verify(typeof authorization === 'string' ? authorization : undefined);
        } catch (error) {
          const reason = error instanceof RealtimeError ? error.message : 'invalid token';
          logger.debug({ transport: 'graphql-ws', reason }, 'connection_init refused');
          count('auth');
          socket.close(GRAPHQL_WS_CLOSE.FORBIDDEN, reason);
          return false;
        }
        const expiresAt = state.principal?.expiresAt;
        if (expiresAt !== undefined) {
          // The client reconnects with a fresh token and resumes by cursor.
          state.expiry = setTimeout(
            () => {
              count('token-expired');
              socket.close(GRAPHQL_WS_CLOSE.FORBIDDEN, 'token expired');
            },
            Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now())),
          );
          state.expiry.unref();
        }
        logger.debug({ transport: 'graphql-ws', remote: request.socket.remoteAddress }, 'connection open');
        return true;
      },
      onClose: (_ctx, code, reason) => {
        logger.debug({ transport: 'graphql-ws', code, reason }, 'connection closed');
        if (isTermination(code)) count(`close-${code}`);
      },
    },
  );
  wss.options.handleProtocols = handleProtocols;
  const heartbeat = startHeartbeat(wss, config.ws.pingIntervalMs, (_socket, reason) => {
    count(reason);
    logger.warn({ transport: 'graphql-ws', reason }, 'peer terminated');
  });

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const state: ConnectionState = {
      principal: undefined,
      operations: new Set(),
      tokens: limits.wsMessageBurst,
      refilledAt: Date.now(),
      expiry: undefined,
    };
    states.set(socket, state);
    heartbeat.track(socket);
    socket.on('error', (error: Error & { code?: string }) => {
      // ws closes the socket itself (1009 for an oversized message, 1002 for a broken frame).
      logger.warn({ transport: 'graphql-ws', code: error.code, err: error.message }, 'client broke the protocol');
    });
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          if (socket.readyState === socket.OPEN) socket.send(data);
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data) => {
            const now = Date.now();
            state.tokens = Math.min(limits.wsMessageBurst, state.tokens + ((now - state.refilledAt) / 1000) * limits.wsMessageRate);
            state.refilledAt = now;
            if (state.tokens < 1) {
              if (socket.readyState === socket.OPEN) {
                count('message-rate');
                logger.warn({ transport: 'graphql-ws', remote: request.socket.remoteAddress }, 'message rate exceeded; closing');
                socket.close(GRAPHQL_WS_CLOSE.TOO_MANY_MESSAGES, 'too many messages');
              }
              return;
            }
            state.tokens -= 1;
            handle(String(data)).catch((error: unknown) => {
              logger.error({ transport: 'graphql-ws', err: error }, 'failed to handle a message');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      clearTimeout(state.expiry);
      states.delete(socket);
      void closed(code, String(reason));
    });
  });

  return {
    wss,
    terminated,
    connections: () => wss.clients.size,
    dispose: async () => {
      heartbeat.stop();
      for (const socket of wss.clients) socket.close(1001, 'Going away');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function scopeKey(principal: Principal | undefined): string {
  return principal ? [...principal.scopes].sort().join(' ') : '';
}

import { createSourceEventStream, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.ts';
import type { BroadcastTracker } from '../ops/broadcast.ts';
import type { Logger } from '../ops/logger.ts';
import { RealtimeError } from '../errors.ts';
import { whenTokenExpires, type Authenticator, type Principal } from '../security/auth.ts';
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
  /** Every subscription iterator started on this socket and not ended yet. */
  iterators: Set<AsyncIterableIterator<unknown>>;
  byId: Map<string, AsyncIterableIterator<unknown>>;
  closed: boolean;
  tokens: number;
  refilledAt: number;
  expiry: NodeJS.Timeout | undefined;
}

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
        // Reserve the slot before any await, so a burst of subscribes in one TCP read cannot overshoot the limit.
        state.operations.add(id);
        const refuse = (errors: readonly GraphQLError[]) => {
          state.operations.delete(id);
          return errors;
        };
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
        let key: string;
        try {
          document = parse(params.query);
          // Operation-limit rules throw from inside validation; they must become an error result, not a 4500 close.
          const errors = validate(schema, document);
          if (errors.length > 0) return refuse(errors);
          key = [params.query, params.operationName ?? '', JSON.stringify(params.variables ?? null), scopeKey(principal)].join('\u0000');
        } catch (error) {
          return refuse([
            error instanceof GraphQLError
              ? error
              : new GraphQLError('the operation could not be checked (too large or too deeply nested)', {
                  extensions: { code: 'BAD_REQUEST' },
                }),
          ]);
        }
        const operationName = params.operationName ?? null;
        const variableValues = params.variables ?? null;
        const stream = shared && sharedStreamOf(document, operationName);
        let contextValue: unknown;
        // Scope is part of the key: subscribers share results only with peers allowed the same things.
        const pushSink =
          shared && stream
            ? shared.open({ schema, document, operationName, variableValues, key }, stream, id, ctx.extra.socket, () => contextValue)
            : undefined;
        contextValue = await contextFactory(pushSink ? { pushSink } : undefined);
        const track = async (args: ExecutionArgs) => {
          let result: unknown;
          try {
            // On the engine path the subscription's source stream is only a lifetime handle that never yields, so
            // graphql's and envelop's per-event result mapping (an iterator wrapper per subscriber) is skipped.
            result = await (pushSink ? createSourceEventStream(args) : subscribe(args));
          } catch (error) {
            // Hostile input (e.g. variables nested deep enough to overflow the stack) is the client's error; it
            // must not close the socket with 4500 and take the connection's other subscriptions with it.
            logger.debug({ transport: 'graphql-ws', err: (error as Error).message }, 'operation could not start');
            return { errors: [new GraphQLError('the operation could not be started', { extensions: { code: 'BAD_REQUEST' } })] };
          }
          if (!isAsyncIterable(result)) return pushSink && shared ? shared.mask(result as ExecutionResult) : result;
          // graphql-ws can lose track of an iterator when an id is completed and reused while still starting; we
          // keep every iterator we started until it ends, and stop the rest when the socket closes.
          const iterator = result as AsyncIterableIterator<unknown>;
          const previous = state.byId.get(id);
          if (previous && previous !== iterator) void previous.return?.();
          state.byId.set(id, iterator);
          state.iterators.add(iterator);
          const end = iterator.return?.bind(iterator);
          iterator.return = (value?: unknown) => {
            state.iterators.delete(iterator);
            if (state.byId.get(id) === iterator) state.byId.delete(id);
            return end ? end(value) : Promise.resolve({ value: undefined, done: true as const });
          };
          if (state.closed) void iterator.return();
          return result;
        };
        const args: ExecutionArgs = {
          schema,
          document,
          operationName,
          variableValues,
          contextValue,
          rootValue: { execute, subscribe: track } as unknown as RootValue,
        };
        return args;
      },
      onComplete: (ctx, id) => {
        const state = states.get(ctx.extra.socket);
        state?.operations.delete(id);
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
          const unavailable = error instanceof RealtimeError && error.code === 'AUTH_UNAVAILABLE';
          logger.debug({ transport: 'graphql-ws', reason }, 'connection_init refused');
          count(unavailable ? 'auth-unavailable' : 'auth');
          // 1013 "try again later" when the keys cannot be fetched: a client should retry, not give up.
          socket.close(unavailable ? 1013 : GRAPHQL_WS_CLOSE.FORBIDDEN, reason);
          return false;
        }
        // The client reconnects with a fresh token and resumes by cursor.
        state.expiry = whenTokenExpires(state.principal, () => {
          count('token-expired');
          socket.close(GRAPHQL_WS_CLOSE.FORBIDDEN, 'token expired');
        });
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
      iterators: new Set(),
      byId: new Map(),
      closed: false,
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
              const message = error instanceof Error ? error.message : String(error);
              // graphql-ws throws for server-to-client message types a client sent (next, connection_ack, …):
              // that is the client breaking the protocol (4400), not a server fault (4500).
              if (message.startsWith('Unexpected message of type')) {
                count('close-4400');
                socket.close(CloseCode.BadRequest, message.slice(0, 120));
                return;
              }
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
      state.closed = true;
      void closed(code, String(reason)).finally(() => {
        for (const iterator of [...state.iterators]) void iterator.return?.();
        state.iterators.clear();
        state.byId.clear();
      });
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

import { GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.ts';
import type { BroadcastTracker } from '../ops/broadcast.ts';
import type { Logger } from '../ops/logger.ts';
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

/**
 * graphql-ws (`graphql-transport-ws` subprotocol) on `/graphql`, running every
 * operation through yoga's envelope so plugins apply on WebSocket exactly as on
 * HTTP. A thin adapter over graphql-ws's protocol core (`makeServer`) rather
 * than its `useServer` starter: one heartbeat timer for all sockets, sends
 * without a promise per message, and client errors logged and counted instead
 * of printed to stderr.
 */
export interface GraphQLWsEndpoint extends WebSocketEndpoint {
  /** Connections closed with a protocol or limit error, by close code. */
  readonly terminated: ReadonlyMap<string, number>;
}

/** Close codes that mean the server ended the connection over the client's behaviour. */
const isTermination = (code: number | undefined) => code !== undefined && (code === 1009 || code === 1011 || code >= 4000);

export function createGraphQLWsEndpoint(deps: {
  config: Config;
  yoga: Yoga;
  logger: Logger;
  tracker: BroadcastTracker;
}): GraphQLWsEndpoint {
  const { config, yoga, logger, tracker } = deps;
  const shared = config.graphqlWsEngine === 'shared' ? createSharedExecution({ config, tracker, logger }) : undefined;
  const terminated = new Map<string, number>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.ws.maxMessageBytes,
    perMessageDeflate: false,
  });
  const count = (reason: string) => terminated.set(reason, (terminated.get(reason) ?? 0) + 1);
  const server = makeServer<Record<string, unknown> | undefined, Extra>(
    {
      execute: (args) => (args.rootValue as RootValue).execute(args),
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args),
      onSubscribe: async (ctx, id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          transport: 'graphql-ws',
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
                  key: `${params.query}\u0000${operationName ?? ''}\u0000${JSON.stringify(variableValues)}`,
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
          rootValue: { execute, subscribe } satisfies RootValue,
        };
        return args;
      },
      onConnect: (ctx) => {
        logger.debug({ transport: 'graphql-ws', remote: ctx.extra.request.socket.remoteAddress }, 'connection open');
        return true;
      },
      onClose: (_ctx, code, reason) => {
        logger.debug({ transport: 'graphql-ws', code, reason }, 'connection closed');
        if (isTermination(code)) count(`close-${code}`);
      },
    },
  );
  wss.options.handleProtocols = handleProtocols;
  const heartbeat = startHeartbeat(wss, config.ws.pingIntervalMs, () => {
    count('missed-pong');
    logger.warn({ transport: 'graphql-ws' }, 'peer missed a pong; terminating');
  });

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
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
            handle(String(data)).catch((error: unknown) => {
              logger.error({ transport: 'graphql-ws', err: error }, 'failed to handle a message');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => void closed(code, String(reason)));
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

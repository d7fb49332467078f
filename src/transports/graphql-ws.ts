import { GraphQLError, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Config } from '../config.ts';
import type { Logger } from '../ops/logger.ts';
import type { Yoga } from './graphql-http.ts';
import type { WebSocketEndpoint } from './upgrade.ts';

type Enveloped = ReturnType<Yoga['getEnveloped']>;
interface RootValue {
  execute: Enveloped['execute'];
  subscribe: Enveloped['subscribe'];
}

/**
 * graphql-ws (`graphql-transport-ws` subprotocol) on `/graphql`, running every
 * operation through yoga's envelope so plugins apply on WebSocket exactly as on HTTP.
 */
export interface GraphQLWsEndpoint extends WebSocketEndpoint {
  /** Connections closed with a protocol or limit error, by close code. */
  readonly terminated: ReadonlyMap<string, number>;
}

/** Close codes that mean the server ended the connection over the client's behaviour. */
const isTermination = (code: number | undefined) => code !== undefined && (code === 1009 || code === 1011 || code >= 4000);

export function createGraphQLWsEndpoint(deps: { config: Config; yoga: Yoga; logger: Logger }): GraphQLWsEndpoint {
  const { config, yoga, logger } = deps;
  const terminated = new Map<string, number>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.ws.maxMessageBytes,
    perMessageDeflate: false,
  });
  const server = useServer(
    {
      execute: (args) => (args.rootValue as RootValue).execute(args),
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
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
        const args: ExecutionArgs = {
          schema,
          document,
          operationName: params.operationName ?? null,
          variableValues: params.variables ?? null,
          contextValue: await contextFactory(),
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
        if (isTermination(code)) terminated.set(`close-${code}`, (terminated.get(`close-${code}`) ?? 0) + 1);
      },
    },
    wss,
    config.ws.pingIntervalMs,
  );
  return {
    wss,
    terminated,
    connections: () => wss.clients.size,
    dispose: async () => {
      await server.dispose();
    },
  };
}

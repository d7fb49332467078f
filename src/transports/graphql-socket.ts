import { GRAPHQL_TRANSPORT_WS_PROTOCOL } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import { GraphQLWsConnection } from './graphql-ws.ts';
import type { OperationSocketDeps } from './operation-socket.ts';
import { SUBSCRIPTIONS_TRANSPORT_WS_PROTOCOL, SubscriptionsTransportWsConnection } from './subscriptions-transport-ws.ts';
import type { WebSocketEndpoint } from './upgrade.ts';

/**
 * GraphQL over WebSocket on `/graphql`, in both protocols clients bring: the
 * subprotocol picks the framing — `graphql-transport-ws` (graphql-ws, preferred
 * when a client offers both) or `graphql-ws` (subscriptions-transport-ws) —
 * and everything behind it is the same. A client offering neither is accepted,
 * then closed 4406, as graphql-ws does. Authentication happens at
 * `connection_init`, not before the handshake.
 */
export function createGraphQLSocketEndpoint(
  deps: OperationSocketDeps & { path: string; maxMessageBytes: number; keepAliveMs: number },
): WebSocketEndpoint & { start(): void; stop(): void } {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: deps.maxMessageBytes,
    perMessageDeflate: false,
    handleProtocols: (protocols) =>
      protocols.has(GRAPHQL_TRANSPORT_WS_PROTOCOL)
        ? GRAPHQL_TRANSPORT_WS_PROTOCOL
        : protocols.has(SUBSCRIPTIONS_TRANSPORT_WS_PROTOCOL)
          ? SUBSCRIPTIONS_TRANSPORT_WS_PROTOCOL
          : false,
  });
  // subscriptions-transport-ws clients drop a connection that sends no `ka` for their timeout (30 s by default).
  const keepAlive = new Set<SubscriptionsTransportWsConnection>();
  let timer: NodeJS.Timeout | undefined;
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const remote = request.socket.remoteAddress;
    if (socket.protocol === GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      new GraphQLWsConnection(socket, remote, deps);
    } else if (socket.protocol === SUBSCRIPTIONS_TRANSPORT_WS_PROTOCOL) {
      new SubscriptionsTransportWsConnection(socket, remote, deps, (connection) => {
        keepAlive.add(connection);
        socket.once('close', () => keepAlive.delete(connection));
      });
    } else {
      deps.counters.terminated('graphql-ws', 'subprotocol');
      socket.close(CLOSE_CODES.SUBPROTOCOL_NOT_ACCEPTABLE, 'Subprotocol not acceptable');
    }
  });
  return {
    name: 'graphql-ws',
    wss,
    matches: (pathname) => pathname === deps.path,
    start() {
      timer ??= setInterval(() => {
        for (const connection of keepAlive) connection.keepAlive();
      }, deps.keepAliveMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

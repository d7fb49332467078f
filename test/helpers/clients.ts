import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket, { type ClientOptions } from 'ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { ApolloClient as ApolloClient3, InMemoryCache as InMemoryCache3 } from 'apollo-client-3/core';
import { WebSocketLink } from 'apollo-client-3/link/ws';
import { SubscriptionClient, type ClientOptions as TransportWsOptions } from 'subscriptions-transport-ws';
import { Client as UrqlClient, subscriptionExchange, type ExecutionResult as UrqlExecutionResult } from '@urql/core';
import type { ServerUrls } from './server.ts';
import { track } from './track.ts';

/**
 * The clients users use, configured as a portal would. Every client made here
 * is disposed when the test (or suite scope) that made it ends; disposing it
 * earlier by hand is fine.
 */

type WsClientOptions = Partial<Parameters<typeof createWsClient>[0]>;

/** A `ws` class that always sends these headers / TLS options, for clients that construct the socket themselves. */
export function webSocketWith(options: ClientOptions): typeof WebSocket {
  return class extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols ?? [], options);
    }
  } as unknown as typeof WebSocket;
}

/** A graphql-ws client on the `ws` implementation: lazy, no retries. */
export function graphqlWsClient(server: ServerUrls, options: WsClientOptions = {}): WsClient {
  return track(
    createWsClient({
      url: server.ws('/graphql'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      ...options,
    }),
  );
}

/**
 * A graphql-sse client: distinct connections on `/graphql` by default, single
 * connection on `/graphql/stream`; optionally a bearer token and extra headers.
 */
export function graphqlSseClient(
  server: ServerUrls,
  options: { singleConnection?: boolean; authorization?: string; headers?: Record<string, string> } = {},
): SseClient {
  const singleConnection = options.singleConnection ?? false;
  return track(
    createSseClient({
      url: server.http(singleConnection ? '/graphql/stream' : '/graphql'),
      singleConnection,
      retryAttempts: 0,
      headers: {
        ...options.headers,
        ...(options.authorization !== undefined && { authorization: options.authorization }),
      },
    }),
  );
}

export interface GraphQLWsConnection {
  readonly client: WsClient;
  /** Resolves once the server acknowledged connection_init. */
  readonly acknowledged: Promise<void>;
  /** Resolves with the close code and reason once the socket closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly closeInfo: { code: number; reason: string } | undefined;
  dispose(): Promise<void>;
}

/**
 * A graphql-ws connection opened at once (non-lazy, no retries) that puts
 * `authorization` in connectionParams, as a portal would, and reports the
 * close code.
 */
export function graphqlWsConnection(
  server: ServerUrls,
  options: { authorization?: string; connectionParams?: Record<string, unknown>; ws?: ClientOptions; url?: string } = {},
): GraphQLWsConnection {
  let closeInfo: { code: number; reason: string } | undefined;
  let acknowledge!: () => void;
  let noteClosed!: (info: { code: number; reason: string }) => void;
  const acknowledged = new Promise<void>((resolve) => (acknowledge = resolve));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (noteClosed = resolve));
  const connectionParams = {
    ...options.connectionParams,
    ...(options.authorization !== undefined && { authorization: options.authorization }),
  };
  const client = graphqlWsClient(server, {
    ...(options.url !== undefined && { url: options.url }),
    webSocketImpl: options.ws ? webSocketWith(options.ws) : WebSocket,
    lazy: false,
    connectionParams,
    onNonLazyError: () => {},
    on: {
      connected: () => acknowledge(),
      closed: (event) => {
        const e = event as { code?: number; reason?: string };
        closeInfo ??= { code: e.code ?? -1, reason: String(e.reason ?? '') };
        noteClosed(closeInfo);
      },
    },
  });
  return {
    client,
    acknowledged,
    closed,
    get closeInfo() {
      return closeInfo;
    },
    dispose: () => client.dispose() as Promise<void>,
  };
}

/** Subscribes with a typed document and yields each result. */
export function subscribe<TResult, TVariables extends Record<string, unknown>>(
  client: WsClient | SseClient,
  document: TypedDocumentNode<TResult, TVariables>,
  variables?: TVariables,
): AsyncIterableIterator<FormattedExecutionResult<TResult, unknown>> {
  return (client as WsClient).iterate<TResult>({ query: print(document), ...(variables && { variables }) });
}

/** Apollo Client 4 as a portal would set it up for subscriptions: GraphQLWsLink over graphql-ws, InMemoryCache. */
export function apolloClient(
  server: ServerUrls,
  options: WsClientOptions = {},
): { client: ApolloClient; wsClient: WsClient; dispose(): Promise<void> } {
  const wsClient = graphqlWsClient(server, options);
  const client = new ApolloClient({ link: new GraphQLWsLink(wsClient), cache: new InMemoryCache() });
  return track({
    client,
    wsClient,
    async dispose() {
      client.stop();
      await wsClient.dispose();
    },
  });
}

/** urql (@urql/core) with only a subscriptionExchange forwarding to graphql-ws, as urql's docs show. */
export function urqlClient(
  server: ServerUrls,
  options: WsClientOptions = {},
): { client: UrqlClient; wsClient: WsClient; dispose(): Promise<void> } {
  const wsClient = graphqlWsClient(server, options);
  const client = new UrqlClient({
    url: server.http('/graphql'),
    exchanges: [
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              // graphql-ws may omit `data`; urql's type wants it present (exactOptionalPropertyTypes), the value is the same.
              const unsubscribe = wsClient.subscribe(input, {
                next: (result) => sink.next(result as UrqlExecutionResult),
                error: (error) => sink.error(error),
                complete: () => sink.complete(),
              });
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return { client, wsClient, dispose: () => wsClient.dispose() as Promise<void> };
}

/**
 * The subscriptions-transport-ws client (Apollo's older protocol, what Apollo
 * Client 2/3's WebSocketLink runs on), as a portal would configure it: no
 * reconnects here, so a refusal shows instead of a retry loop.
 */
export function transportWsClient(
  server: ServerUrls,
  options: TransportWsOptions & { webSocketImpl?: typeof WebSocket; path?: string } = {},
): SubscriptionClient {
  const { webSocketImpl = WebSocket, path = '/graphql', ...clientOptions } = options;
  const client = new SubscriptionClient(server.ws(path), { reconnect: false, ...clientOptions }, webSocketImpl);
  return track(client, (c) => c.close(true, true));
}

/** Apollo Client 3 with WebSocketLink over subscriptions-transport-ws, as older portals run it. */
export function apollo3Client(
  server: ServerUrls,
  options: TransportWsOptions = {},
): { client: ApolloClient3<unknown>; subscriptionClient: SubscriptionClient; dispose(): void } {
  const subscriptionClient = transportWsClient(server, options);
  const client = new ApolloClient3({ link: new WebSocketLink(subscriptionClient), cache: new InMemoryCache3() });
  return track({
    client,
    subscriptionClient,
    dispose() {
      client.stop();
      subscriptionClient.close(true, true);
    },
  });
}

/**
 * Apollo Client 4 subscribing over multipart HTTP: HttpLink alone, no
 * WebSocket, as Apollo's docs set it up (the link sends
 * `Accept: multipart/mixed;subscriptionSpec="1.0"` for subscriptions).
 */
export function apolloHttpClient(
  server: ServerUrls,
  options: { authorization?: string; fetch?: typeof fetch } = {},
): { client: ApolloClient; dispose(): void } {
  const link = new HttpLink({
    uri: server.http('/graphql'),
    ...(options.fetch && { fetch: options.fetch }),
    headers: { ...(options.authorization !== undefined && { authorization: options.authorization }) },
  });
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  return track({ client, dispose: () => client.stop() });
}

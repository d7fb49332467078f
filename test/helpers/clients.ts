import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { ApolloClient, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Client as UrqlClient, subscriptionExchange, type ExecutionResult as UrqlExecutionResult } from '@urql/core';
import type { TestServer } from './server.ts';

/** A graphql-ws client as a portal would configure it, on the `ws` implementation. */
export function graphqlWsClient(server: TestServer, options: Partial<Parameters<typeof createWsClient>[0]> = {}): WsClient {
  return createWsClient({
    url: server.ws('/graphql'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    ...options,
  });
}

/** A graphql-sse client: distinct connections on `/graphql` by default, single connection on `/graphql/stream`. */
export function graphqlSseClient(server: TestServer, options: { singleConnection?: boolean } = {}): SseClient {
  const singleConnection = options.singleConnection ?? false;
  return createSseClient({
    url: server.http(singleConnection ? '/graphql/stream' : '/graphql'),
    singleConnection,
    retryAttempts: 0,
  });
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
  server: TestServer,
  options: Partial<Parameters<typeof createWsClient>[0]> = {},
): { client: ApolloClient; wsClient: WsClient; dispose(): Promise<void> } {
  const wsClient = graphqlWsClient(server, options);
  const client = new ApolloClient({ link: new GraphQLWsLink(wsClient), cache: new InMemoryCache() });
  return {
    client,
    wsClient,
    async dispose() {
      client.stop();
      await wsClient.dispose();
    },
  };
}

/** urql (@urql/core) with only a subscriptionExchange forwarding to graphql-ws, as urql's docs show. */
export function urqlClient(
  server: TestServer,
  options: Partial<Parameters<typeof createWsClient>[0]> = {},
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
  return {
    client,
    wsClient,
    async dispose() {
      await wsClient.dispose();
    },
  };
}

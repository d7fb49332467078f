import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
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

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { Client as SseClient } from 'graphql-sse';
import type { Client as WsClient, FormattedExecutionResult } from 'graphql-ws';
import { track } from './track.ts';

/** A running subscription whose results, error and completion a test can inspect at any time. */
export interface Collected<TResult> {
  readonly results: FormattedExecutionResult<TResult, unknown>[];
  /** What the client's sink reported as an error (GraphQL errors array, CloseEvent, Error), if anything. */
  readonly error: unknown;
  readonly completed: boolean;
  /** True once the sink has been closed, by error or completion. */
  readonly ended: boolean;
  /** Unsubscribes (sends `complete` / aborts the request). Idempotent. */
  stop(): void;
}

/**
 * Subscribes through the client's sink API (both graphql-ws and graphql-sse
 * clients share it) and records everything, so tests can `waitFor` facts about
 * the stream while doing something else. Stopped when the test (or suite scope) ends.
 */
export function collect<TResult, TVariables extends Record<string, unknown>>(
  client: WsClient | SseClient,
  document: TypedDocumentNode<TResult, TVariables> | string,
  variables?: TVariables,
  options: { operationName?: string } = {},
): Collected<TResult> {
  const results: FormattedExecutionResult<TResult, unknown>[] = [];
  let error: unknown;
  let completed = false;
  let ended = false;
  const query = typeof document === 'string' ? document : print(document);
  const dispose = (client as WsClient).subscribe<TResult>(
    { query, ...(variables && { variables }), ...(options.operationName !== undefined && { operationName: options.operationName }) },
    {
      next: (value) => {
        results.push(value);
      },
      error: (err) => {
        error = err;
        ended = true;
      },
      complete: () => {
        completed = true;
        ended = true;
      },
    },
  );
  let stopped = false;
  return track({
    results,
    get error() {
      return error;
    },
    get completed() {
      return completed;
    },
    get ended() {
      return ended;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      dispose();
    },
  });
}

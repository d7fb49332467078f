import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { ApolloClient, InMemoryCache } from '@apollo/client';
import { Client as UrqlClient, subscriptionExchange } from '@urql/core';
import { print } from 'graphql';
import {
  createResumableClient,
  type ReplayGap,
  type ResumableClient,
  type ResumableClientOptions,
  type RetryInfo,
} from 'aurigraph-realtime/client';
import { ResumableLink } from 'aurigraph-realtime/client/apollo';
import { resumableForwardSubscription } from 'aurigraph-realtime/client/urql';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { track } from '../helpers/track.ts';

/**
 * Restarts a test server on the port it had: stop (drain), then a new
 * in-process server with the same settings on the same port. The new server
 * has a new history (epoch), so cursors from the old one yield REPLAY_GAP.
 */
export async function restartOnSamePort(
  server: TestServer,
  env: Record<string, string>,
  options: { whileDown?: () => Promise<unknown> } = {},
): Promise<TestServer> {
  await server.stop();
  await options.whileDown?.();
  return startTestServer({ ...env, PORT: String(server.port) });
}

/**
 * The server side of every graphql-ws socket, seen at the HTTP upgrade: a test
 * can cut them (a network drop: the client sees 1006) or close them with any
 * code and reason (a server drain 1001, slow consumer 4008, 'token expired'
 * 4440, try again later 1013) without restarting the server, so the history — and resumption —
 * survive.
 */
export interface SocketControl {
  readonly open: number;
  /** Destroys every graphql-ws TCP socket: no close frame, like a network drop. */
  drop(): number;
  /**
   * Sends a WebSocket close frame with this code and reason on every socket,
   * then ends it. The server's own WebSocket object does not know: it keeps
   * sending events, which the client discards after the close frame — events
   * the client has to get back by resuming.
   */
  closeWith(code: number, reason: string): number;
  dispose(): void;
}

/** Detaches when the test (or suite scope) that made it ends. */
export function controlSockets(server: TestServer, path = '/graphql'): SocketControl {
  const sockets = new Set<Duplex>();
  const onUpgrade = (request: { url?: string }, socket: Duplex) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== path) return;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.app.server.on('upgrade', onUpgrade);
  return track<SocketControl>({
    get open() {
      return sockets.size;
    },
    drop() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      return count;
    },
    closeWith(code, reason) {
      const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
      if (payload.length > 125) throw new Error('close reason too long');
      // FIN + opcode 8 (close); server frames are not masked.
      const frame = Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
      const count = sockets.size;
      for (const socket of sockets) {
        // One write: ws writes whole frames synchronously, so ours cannot land inside one of its frames.
        socket.end(frame);
        setTimeout(() => socket.destroy(), 100).unref();
      }
      return count;
    },
    dispose() {
      server.app.server.off('upgrade', onUpgrade);
    },
  });
}

/** What every client flavour records: the seq of each event the application saw, gaps and retries. */
export interface AppFeed {
  readonly label: string;
  readonly seqs: number[];
  readonly gaps: ReplayGap[];
  readonly retries: RetryInfo[];
  /** Index into `seqs` where each gap was reported. */
  readonly gapAt: number[];
  readonly errors: unknown[];
  readonly completed: boolean;
  readonly kit: ResumableClient;
  stop(): Promise<void>;
}

type SeqResult = Record<string, { seq: number } | null | undefined>;

export type Flavour = 'kit' | 'apollo' | 'urql';
export const FLAVOURS: readonly Flavour[] = ['kit', 'apollo', 'urql'];

/**
 * Subscribes to a typed document through one client flavour using the kit:
 * the bare resumable client, Apollo Client 4 with ResumableLink, or urql with
 * resumableForwardSubscription. `field` is where `seq` sits in `data`.
 * Stopped when the test (or suite scope) ends.
 */
export function appFeed<TResult, TVariables extends Record<string, unknown>>(
  flavour: Flavour,
  server: TestServer,
  document: TypedDocumentNode<TResult, TVariables>,
  field: string,
  options: { variables?: TVariables; kit?: Partial<ResumableClientOptions>; url?: string } = {},
): AppFeed {
  const seqs: number[] = [];
  const gaps: ReplayGap[] = [];
  const gapAt: number[] = [];
  const retries: RetryInfo[] = [];
  const errors: unknown[] = [];
  let completed = false;
  const kit = createResumableClient({
    url: options.url ?? server.ws('/graphql'),
    webSocketImpl: WebSocket,
    backoff: { initialMs: 50, maxMs: 1_000 },
    onGap: (gap) => {
      gaps.push(gap);
      gapAt.push(seqs.length);
    },
    onRetry: (info) => retries.push(info),
    ...options.kit,
  });
  const onData = (data: unknown, resultErrors?: unknown) => {
    if (resultErrors) errors.push(resultErrors);
    const item = (data as SeqResult | null | undefined)?.[field];
    if (item) seqs.push(item.seq);
  };
  const sink = {
    error: (error: unknown) => errors.push(error),
    complete: () => {
      completed = true;
    },
  };
  let stop: () => Promise<void>;
  if (flavour === 'kit') {
    const subscription = kit.resumable<TResult>(
      { query: print(document), ...(options.variables && { variables: options.variables }) },
      { next: (result) => onData(result.data, result.errors), ...sink },
    );
    stop = async () => {
      subscription.unsubscribe();
      await kit.dispose();
    };
  } else if (flavour === 'apollo') {
    const client = new ApolloClient({ link: new ResumableLink(kit), cache: new InMemoryCache() });
    const subscription = client
      .subscribe({ query: document, variables: options.variables } as ApolloClient.SubscribeOptions<TResult, TVariables>)
      .subscribe({ next: (result) => onData(result.data, result.error), ...sink });
    stop = async () => {
      subscription.unsubscribe();
      client.stop();
      await kit.dispose();
    };
  } else {
    const client = new UrqlClient({
      url: server.http('/graphql'),
      exchanges: [subscriptionExchange({ forwardSubscription: resumableForwardSubscription(kit) })],
    });
    const subscription = client
      .subscription(document, (options.variables ?? {}) as TVariables)
      .subscribe((result) => onData(result.data, result.error));
    stop = async () => {
      subscription.unsubscribe();
      await kit.dispose();
    };
  }
  return track<AppFeed>({
    label: flavour,
    seqs,
    gaps,
    gapAt,
    retries,
    errors,
    get completed() {
      return completed;
    },
    kit,
    stop,
  });
}

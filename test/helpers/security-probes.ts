import type { IncomingHttpHeaders } from 'node:http';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import WebSocket, { type ClientOptions } from 'ws';
import { waitFor } from './wait.ts';

/**
 * Probes for the security tests: WebSocket upgrades whose HTTP refusal we
 * want to read, graphql-ws and graphql-sse clients that carry a bearer token
 * and arbitrary headers (Origin, X-Forwarded-For), raw SSE over fetch, and a
 * control subscription that proves a well-behaved client lost nothing.
 */

export interface Urls {
  http(path?: string): string;
  ws(path?: string): string;
}

export const GRAPHQL_WS_PROTOCOL = 'graphql-transport-ws';

export interface UpgradeOutcome {
  /** 101 when the handshake completed, else the HTTP status of the refusal. */
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
  /** The open socket when the handshake completed (the caller closes it). */
  socket?: WebSocket;
}

/** Attempts a WebSocket upgrade and reports how the server answered, before or after the handshake. */
export function tryUpgrade(
  url: string,
  options: { protocol?: string; headers?: Record<string, string>; ws?: ClientOptions; timeoutMs?: number } = {},
): Promise<UpgradeOutcome> {
  const ws = new WebSocket(url, options.protocol === undefined ? [] : [options.protocol], {
    ...options.ws,
    headers: { ...options.ws?.headers, ...options.headers },
  });
  return new Promise<UpgradeOutcome>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade of ${url} within ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    ws.once('unexpected-response', (request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        clearTimeout(timer);
        request.destroy();
        resolve({ status: response.statusCode ?? -1, body, headers: response.headers });
      });
      response.on('error', () => {});
    });
    ws.once('upgrade', (response) => {
      ws.once('open', () => {
        clearTimeout(timer);
        resolve({ status: 101, body: '', headers: response.headers, socket: ws });
      });
    });
    ws.on('error', (error) => {
      if (ws.readyState === WebSocket.OPEN) return;
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Closes whatever socket an upgrade outcome holds. */
export function closeOutcome(outcome: UpgradeOutcome | undefined): void {
  outcome?.socket?.terminate();
}

/** A `ws` class that always sends these headers / TLS options, for clients that construct the socket themselves. */
export function webSocketWith(options: ClientOptions): typeof WebSocket {
  return class extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols ?? [], options);
    }
  } as unknown as typeof WebSocket;
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
 * A graphql-ws client (non-lazy, no retries) that puts `authorization` in
 * connectionParams, as a portal would, and reports the close code.
 */
export function graphqlWsConnect(
  server: Urls,
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
  const client = createWsClient({
    url: options.url ?? server.ws('/graphql'),
    webSocketImpl: options.ws ? webSocketWith(options.ws) : WebSocket,
    lazy: false,
    retryAttempts: 0,
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

/** A graphql-sse client with a bearer token and extra headers. */
export function graphqlSseClientWith(
  server: Urls,
  options: { authorization?: string; headers?: Record<string, string>; singleConnection?: boolean } = {},
): SseClient {
  const singleConnection = options.singleConnection ?? false;
  return createSseClient({
    url: server.http(singleConnection ? '/graphql/stream' : '/graphql'),
    singleConnection,
    retryAttempts: 0,
    headers: {
      ...options.headers,
      ...(options.authorization !== undefined && { authorization: options.authorization }),
    },
  });
}

export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

export interface SseProbe {
  /** The response status (undefined until headers arrived). */
  readonly status: number | undefined;
  readonly headers: Headers | undefined;
  /** A non-streaming response's body (refusals, JSON answers). */
  readonly body: string;
  readonly messages: SseMessage[];
  /** Parsed `data` of `next` messages. */
  readonly results: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] }[];
  readonly ended: boolean;
  /** Resolves once the response head arrived. */
  readonly head: Promise<void>;
  abort(): void;
}

/** Raw SSE on `/graphql` (or another path) with fetch: any headers, any body. */
export function sseProbe(
  url: string,
  request: { query?: string; variables?: Record<string, unknown>; headers?: Record<string, string>; method?: string; body?: string },
): SseProbe {
  const controller = new AbortController();
  const messages: SseMessage[] = [];
  const results: SseProbe['results'] = [];
  let status: number | undefined;
  let headers: Headers | undefined;
  let body = '';
  let ended = false;
  let buffer = '';
  let gotHead!: () => void;
  const head = new Promise<void>((resolve) => (gotHead = resolve));
  const parse = (chunk: string) => {
    buffer += chunk.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let id: string | undefined;
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (id === undefined && event === undefined && data.length === 0) continue;
      const message = { id, event, data: data.join('\n') };
      messages.push(message);
      if ((event === 'next' || event === undefined) && message.data) {
        try {
          results.push(JSON.parse(message.data) as SseProbe['results'][number]);
        } catch {
          // not JSON; kept in messages
        }
      }
    }
  };
  const method = request.method ?? 'POST';
  void (async () => {
    try {
      const response = await fetch(url, {
        method,
        signal: controller.signal,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...request.headers },
        ...(method !== 'GET' && {
          body: request.body ?? JSON.stringify({ query: request.query, ...(request.variables && { variables: request.variables }) }),
        }),
      });
      status = response.status;
      headers = response.headers;
      gotHead();
      const streaming = (response.headers.get('content-type') ?? '').includes('text/event-stream');
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        if (streaming) parse(text);
        else body += text;
      }
    } catch {
      // aborted or reset
    } finally {
      ended = true;
      gotHead();
    }
  })();
  return {
    get status() {
      return status;
    },
    get headers() {
      return headers;
    },
    get body() {
      return body;
    },
    messages,
    results,
    get ended() {
      return ended;
    },
    head,
    abort: () => controller.abort(),
  };
}

/** One event of a control subscription. */
export interface ControlEvent {
  seq: number;
  cursor: string;
}

/**
 * A well-behaved graphql-ws client subscribed to `transactions`, selecting
 * `seq` and `cursor`. `verify()` waits until it has received an event the
 * server published after the call, then checks the sequence is contiguous
 * from its first event: nothing lost, nothing duplicated, nothing reordered,
 * no error, still open.
 */
export interface ControlFeed {
  readonly events: ControlEvent[];
  readonly errors: unknown[];
  readonly ended: boolean;
  readonly connection: GraphQLWsConnection;
  /** Waits for the first event. */
  started(timeoutMs?: number): Promise<void>;
  /** Waits until an event with seq ≥ `seq` arrived, then checks contiguity; returns the number of events. */
  verify(latestSeq: () => number, timeoutMs?: number): Promise<number>;
  dispose(): Promise<void>;
}

export const CONTROL_QUERY = 'subscription Control { transactions { seq cursor txHash } }';

export function startControlFeed(server: Urls, options: { authorization?: string; ws?: ClientOptions } = {}): ControlFeed {
  const connection = graphqlWsConnect(server, options);
  const events: ControlEvent[] = [];
  const errors: unknown[] = [];
  let ended = false;
  const unsubscribe = connection.client.subscribe<{ transactions: ControlEvent }>(
    { query: CONTROL_QUERY },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        const event = result.data?.transactions;
        if (event) events.push({ seq: event.seq, cursor: event.cursor });
      },
      error: (error) => {
        errors.push(error);
        ended = true;
      },
      complete: () => {
        ended = true;
      },
    },
  );
  return {
    events,
    errors,
    get ended() {
      return ended;
    },
    connection,
    async started(timeoutMs = 10_000) {
      await waitFor(() => events.length > 0, { timeoutMs, what: 'the control client to receive its first event' });
    },
    async verify(latestSeq, timeoutMs = 15_000) {
      const target = latestSeq();
      await waitFor(() => ended || (events.at(-1)?.seq ?? 0) >= target, {
        timeoutMs,
        what: `the control client to reach seq ${target} (at ${events.at(-1)?.seq})`,
      });
      const problems = sequenceProblems(events.map((e) => e.seq));
      if (errors.length > 0) throw new Error(`control client got errors: ${JSON.stringify(errors).slice(0, 500)}`);
      if (ended) throw new Error(`control subscription ended (close ${JSON.stringify(connection.closeInfo)})`);
      if (problems) throw new Error(`control client lost or reordered events: ${problems}`);
      return events.length;
    },
    async dispose() {
      unsubscribe();
      await connection.dispose();
    },
  };
}

/** Describes the first problem in a sequence that should be contiguous and increasing, or undefined. */
export function sequenceProblems(seqs: readonly number[]): string | undefined {
  for (let i = 1; i < seqs.length; i++) {
    const previous = seqs[i - 1] as number;
    const next = seqs[i] as number;
    if (next !== previous + 1) return `after seq ${previous} came ${next} (index ${i} of ${seqs.length})`;
  }
  return undefined;
}

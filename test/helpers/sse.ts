import { track } from './track.ts';

/**
 * Server-sent events as tests read them: the one SSE parser, and raw SSE over
 * fetch (any URL, headers and body) that records what came back.
 */

export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** Splits an SSE body into messages as an EventSource would (comments dropped, `data:` lines joined). */
export function createSseParser(onMessage: (message: SseMessage) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
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
      onMessage({ id, event, data: data.join('\n') });
    }
  };
}

/** A GraphQL result as an SSE `next` message carries it. */
export interface SseResult {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, unknown>;
}

export interface SseProbe {
  /** The response status (undefined until headers arrived). */
  readonly status: number | undefined;
  readonly headers: Headers | undefined;
  /** A non-streaming response's body (refusals, JSON answers). */
  readonly body: string;
  readonly messages: SseMessage[];
  /** Parsed `data` of `next` messages. */
  readonly results: SseResult[];
  /** Set once the response ended, was aborted or failed. */
  readonly ended: boolean;
  /** What ended it, if it was not the body's end (an abort, a reset). */
  readonly failure: unknown;
  /** Resolves once the response head arrived (or the request failed). */
  readonly head: Promise<void>;
  /** The `id:` of the last message that had one: what a browser sends back as Last-Event-ID. */
  lastEventId(): string | undefined;
  /** Aborts the request: the connection drops without any goodbye. */
  abort(): void;
}

export interface SseRequest {
  query?: string;
  variables?: Record<string, unknown>;
  headers?: Record<string, string>;
  method?: string;
  /** Sent as is instead of `{query, variables}`. */
  body?: string;
  lastEventId?: string;
  /** Called for every message as it is parsed (after it was recorded). */
  onMessage?: (message: SseMessage) => void;
}

/** Raw SSE with fetch (POST `{query, variables}` with `Accept: text/event-stream` by default); aborted when the test (or suite scope) ends. */
export function sseProbe(url: string, request: SseRequest): SseProbe {
  const controller = new AbortController();
  const messages: SseMessage[] = [];
  const results: SseResult[] = [];
  let status: number | undefined;
  let headers: Headers | undefined;
  let body = '';
  let ended = false;
  let failure: unknown;
  let gotHead!: () => void;
  const head = new Promise<void>((resolve) => (gotHead = resolve));
  const parse = createSseParser((message) => {
    messages.push(message);
    if ((message.event === 'next' || message.event === undefined) && message.data) {
      try {
        results.push(JSON.parse(message.data) as SseResult);
      } catch {
        // not JSON; kept in messages
      }
    }
    request.onMessage?.(message);
  });
  const method = request.method ?? 'POST';
  void (async () => {
    try {
      const response = await fetch(url, {
        method,
        signal: controller.signal,
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          ...(request.lastEventId !== undefined && { 'last-event-id': request.lastEventId }),
          ...request.headers,
        },
        ...(method !== 'GET' && {
          body: request.body ?? JSON.stringify({ query: request.query, ...(request.variables && { variables: request.variables }) }),
        }),
      });
      status = response.status;
      headers = response.headers;
      gotHead();
      const streaming = (response.headers.get('content-type') ?? '').includes('text/event-stream');
      const decoder = new TextDecoder();
      for await (const chunk of (response.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        if (streaming) parse(text);
        else body += text;
      }
    } catch (error) {
      failure = error;
    } finally {
      ended = true;
      gotHead();
    }
  })();
  return track<SseProbe>({
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
    get failure() {
      return failure;
    },
    head,
    lastEventId: () => messages.filter((m) => m.id !== undefined).at(-1)?.id,
    abort: () => controller.abort(),
  });
}

import { track } from './track.ts';

/**
 * Multipart HTTP subscriptions (Apollo's `subscriptionSpec="1.0"`) as tests
 * read them: the one multipart parser, and raw requests over fetch that record
 * every part.
 */

/** Accept header of Apollo Client's HttpLink for a subscription. */
export const MULTIPART_ACCEPT = 'multipart/mixed;subscriptionSpec="1.0", application/json';

/** One part: its headers (lower-case names) and its body parsed as JSON. */
export interface MultipartPart {
  headers: Record<string, string>;
  json: unknown;
}

/**
 * Splits a multipart/mixed body into parts by `boundary` as it streams in:
 * calls `onPart` for each complete part and `onClose` on the closing
 * delimiter (`--boundary--`).
 */
export function createMultipartParser(
  boundary: string,
  onPart: (part: MultipartPart) => void,
  onClose: () => void,
): (chunk: string) => void {
  const delimiter = `--${boundary}`;
  let buffer = '';
  let started = false;
  return (chunk) => {
    buffer += chunk;
    for (;;) {
      const at = buffer.indexOf(delimiter);
      if (at < 0) return;
      const segment = buffer.slice(0, at);
      buffer = buffer.slice(at + delimiter.length);
      if (started) {
        const [head = '', body = ''] = segment.replace(/^\r\n/, '').replace(/\r\n$/, '').split('\r\n\r\n', 2);
        const headers = Object.fromEntries(
          head
            .split('\r\n')
            .filter(Boolean)
            .map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
        );
        onPart({ headers, json: JSON.parse(body) });
      }
      started = true;
      if (buffer.startsWith('--')) return onClose();
    }
  };
}

export interface MultipartProbe {
  readonly status: number | undefined;
  readonly headers: Headers | undefined;
  /** A non-multipart response's body (refusals, plain JSON results). */
  readonly body: string;
  /** Every part's JSON, in order (heartbeats `{}` included). */
  readonly parts: unknown[];
  /** The closing delimiter arrived: the server ended the response properly. */
  readonly closed: boolean;
  /** Set once the response ended, was aborted or failed. */
  readonly ended: boolean;
  readonly head: Promise<void>;
  abort(): void;
}

/** POSTs `{query, variables}` with HttpLink's multipart Accept header and records the parts; aborted when the test ends. */
export function multipartProbe(
  url: string,
  request: { query: string; variables?: Record<string, unknown>; headers?: Record<string, string> },
): MultipartProbe {
  const controller = new AbortController();
  const parts: unknown[] = [];
  let status: number | undefined;
  let headers: Headers | undefined;
  let body = '';
  let closed = false;
  let ended = false;
  let gotHead!: () => void;
  const head = new Promise<void>((resolve) => (gotHead = resolve));
  void (async () => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        signal: controller.signal,
        headers: { 'content-type': 'application/json', accept: MULTIPART_ACCEPT, ...request.headers },
        body: JSON.stringify({ query: request.query, ...(request.variables && { variables: request.variables }) }),
      });
      status = response.status;
      headers = response.headers;
      gotHead();
      const boundary = /boundary="?([^";]+)"?/.exec(response.headers.get('content-type') ?? '')?.[1];
      const parse = boundary
        ? createMultipartParser(
            boundary,
            (part) => parts.push(part.json),
            () => (closed = true),
          )
        : (chunk: string) => (body += chunk);
      const decoder = new TextDecoder();
      for await (const chunk of (response.body ?? []) as unknown as AsyncIterable<Uint8Array>)
        parse(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted or reset: `ended` says so
    } finally {
      ended = true;
      gotHead();
    }
  })();
  return track(
    {
      get status() {
        return status;
      },
      get headers() {
        return headers;
      },
      get body() {
        return body;
      },
      parts,
      get closed() {
        return closed;
      },
      get ended() {
        return ended;
      },
      head,
      abort: () => controller.abort(),
    },
    (probe) => probe.abort(),
  );
}

import WebSocket, { type ClientOptions } from 'ws';

/** Anything that can build URLs for a running server: the in-process TestServer or a ChildServer. */
export interface ServerUrls {
  http(path?: string): string;
  ws(path?: string): string;
}

export interface LegacyFrame {
  /** The frame's payload as text. */
  text: string;
  /** What `ws` reported: true for a binary frame, false for a text frame. */
  binary: boolean;
  /** The payload parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  receivedAt: number;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface LegacyClient {
  readonly ws: WebSocket;
  /** Every frame received, in order. */
  readonly frames: LegacyFrame[];
  /** Resolves once the socket is closed, by either side. */
  readonly closed: Promise<CloseInfo>;
  /** Set once closed. */
  readonly closeInfo: CloseInfo | undefined;
  /** Closes from the client side and resolves once the close completed. */
  close(): Promise<CloseInfo>;
}

/**
 * A plain WebSocket client on a legacy `/ws/<stream>` path, as `wscat` would
 * open it (no subprotocol). Resolves once the handshake completes; rejects when
 * it fails. Records every frame so tests can `waitFor` facts about the stream.
 */
export function openLegacy(server: ServerUrls, path: string, options: ClientOptions = {}): Promise<LegacyClient> {
  const ws = new WebSocket(server.ws(path), options);
  const frames: LegacyFrame[] = [];
  let closeInfo: CloseInfo | undefined;
  const closed = new Promise<CloseInfo>((resolve) => {
    ws.once('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      resolve(closeInfo);
    });
  });
  ws.on('message', (data, isBinary) => {
    const text = Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data as ArrayBuffer).toString();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    frames.push({ text, binary: isBinary, json, receivedAt: Date.now() });
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.off('error', reject);
      // After the handshake, errors surface as a close code; keep them from becoming unhandled.
      ws.on('error', () => {});
      resolve({
        ws,
        frames,
        closed,
        get closeInfo() {
          return closeInfo;
        },
        close() {
          if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
          return closed;
        },
      });
    });
    ws.once('error', reject);
  });
}

/** `seq` of each frame that carries one (frames opened with `?meta=1`). */
export function seqs(frames: readonly LegacyFrame[]): number[] {
  return frames
    .map((frame) => (frame.json as { seq?: unknown } | undefined)?.seq)
    .filter((seq): seq is number => typeof seq === 'number');
}

/** Places where a `?meta=1` client's sequence is not `previous + 1`, as `[previous, next]` pairs. */
export function seqGaps(frames: readonly LegacyFrame[]): [number, number][] {
  const list = seqs(frames);
  const gaps: [number, number][] = [];
  for (let i = 1; i < list.length; i++) {
    const previous = list[i - 1] as number;
    const next = list[i] as number;
    if (next !== previous + 1) gaps.push([previous, next]);
  }
  return gaps;
}

/** What the server answered to an upgrade it refused: status, headers and body. */
export interface RefusedUpgrade {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Attempts a WebSocket upgrade that the server is expected to refuse and
 * resolves with its HTTP answer. Rejects if the handshake succeeds (the socket
 * is then closed) or the connection fails outright.
 */
export function refusedUpgrade(url: string, protocols?: string | string[]): Promise<RefusedUpgrade> {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode ?? -1, headers: response.headers, body });
      });
    });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`upgrade to ${url} succeeded; expected it to be refused`));
    });
    ws.on('error', (error) => reject(error));
  });
}

/** The HTTP status of an upgrade the server is expected to refuse (see refusedUpgrade). */
export async function refusedUpgradeStatus(url: string, protocols?: string | string[]): Promise<number> {
  return (await refusedUpgrade(url, protocols)).status;
}

/**
 * The one error of the server's JSON error body (`{"errors":[{"message","extensions":{"code",…}}]}`),
 * which every HTTP refusal uses, upgrades refused before the handshake included. Throws when the body
 * has another shape.
 */
export function httpErrorOf(body: string): { message: string; code: string; extensions: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`error body is not JSON: ${body.slice(0, 300)}`);
  }
  const errors = (parsed as { errors?: unknown }).errors;
  if (!Array.isArray(errors) || errors.length !== 1) throw new Error(`expected {"errors":[one error]}, got: ${body.slice(0, 300)}`);
  const error = errors[0] as { message?: unknown; extensions?: Record<string, unknown> };
  if (typeof error.message !== 'string' || typeof error.extensions?.['code'] !== 'string') {
    throw new Error(`error without message or extensions.code: ${body.slice(0, 300)}`);
  }
  return { message: error.message, code: error.extensions['code'] as string, extensions: error.extensions };
}

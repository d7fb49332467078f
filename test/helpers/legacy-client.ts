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

/**
 * Attempts a WebSocket upgrade that the server is expected to refuse and
 * resolves with the HTTP status it answered with. Rejects if the handshake
 * succeeds (the socket is then closed) or the connection fails outright.
 */
export function refusedUpgradeStatus(url: string, protocols?: string | string[]): Promise<number> {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (request, response) => {
      response.resume();
      request.destroy();
      resolve(response.statusCode ?? -1);
    });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`upgrade to ${url} succeeded; expected it to be refused`));
    });
    ws.on('error', (error) => reject(error));
  });
}

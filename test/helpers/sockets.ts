import type { IncomingHttpHeaders } from 'node:http';
import WebSocket, { type ClientOptions } from 'ws';
import type { ServerUrls } from './server.ts';
import { seqBreaks } from './sequences.ts';
import { track } from './track.ts';
import { waitFor } from './wait.ts';

/**
 * WebSockets opened with the `ws` library, as `wscat` or a portal would open
 * them: one socket that records every frame (legacy `/ws/<stream>` clients,
 * graphql-transport-ws spoken frame by frame), and upgrades whose HTTP refusal
 * a test wants to read. Every socket opened here is closed when the test (or
 * suite scope) ends.
 */

export const GRAPHQL_WS_PROTOCOL = 'graphql-transport-ws';

export interface Frame {
  /** The frame's payload, byte for byte (binary frames: MessagePack and the like). */
  bytes: Buffer;
  /** The frame's payload as text. */
  text: string;
  /** What `ws` reported: true for a binary frame, false for a text frame. */
  binary: boolean;
  /** The payload parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ClientSocket {
  readonly ws: WebSocket;
  /** Every frame received, in order. */
  readonly frames: Frame[];
  /** Every frame received, parsed when it is JSON, else its text. */
  readonly messages: unknown[];
  /** Resolves once the socket is closed, by either side. */
  readonly closed: Promise<CloseInfo>;
  /** Set once closed. */
  readonly closeInfo: CloseInfo | undefined;
  /** Sends text as is, anything else as JSON. */
  send(frame: string | object): void;
  /** Closes from the client side and resolves once the close completed. */
  close(): Promise<CloseInfo>;
  /** Drops the TCP connection without a close handshake. */
  terminate(): void;
}

/** An upgrade the server refused: its HTTP answer. */
export class UpgradeRefused extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly body: string,
  ) {
    super(`upgrade to ${url} refused with ${status}: ${body.slice(0, 300)}`);
  }
}

/** Reads the body of a refused upgrade (ws's `unexpected-response`). */
function onRefusal(ws: WebSocket, url: string, handle: (refusal: UpgradeRefused) => void): void {
  ws.once('unexpected-response', (request, response) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (body += chunk));
    response.on('error', () => {});
    response.on('end', () => {
      request.destroy();
      handle(new UpgradeRefused(url, response.statusCode ?? -1, response.headers, body));
    });
  });
}

/**
 * Opens a socket and resolves once the handshake completes; rejects with
 * UpgradeRefused when the server answers the upgrade with an HTTP error, or
 * with the connection error.
 */
export function openSocket(url: string, options: { protocols?: string | string[]; ws?: ClientOptions } = {}): Promise<ClientSocket> {
  const ws = new WebSocket(url, options.protocols ?? [], options.ws);
  const frames: Frame[] = [];
  const messages: unknown[] = [];
  let closeInfo: CloseInfo | undefined;
  const closed = new Promise<CloseInfo>((resolve) => {
    ws.once('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      resolve(closeInfo);
    });
  });
  ws.on('message', (data, isBinary) => {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const text = bytes.toString();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    frames.push({ bytes, text, binary: isBinary, json });
    messages.push(json === undefined ? text : json);
  });
  const socket: ClientSocket = {
    ws,
    frames,
    messages,
    closed,
    get closeInfo() {
      return closeInfo;
    },
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
      return closed;
    },
    terminate: () => ws.terminate(),
  };
  return new Promise((resolve, reject) => {
    onRefusal(ws, url, reject);
    ws.once('open', () => {
      ws.off('error', reject);
      // Errors after the handshake surface as a close code; keep them from becoming unhandled.
      ws.on('error', () => {});
      resolve(track(socket, (s) => s.terminate()));
    });
    ws.once('error', reject);
  });
}

/** A plain WebSocket on a legacy `/ws/<stream>` path (no subprotocol). */
export function openLegacy(server: ServerUrls, path: string, options: ClientOptions = {}): Promise<ClientSocket> {
  return openSocket(server.ws(path), { ws: options });
}

/** A socket for speaking (and mis-speaking) graphql-transport-ws frame by frame; `protocols` null offers none. */
export function openRawSocket(url: string, protocols: string | string[] | null = GRAPHQL_WS_PROTOCOL): Promise<ClientSocket> {
  return openSocket(url, protocols === null ? {} : { protocols });
}

/** Messages of one graphql-transport-ws type. */
export function messagesOfType(socket: ClientSocket, type: string): Record<string, unknown>[] {
  return socket.messages.filter(
    (m): m is Record<string, unknown> => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type,
  );
}

/** An acknowledged graphql-transport-ws socket (connection_init sent, connection_ack received). */
export async function acknowledgedSocket(server: ServerUrls, payload?: Record<string, unknown>): Promise<ClientSocket> {
  const socket = await openRawSocket(server.ws('/graphql'));
  socket.send({ type: 'connection_init', ...(payload && { payload }) });
  await waitFor(() => messagesOfType(socket, 'connection_ack').length === 1 || socket.closeInfo, { what: 'connection_ack' });
  return socket;
}

/** Resolves once `socket` received `count` more frames than it has now. */
export function receivesMore(socket: ClientSocket, count: number, what: string): Promise<true> {
  const target = socket.frames.length + count;
  return waitFor(() => socket.frames.length >= target, { timeoutMs: 15_000, what });
}

/** `seq` of each legacy frame that carries one (sockets opened with `?meta=1`). */
export function seqs(frames: readonly Frame[]): number[] {
  return frames.map((frame) => (frame.json as { seq?: unknown } | undefined)?.seq).filter((seq): seq is number => typeof seq === 'number');
}

/** Places where a `?meta=1` client's sequence is not `previous + 1`, as `[previous, next]` pairs. */
export const seqGaps = (frames: readonly Frame[]): [number, number][] => seqBreaks(seqs(frames));

export interface UpgradeOutcome {
  /** 101 when the handshake completed, else the HTTP status of the refusal. */
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
  /** The open socket when the handshake completed (closed when the test ends). */
  socket?: WebSocket;
}

/** Attempts a WebSocket upgrade and reports how the server answered, before or after the handshake. */
export function tryUpgrade(
  url: string,
  options: { protocol?: string | string[]; headers?: Record<string, string>; ws?: ClientOptions; timeoutMs?: number } = {},
): Promise<UpgradeOutcome> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const protocols = options.protocol === undefined ? [] : options.protocol;
  const ws = new WebSocket(url, protocols, { ...options.ws, headers: { ...options.ws?.headers, ...options.headers } });
  return new Promise<UpgradeOutcome>((resolve, reject) => {
    // A hang guard: an upgrade nobody answers is a finding of its own (the fuzz test counts them).
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade of ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    onRefusal(ws, url, (refusal) => {
      clearTimeout(timer);
      resolve({ status: refusal.status, body: refusal.body, headers: refusal.headers });
    });
    ws.once('upgrade', (response) => {
      ws.once('open', () => {
        clearTimeout(timer);
        ws.on('error', () => {});
        resolve({ status: 101, body: '', headers: response.headers, socket: track(ws, (s) => s.terminate()) });
      });
    });
    ws.on('error', (error) => {
      if (ws.readyState === WebSocket.OPEN) return;
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** What the server answered to an upgrade it was expected to refuse; fails when the handshake succeeds. */
export async function refusedUpgrade(url: string, protocols?: string | string[]): Promise<UpgradeOutcome> {
  const outcome = await tryUpgrade(url, protocols === undefined ? {} : { protocol: protocols });
  if (outcome.socket) {
    outcome.socket.terminate();
    throw new Error(`upgrade to ${url} succeeded; expected it to be refused`);
  }
  return outcome;
}

/** The HTTP status of an upgrade the server is expected to refuse (see refusedUpgrade). */
export async function refusedUpgradeStatus(url: string, protocols?: string | string[]): Promise<number> {
  return (await refusedUpgrade(url, protocols)).status;
}

/** A legacy upgrade the server is expected to refuse: its status and body. */
export const refusedLegacy = (server: ServerUrls, path: string) => refusedUpgrade(server.ws(path));

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

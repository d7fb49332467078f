import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.ts';
import { parseBatchSpec } from '../engine/batches.ts';
import type { DeliveryCounters } from '../engine/counters.ts';
import type { DeliveryEngine, DeliveryRequest } from '../engine/engine.ts';
import { createContractRenderer } from '../engine/renderers.ts';
import { RealtimeError } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import { authorizeStream, whenTokenExpires, type Authenticator, type Principal } from '../security/auth.ts';
import { parseStartPosition } from '../streams/position.ts';
import { descriptorOf, isStreamName } from '../streams/registry.ts';
import type { WebSocketEndpoint } from './upgrade.ts';
import { closeWith, type SocketMonitor } from './websocket.ts';

export const LEGACY_PREFIX = '/ws/';

/** Query parameters every legacy path takes besides its stream's filter. */
const COMMON_PARAMS = ['replay', 'since', 'meta', 'encoding', 'access_token'] as const;
/** Batched delivery (chain streams): `batch=<maxEvents>` and `batchMs=<maxDelayMs>`; either one turns it on. */
const BATCH_PARAMS = ['batch', 'batchMs'] as const;

/** How a legacy socket's frames are encoded: the original JSON text, or MessagePack binary frames. */
export type LegacyEncoding = 'json' | 'msgpack';

export interface LegacyRequest {
  delivery: DeliveryRequest;
  meta: boolean;
  encoding: LegacyEncoding;
  principal?: Principal | undefined;
}

/**
 * Parses `/ws/<stream>?…` into what to deliver: filters mirror the GraphQL
 * arguments (from the stream's descriptor), `replay=N` sends the last N first,
 * `since=<cursor>` resumes, `meta=1` adds `seq` and `cursor` to frames,
 * `encoding=msgpack` sends each event as a binary MessagePack frame;
 * `batch=<maxEvents>` and/or `batchMs=<maxDelayMs>` (chain streams) send
 * events in batches, one array of frames per message (the other option
 * takes its default). Returns null for an unknown stream; throws BAD_REQUEST
 * for a bad or unknown parameter, naming the ones allowed.
 */
export function parseLegacyRequest(url: string, limits: { metricsIntervalMs: number; replayBufferSize: number }): LegacyRequest | null {
  const parsed = new URL(url, 'http://localhost');
  const name = parsed.pathname.slice(LEGACY_PREFIX.length);
  if (!parsed.pathname.startsWith(LEGACY_PREFIX) || !isStreamName(name)) return null;
  const stream = descriptorOf(name);
  const query = parsed.searchParams;
  const allowed = [...stream.filterDef.queryParams, ...COMMON_PARAMS, ...(stream.batches ? BATCH_PARAMS : [])];
  for (const key of new Set(query.keys())) {
    if (!allowed.includes(key)) {
      throw new RealtimeError(
        'BAD_REQUEST',
        `unknown query parameter "${key.slice(0, 64)}" on /ws/${name}; allowed: ${allowed.join(', ')}`,
        {
          argument: key.slice(0, 64),
          allowed,
        },
      );
    }
  }
  const filter = stream.filterDef.parse(stream.filterDef.argsFromQuery(query), limits, '');
  const integer = (text: string | null) => (text === null ? undefined : /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN);
  const replay = integer(query.get('replay'));
  const position = parseStartPosition({ after: query.get('since'), replay }, limits, { after: 'since', replay: 'replay' });
  const meta = query.get('meta');
  const encoding = query.get('encoding') ?? 'json';
  if (encoding !== 'json' && encoding !== 'msgpack') {
    throw new RealtimeError('BAD_REQUEST', 'encoding: json (text frames, the default) or msgpack (binary MessagePack frames)', {
      argument: 'encoding',
    });
  }
  const maxEvents = integer(query.get('batch'));
  const maxDelayMs = integer(query.get('batchMs'));
  const batch =
    maxEvents === undefined && maxDelayMs === undefined
      ? undefined
      : parseBatchSpec({ maxEvents, maxDelayMs }, { maxEvents: 'batch', maxDelayMs: 'batchMs' });
  return { delivery: { stream: name, filter, position, batch }, meta: meta === '1' || meta === 'true', encoding };
}

/**
 * Raw JSON over plain WebSocket at `/ws/<stream>`, byte-compatible with the
 * original platform: one text frame per event with exactly the contract's
 * fields (with `?batch=`: one array of such frames per message). A thin framing over the delivery engine: each event is rendered once
 * per stream, filter and framing variant, and every socket gets the same bytes.
 */
export function createLegacyEndpoint(deps: {
  config: Pick<Config, 'ws' | 'metricsIntervalMs' | 'replay'>;
  engine: DeliveryEngine;
  monitor: SocketMonitor;
  counters: DeliveryCounters;
  logger: Logger;
  authenticator: Authenticator;
}): WebSocketEndpoint {
  const { config, engine, monitor, counters, logger, authenticator } = deps;
  const wss = new WebSocketServer({
    noServer: true,
    // Clients have nothing to say here, so the stricter frame limit bounds whole messages too.
    maxPayload: Math.min(config.ws.maxFrameBytes, config.ws.maxMessageBytes),
    perMessageDeflate: config.ws.perMessageDeflate
      ? {
          zlibDeflateOptions: { level: config.ws.deflateLevel },
          threshold: config.ws.deflateThresholdBytes,
          // Without context takeover a socket keeps no zlib window between frames: far less memory per connection.
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
        }
      : false,
  });
  const limits = { metricsIntervalMs: config.metricsIntervalMs, replayBufferSize: config.replay.bufferSize };
  const requests = new WeakMap<IncomingMessage, LegacyRequest>();

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const parsed = requests.get(request);
    if (!parsed) return socket.close(1011, 'request was not routed');
    const { delivery, meta, encoding, principal } = parsed;
    const connection = engine.connect(monitor.watch(socket, 'legacy', { binary: encoding === 'msgpack' }));
    const expiry = whenTokenExpires(principal, () => {
      counters.terminated('legacy', 'token-expired');
      closeWith(socket, new RealtimeError('TOKEN_EXPIRED', 'token expired; reconnect with a fresh token and ?since=<cursor>'));
    });
    // Client frames carry no meaning here; the listener exists only so ws enforces limits and keeps reading.
    socket.on('message', () => {});
    socket.on('error', (error: Error & { code?: string }) => {
      const reason = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too-large' : 'protocol-error';
      counters.terminated('legacy', reason);
      logger.warn({ transport: 'legacy', stream: delivery.stream, reason, err: error.message }, 'client broke the protocol');
    });
    socket.once('close', (code) => {
      clearTimeout(expiry);
      connection.close();
      logger.debug({ transport: 'legacy', stream: delivery.stream, code }, 'connection closed');
    });
    try {
      connection.subscribe(delivery, createContractRenderer(delivery.stream, { meta, encoding }));
    } catch (error) {
      // A fault of ours: an honest 1011 (internal error), never a cut that looks like the network.
      logger.error({ transport: 'legacy', stream: delivery.stream, err: error }, 'failed to start a subscription');
      closeWith(socket, new RealtimeError('INTERNAL', 'internal error'));
      return;
    }
    logger.debug({ transport: 'legacy', stream: delivery.stream, remote: request.socket.remoteAddress }, 'connection open');
  });

  return {
    name: 'legacy',
    wss,
    matches: (pathname) => pathname.startsWith(LEGACY_PREFIX) && isStreamName(pathname.slice(LEGACY_PREFIX.length)),
    async prepare(request) {
      const parsed = parseLegacyRequest(request.url ?? '/', limits);
      if (!parsed) throw new RealtimeError('NOT_FOUND', 'no such stream');
      // Scripts that cannot set headers may pass ?access_token= (it ends up in access logs; prefer the header).
      const token = request.headers.authorization ?? new URL(request.url ?? '/', 'http://localhost').searchParams.get('access_token');
      parsed.principal = await authenticator.verify(token);
      authorizeStream(parsed.principal, authenticator.required, parsed.delivery.stream);
      requests.set(request, parsed);
    },
  };
}

import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.ts';
import { CONTRACT_FIELDS, isStreamName, type StreamName } from '../domain/index.ts';
import type { BroadcastTracker } from '../ops/broadcast.ts';
import type { Logger } from '../ops/logger.ts';
import type { Hubs, StreamItem, SubscribeOptions } from '../streams/index.ts';
import { RealtimeError } from '../errors.ts';
import { authorizeStream, whenTokenExpires, type Authenticator, type Principal } from '../security/auth.ts';
import { filterInputFromQuery, parseFilter } from '../streams/filters.ts';
import { startHeartbeat } from './heartbeat.ts';
import { createSendBudget } from './send-budget.ts';
import type { UpgradeRoute, WebSocketEndpoint } from './upgrade.ts';

export const LEGACY_PREFIX = '/ws/';

/** Close codes a legacy client may see (README, "Legacy endpoints"). */
export const LEGACY_CLOSE = {
  GOING_AWAY: 1001,
  TOO_LARGE: 1009,
  /** Fell too far behind; reconnect with `?since=<cursor>` to resume. */
  SLOW_CONSUMER: 4008,
  /** The token expired; reconnect with a fresh one and `?since=<cursor>`. */
  TOKEN_EXPIRED: 4401,
} as const;

export interface LegacyCounters {
  opened: number;
  closed: number;
  terminated: Map<string, number>;
}

export interface LegacyEndpoint extends WebSocketEndpoint, UpgradeRoute {
  readonly counters: Readonly<LegacyCounters>;
}

interface LegacyRequest {
  stream: StreamName;
  meta: boolean;
  options: SubscribeOptions<StreamName>;
  principal?: Principal | undefined;
}

/**
 * Parses `/ws/<stream>?…` into what to subscribe to: filters mirror the
 * GraphQL arguments, `replay=N` sends the last N first, `since=<cursor>`
 * resumes, `meta=1` adds `seq` and `cursor` to frames. Returns null for an
 * unknown stream; throws BAD_REQUEST for bad parameters.
 */
export function parseLegacyRequest(
  url: string,
  limits: { metricsIntervalMs: number; replayBufferSize: number },
): LegacyRequest | null {
  const parsed = new URL(url, 'http://localhost');
  const name = parsed.pathname.slice(LEGACY_PREFIX.length);
  if (!parsed.pathname.startsWith(LEGACY_PREFIX) || !isStreamName(name)) return null;
  const query = parsed.searchParams;
  const filter = parseFilter(name, filterInputFromQuery(name, query), {
    metricsIntervalMs: limits.metricsIntervalMs,
    argument: name === 'metrics' ? 'intervalMs' : 'query',
  });
  const replayText = query.get('replay');
  let replay: number | undefined;
  if (replayText !== null) {
    replay = /^\d{1,9}$/.test(replayText) ? Number(replayText) : Number.NaN;
    if (!(replay >= 0 && replay <= limits.replayBufferSize)) {
      throw new RealtimeError('BAD_REQUEST', `replay: must be between 0 and ${limits.replayBufferSize}`, { argument: 'replay' });
    }
  }
  const since = query.get('since') ?? undefined;
  if (since !== undefined && replay !== undefined) {
    throw new RealtimeError('BAD_REQUEST', 'since: use either since (resume) or replay (last N), not both', { argument: 'since' });
  }
  const meta = query.get('meta');
  return {
    stream: name,
    meta: meta === '1' || meta === 'true',
    options: { transport: 'legacy', filter, after: since, replay },
  };
}

/**
 * Raw JSON over plain WebSocket at `/ws/<stream>`, byte-compatible with the
 * original platform: one text frame per event with exactly the contract's
 * fields. Each event is serialized once per stream and the same buffer is
 * written to every socket.
 */
export function createLegacyEndpoint(deps: {
  config: Config;
  hubs: Hubs;
  tracker: BroadcastTracker;
  logger: Logger;
  authenticator: Authenticator;
}): LegacyEndpoint {
  const { config, hubs, tracker, logger, authenticator } = deps;
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
  const counters: LegacyCounters = { opened: 0, closed: 0, terminated: new Map() };
  const countTermination = (reason: string) => counters.terminated.set(reason, (counters.terminated.get(reason) ?? 0) + 1);

  // One serialization per event and framing variant, shared by every socket on the stream.
  const plainFrames = new WeakMap<StreamItem, Buffer>();
  const metaFrames = new WeakMap<StreamItem, Buffer>();
  const frameFor = (stream: StreamName, item: StreamItem, meta: boolean): Buffer => {
    const cache = meta ? metaFrames : plainFrames;
    let frame = cache.get(item);
    if (!frame) {
      const fields = meta ? [...CONTRACT_FIELDS[stream], 'seq', 'cursor'] : (CONTRACT_FIELDS[stream] as string[]);
      frame = Buffer.from(JSON.stringify(item, fields as string[]));
      cache.set(item, frame);
    }
    return frame;
  };

  const heartbeat = startHeartbeat(wss, config.ws.pingIntervalMs, (_socket, reason) => {
    countTermination(reason);
    logger.warn({ transport: 'legacy', reason }, 'peer terminated');
  });

  const limits = { metricsIntervalMs: config.metricsIntervalMs, replayBufferSize: config.replay.bufferSize };
  const requests = new WeakMap<IncomingMessage, LegacyRequest>();

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const parsed = requests.get(request);
    if (!parsed) return socket.close(1011, 'request was not routed');
    const { stream, meta, options, principal } = parsed;
    counters.opened++;
    const expiry = whenTokenExpires(principal, () => {
      countTermination('token-expired');
      socket.close(LEGACY_CLOSE.TOKEN_EXPIRED, 'token expired');
    });
    logger.debug({ transport: 'legacy', stream, remote: request.socket.remoteAddress }, 'connection open');

    const budget = createSendBudget(socket, config.ws.maxBufferedBytes);
    const send = (item: StreamItem, history = false) => {
      if (socket.readyState !== socket.OPEN) return;
      if (budget.exhausted(history)) {
        // Metrics snapshots supersede each other: skip one. Other streams must not skip silently.
        if (stream === 'metrics') {
          tracker.dropped(stream, 'legacy', 'slow-consumer');
          return;
        }
        countTermination('slow-consumer');
        logger.warn({ transport: 'legacy', stream, buffered: socket.bufferedAmount }, 'slow consumer; closing');
        socket.close(LEGACY_CLOSE.SLOW_CONSUMER, 'slow consumer; reconnect with ?since=<cursor>');
        attachment.detach();
        return;
      }
      const frame = frameFor(stream, item, meta);
      budget.sent(frame.length, history);
      socket.send(frame, { binary: false });
      tracker.delivered(stream, item, 'legacy');
    };

    const hub = hubs[stream] as Hubs[StreamName];
    const attachment = (hub.attach as (o: typeof options, d: (item: StreamItem) => void) => ReturnType<typeof hub.attach>)(
      options,
      (item) => send(item),
    );
    if (attachment.gap) {
      // Legacy frames have no error channel; resuming clients (who use meta=1) get one explicit notice.
      const { code, message, details } = attachment.gap;
      socket.send(JSON.stringify({ error: { code, message, ...details } }));
    }
    for (const item of attachment.backlog) send(item, true);

    heartbeat.track(socket);
    // Client frames carry no meaning here; the listener exists only so ws enforces limits and keeps reading.
    socket.on('message', () => {});
    socket.on('error', (error: Error & { code?: string }) => {
      const reason = error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too-large' : 'protocol-error';
      countTermination(reason);
      logger.warn({ transport: 'legacy', stream, reason, err: error.message }, 'client broke the protocol');
    });
    socket.once('close', (code) => {
      clearTimeout(expiry);
      attachment.detach();
      counters.closed++;
      logger.debug({ transport: 'legacy', stream, code }, 'connection closed');
    });
  });

  const self: LegacyEndpoint = {
    wss,
    counters,
    connections: () => wss.clients.size,
    async match(pathname, request) {
      if (!pathname.startsWith(LEGACY_PREFIX) || !isStreamName(pathname.slice(LEGACY_PREFIX.length))) return undefined;
      try {
        const parsed = parseLegacyRequest(request.url ?? '/', limits);
        if (!parsed) return undefined;
        // Scripts that cannot set headers may pass ?access_token= (it ends up in access logs; prefer the header).
        const token = request.headers.authorization ?? new URL(request.url ?? '/', 'http://localhost').searchParams.get('access_token');
        parsed.principal = await authenticator.verify(token);
        authorizeStream(parsed.principal, authenticator.required, parsed.stream);
        requests.set(request, parsed);
        return self;
      } catch (error) {
        if (error instanceof RealtimeError) return error;
        throw error;
      }
    },
    async dispose() {
      heartbeat.stop();
      for (const socket of wss.clients) socket.close(LEGACY_CLOSE.GOING_AWAY, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  return self;
}

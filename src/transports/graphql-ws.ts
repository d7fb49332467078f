import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType, parseMessage, type Message, type SubscribeMessage } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { DeliveryCounters } from '../engine/counters.ts';
import type { DeliveryEngine, EngineConnection, Subscription } from '../engine/engine.ts';
import { parseOperationParams, type OperationParams, type OperationRunner } from '../engine/operations.ts';
import { createGraphQLRenderer } from '../engine/renderers.ts';
import { RealtimeError, toClientError, truncateReason } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import { whenTokenExpires, type Authenticator, type Principal } from '../security/auth.ts';
import { TokenBucket } from '../security/token-bucket.ts';
import type { WebSocketEndpoint } from './upgrade.ts';
import type { SocketMonitor } from './websocket.ts';

export interface GraphQLWsLimits {
  maxSubscriptionsPerConnection: number;
  wsMessageRate: number;
  wsMessageBurst: number;
  connectionInitTimeoutMs: number;
}

export interface GraphQLWsDeps {
  runner: OperationRunner;
  engine: DeliveryEngine;
  monitor: SocketMonitor;
  counters: DeliveryCounters;
  authenticator: Authenticator;
  logger: Logger;
  limits: GraphQLWsLimits;
  production: boolean;
}

interface Operation {
  subscription: Subscription | undefined;
  /** The client completed it (or the socket closed) while it was still being prepared. */
  cancelled: boolean;
}

/** Message types only a server may send: a client sending them breaks the protocol. */
const SERVER_ONLY = new Set<string>([MessageType.ConnectionAck, MessageType.Next, MessageType.Error]);

/**
 * One graphql-ws (`graphql-transport-ws`) connection: a small object with a
 * handler per message type, over the protocol's own message validator
 * (graphql-ws's `parseMessage`). Operations run through the operation runner
 * and subscriptions through the delivery engine, which writes each `next`
 * frame from its fan-out (the group's shared payload with this operation's id
 * spliced in). The connection enforces the protocol's rules (init timeout,
 * one init, ack before subscribe, unique ids) and ours (token, expiry,
 * operations per connection, message rate).
 */
export class GraphQLWsConnection {
  private initReceived = false;
  private acknowledged = false;
  private principal: Principal | undefined;
  private closed = false;
  private readonly operations = new Map<string, Operation>();
  private readonly bucket: TokenBucket;
  /** Messages refused in a row for exceeding the rate; past the burst the client is flooding and is closed. */
  private refusedInARow = 0;
  private readonly delivery: EngineConnection;
  private initTimer: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;

  /**
   * @param remoteAddress the peer, for logs. The upgrade request itself is not
   * kept: an idle connection should cost as little as possible.
   */
  constructor(
    private readonly socket: WebSocket,
    private readonly remoteAddress: string | undefined,
    private readonly deps: GraphQLWsDeps,
  ) {
    const { limits } = deps;
    this.bucket = new TokenBucket(limits.wsMessageRate, limits.wsMessageBurst, Date.now());
    this.delivery = deps.engine.connect(deps.monitor.watch(socket, 'graphql-ws'));
    this.initTimer = setTimeout(() => {
      if (!this.initReceived) this.terminate('init-timeout', CLOSE_CODES.INIT_TIMEOUT, 'Connection initialisation timeout');
    }, limits.connectionInitTimeoutMs).unref();
    socket.on('message', (data) => this.handleMessage(String(data)));
    socket.on('error', (error: Error & { code?: string }) => {
      // ws closes the socket itself (1009 for an oversized message, 1002 for a broken frame).
      deps.counters.terminated('graphql-ws', error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too-large' : 'protocol-error');
      deps.logger.warn({ transport: 'graphql-ws', code: error.code, err: error.message }, 'client broke the protocol');
    });
    socket.once('close', () => this.handleClose());
  }

  /** Live operations on this connection. */
  get size(): number {
    return this.operations.size;
  }

  private handleMessage(data: string): void {
    let message: Message;
    try {
      message = parseMessage(data);
    } catch (error) {
      this.terminate('bad-message', CLOSE_CODES.BAD_REQUEST, (error as Error).message);
      return;
    }
    if (SERVER_ONLY.has(message.type)) {
      this.terminate('bad-message', CLOSE_CODES.BAD_REQUEST, `Unexpected message of type ${message.type} received`);
      return;
    }
    // Over the rate, a message is refused, not the connection: only a client that keeps flooding is closed.
    if (!this.bucket.take(Date.now()) && message.type !== MessageType.Complete && message.type !== MessageType.ConnectionInit) {
      this.refusedInARow++;
      if (this.refusedInARow > this.deps.limits.wsMessageBurst) {
        this.terminateWith('message-rate', new RealtimeError('RATE_LIMITED', 'rate limited: too many messages; retry later'));
        return;
      }
      if (message.type === MessageType.Subscribe) {
        const refused = new RealtimeError('RATE_LIMITED', 'too many messages: this operation was refused; retry later');
        this.send({ id: message.id, type: MessageType.Error, payload: [refused.toFormatted(this.deps.production)] });
      }
      return;
    }
    this.refusedInARow = 0;
    switch (message.type) {
      case MessageType.ConnectionInit:
        void this.handleConnectionInit(message.payload).catch((error: unknown) => this.fail(error));
        return;
      case MessageType.Ping:
        this.send(message.payload ? { type: MessageType.Pong, payload: message.payload } : { type: MessageType.Pong });
        return;
      case MessageType.Pong:
        return;
      case MessageType.Subscribe:
        void this.handleSubscribe(message).catch((error: unknown) => this.fail(error));
        return;
      case MessageType.Complete:
        this.handleComplete(message.id);
        return;
    }
  }

  private async handleConnectionInit(payload: Record<string, unknown> | undefined): Promise<void> {
    if (this.initReceived) {
      this.terminate('init-repeated', CLOSE_CODES.TOO_MANY_INIT_REQUESTS, 'Too many initialisation requests');
      return;
    }
    this.initReceived = true;
    clearTimeout(this.initTimer);
    this.initTimer = undefined;
    const authorization = payload?.['authorization'];
    try {
      this.principal = await this.deps.authenticator.verify(typeof authorization === 'string' ? authorization : undefined);
    } catch (error) {
      if (!(error instanceof RealtimeError)) throw error;
      this.terminateWith(error.code === 'AUTH_UNAVAILABLE' ? 'auth-unavailable' : error.code === 'TOKEN_EXPIRED' ? 'token-expired' : 'auth', error);
      return;
    }
    if (this.closed) return;
    // The client reconnects with a fresh token and resumes by cursor.
    this.expiry = whenTokenExpires(this.principal, () => this.terminateWith('token-expired', new RealtimeError('TOKEN_EXPIRED', 'token expired')));
    this.acknowledged = true;
    this.send({ type: MessageType.ConnectionAck });
    this.deps.logger.debug({ transport: 'graphql-ws', remote: this.remoteAddress }, 'connection open');
  }

  private async handleSubscribe(message: SubscribeMessage): Promise<void> {
    const { id } = message;
    if (!this.acknowledged) {
      this.terminate('unauthorized', CLOSE_CODES.UNAUTHORIZED, 'Unauthorized');
      return;
    }
    if (this.operations.has(id)) {
      this.terminate('duplicate-id', CLOSE_CODES.SUBSCRIBER_ALREADY_EXISTS, `Subscriber for ${id} already exists`);
      return;
    }
    const { production, limits } = this.deps;
    if (this.operations.size >= limits.maxSubscriptionsPerConnection) {
      const refused = new RealtimeError('TOO_MANY_OPERATIONS', `at most ${limits.maxSubscriptionsPerConnection} operations per connection; complete one first`, {
        limit: limits.maxSubscriptionsPerConnection,
      });
      this.send({ id, type: MessageType.Error, payload: [refused.toFormatted(production)] });
      return;
    }
    let params: OperationParams;
    try {
      params = parseOperationParams(message.payload);
    } catch (error) {
      // An empty document: the client's mistake in this one operation (a syntax error), not a broken protocol.
      if (!(error instanceof RealtimeError)) throw error;
      this.send({ id, type: MessageType.Error, payload: [error.toFormatted(production)] });
      return;
    }
    // Reserve the id before any await, so a burst of subscribes in one read cannot overshoot the limit.
    const operation: Operation = { subscription: undefined, cancelled: false };
    this.operations.set(id, operation);
    const prepared = await this.deps.runner.prepare(params, { principal: this.principal });
    if (operation.cancelled || this.closed) return;
    if (prepared.kind === 'rejected') {
      this.operations.delete(id);
      this.send({ id, type: MessageType.Error, payload: prepared.errors });
      return;
    }
    if (prepared.kind === 'result') {
      this.operations.delete(id);
      this.send({ id, type: MessageType.Next, payload: prepared.result });
      this.send({ id, type: MessageType.Complete });
      return;
    }
    const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
    try {
      operation.subscription = this.delivery.subscribe(prepared.request, createGraphQLRenderer(prepared.operation, { production }), {
        frame: (payload) => `${prefix}${payload as string}}`,
        onEnd: () => {
          if (this.operations.get(id) !== operation) return;
          this.operations.delete(id);
          this.send({ id, type: MessageType.Complete });
        },
      });
    } catch (error) {
      // A fault of ours starting this one operation: an `error` for its id (masked in production), not a close
      // that would end every other operation on the socket.
      this.operations.delete(id);
      this.deps.logger.error({ transport: 'graphql-ws', err: error }, 'failed to start a subscription');
      this.send({ id, type: MessageType.Error, payload: [toClientError(error, { production })] });
    }
  }

  private handleComplete(id: string): void {
    const operation = this.operations.get(id);
    if (!operation) return;
    this.operations.delete(id);
    operation.cancelled = true;
    operation.subscription?.end();
  }

  private handleClose(): void {
    this.closed = true;
    clearTimeout(this.initTimer);
    clearTimeout(this.expiry);
    for (const operation of this.operations.values()) operation.cancelled = true;
    this.operations.clear();
    this.delivery.close();
  }

  private send(message: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Ends the connection over a protocol rule, counted by reason. */
  private terminate(reason: string, code: number, text: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.deps.counters.terminated('graphql-ws', reason);
    this.socket.close(code, truncateReason(text));
  }

  private terminateWith(reason: string, error: RealtimeError): void {
    const { code, reason: text } = error.toClose();
    this.terminate(reason, code, text);
  }

  /** A fault of ours while handling a message: logged, the connection closed as an internal error. */
  private fail(error: unknown): void {
    if (error instanceof RealtimeError && error.code === 'BAD_REQUEST') {
      this.terminate('bad-message', CLOSE_CODES.BAD_REQUEST, error.message);
      return;
    }
    this.deps.logger.error({ transport: 'graphql-ws', err: error }, 'failed to handle a message');
    this.terminate('internal-error', CLOSE_CODES.INTERNAL_ERROR, 'Internal server error');
  }
}

/** Picks graphql-ws's subprotocol when offered. A client offering none is accepted, then closed 4406 (as graphql-ws does). */
export function acceptsGraphQLWs(protocols: Set<string>): boolean {
  return protocols.has(GRAPHQL_TRANSPORT_WS_PROTOCOL);
}

/**
 * graphql-ws on `/graphql`. Authentication happens at `connection_init`
 * (the token in `connectionParams.authorization`), not before the handshake.
 */
export function createGraphQLWsEndpoint(deps: GraphQLWsDeps & { path: string; maxMessageBytes: number }): WebSocketEndpoint {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: deps.maxMessageBytes,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (acceptsGraphQLWs(protocols) ? GRAPHQL_TRANSPORT_WS_PROTOCOL : false),
  });
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    if (socket.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      deps.counters.terminated('graphql-ws', 'subprotocol');
      socket.close(CLOSE_CODES.SUBPROTOCOL_NOT_ACCEPTABLE, 'Subprotocol not acceptable');
      return;
    }
    new GraphQLWsConnection(socket, request.socket.remoteAddress, deps);
  });
  return { name: 'graphql-ws', wss, matches: (pathname) => pathname === deps.path };
}

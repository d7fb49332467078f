import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import type { WebSocket } from 'ws';
import type { DeliveryCounters, Transport } from '../engine/counters.ts';
import type { DeliveryEngine, EngineConnection, Frame, Subscription } from '../engine/engine.ts';
import { parseOperationParams, type OperationParams, type OperationRunner } from '../engine/operations.ts';
import { SplicedFrame } from '../engine/frame.ts';
import { PAYLOAD_END_ENVELOPE, createGraphQLRenderer } from '../engine/renderers.ts';
import { RealtimeError, toClientError, truncateReason } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import { whenTokenExpires, type Authenticator, type Principal } from '../security/auth.ts';
import { TokenBucket } from '../security/token-bucket.ts';
import type { SocketMonitor } from './websocket.ts';

export interface OperationSocketLimits {
  maxSubscriptionsPerConnection: number;
  wsMessageRate: number;
  wsMessageBurst: number;
  connectionInitTimeoutMs: number;
}

export interface OperationSocketDeps {
  runner: OperationRunner;
  engine: DeliveryEngine;
  monitor: SocketMonitor;
  counters: DeliveryCounters;
  authenticator: Authenticator;
  logger: Logger;
  limits: OperationSocketLimits;
  production: boolean;
}

interface Operation {
  subscription: Subscription | undefined;
  /** The client stopped it (or the socket closed) while it was still being prepared. */
  cancelled: boolean;
}

/** What a message asks of the rate limiter: operations are refused one by one, stops and inits always pass. */
export type MessageKind = 'operation' | 'stop' | 'init' | 'other';

/**
 * What every GraphQL-over-WebSocket protocol shares, whatever its message
 * names: the token at initialisation and its expiry, operations per
 * connection, the message rate, running operations through the operation
 * runner and subscriptions through the delivery engine. A protocol
 * (graphql-ws, subscriptions-transport-ws) is a subclass that parses its
 * messages and frames its answers.
 */
export abstract class OperationSocket {
  protected initReceived = false;
  protected acknowledged = false;
  protected principal: Principal | undefined;
  protected closed = false;
  protected readonly operations = new Map<string, Operation>();
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
    protected readonly socket: WebSocket,
    private readonly remoteAddress: string | undefined,
    protected readonly deps: OperationSocketDeps,
    protected readonly transport: Transport,
  ) {
    const { limits } = deps;
    this.bucket = new TokenBucket(limits.wsMessageRate, limits.wsMessageBurst, Date.now());
    this.delivery = deps.engine.connect(deps.monitor.watch(socket, transport));
    this.initTimer = setTimeout(() => {
      if (!this.initReceived) this.terminate('init-timeout', CLOSE_CODES.INIT_TIMEOUT, 'Connection initialisation timeout');
    }, limits.connectionInitTimeoutMs).unref();
    socket.on('message', (data) => this.receive(String(data)));
    socket.on('error', (error: Error & { code?: string }) => {
      // ws closes the socket itself (1009 for an oversized message, 1002 for a broken frame).
      deps.counters.terminated(transport, error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too-large' : 'protocol-error');
      deps.logger.warn({ transport, code: error.code, err: error.message }, 'client broke the protocol');
    });
    socket.once('close', () => this.handleClose());
  }

  /** Live operations on this connection. */
  get size(): number {
    return this.operations.size;
  }

  /** One message from the client, as text. */
  protected abstract receive(data: string): void;
  /** The connection is acknowledged (the protocol's `connection_ack`). */
  protected abstract sendAck(): void;
  /** An operation failed before it started: its errors, and it is over. */
  protected abstract sendRejected(id: string, errors: readonly GraphQLFormattedError[]): void;
  /** A query's or mutation's one result, then the operation's end. */
  protected abstract sendResult(id: string, result: FormattedExecutionResult): void;
  /** The server ended a subscription (drain). */
  protected abstract sendComplete(id: string): void;
  /** The text before a result payload in this protocol's data message for `id` (the engine writes payload and `}`). */
  protected abstract dataPrefix(id: string): string;

  /**
   * The rate limit for one message. Over the rate a message is refused, not
   * the connection (an operation gets its own RATE_LIMITED error); only a
   * client that keeps flooding past a whole burst of refusals is closed 1013.
   */
  protected admit(kind: MessageKind, id?: string): boolean {
    if (kind === 'stop' || kind === 'init' || this.bucket.take(Date.now())) {
      this.refusedInARow = 0;
      return true;
    }
    this.refusedInARow++;
    if (this.refusedInARow > this.deps.limits.wsMessageBurst) {
      this.terminateWith('message-rate', new RealtimeError('RATE_LIMITED', 'rate limited: too many messages; retry later'));
    } else if (kind === 'operation' && id !== undefined) {
      const refused = new RealtimeError('RATE_LIMITED', 'too many messages: this operation was refused; retry later');
      this.sendRejected(id, [refused.toFormatted(this.deps.production)]);
    }
    return false;
  }

  /** Verifies the token the client initialises with; acknowledges, or closes with the cause's code. */
  protected async init(authorization: unknown, onRefused?: (error: RealtimeError) => void): Promise<void> {
    this.initReceived = true;
    clearTimeout(this.initTimer);
    this.initTimer = undefined;
    try {
      this.principal = await this.deps.authenticator.verify(typeof authorization === 'string' ? authorization : undefined);
    } catch (error) {
      if (!(error instanceof RealtimeError)) throw error;
      onRefused?.(error);
      this.terminateWith(
        error.code === 'AUTH_UNAVAILABLE' ? 'auth-unavailable' : error.code === 'TOKEN_EXPIRED' ? 'token-expired' : 'auth',
        error,
      );
      return;
    }
    if (this.closed) return;
    // The client reconnects with a fresh token and resumes by cursor.
    this.expiry = whenTokenExpires(this.principal, () =>
      this.terminateWith('token-expired', new RealtimeError('TOKEN_EXPIRED', 'token expired')),
    );
    this.acknowledged = true;
    this.sendAck();
    this.deps.logger.debug({ transport: this.transport, remote: this.remoteAddress }, 'connection open');
  }

  /** Runs one operation: a query's result, or a subscription through the delivery engine. */
  protected async start(id: string, payload: unknown): Promise<void> {
    const { production, limits } = this.deps;
    if (this.operations.size >= limits.maxSubscriptionsPerConnection) {
      const refused = new RealtimeError(
        'TOO_MANY_OPERATIONS',
        `at most ${limits.maxSubscriptionsPerConnection} operations per connection; complete one first`,
        {
          limit: limits.maxSubscriptionsPerConnection,
        },
      );
      this.sendRejected(id, [refused.toFormatted(production)]);
      return;
    }
    let params: OperationParams;
    try {
      params = parseOperationParams(payload);
    } catch (error) {
      // An empty or malformed operation: the client's mistake in this one operation, not a broken protocol.
      if (!(error instanceof RealtimeError)) throw error;
      this.sendRejected(id, [error.toFormatted(production)]);
      return;
    }
    // Reserve the id before any await, so a burst of operations in one read cannot overshoot the limit.
    const operation: Operation = { subscription: undefined, cancelled: false };
    this.operations.set(id, operation);
    const prepared = await this.deps.runner.prepare(params, { principal: this.principal });
    if (operation.cancelled || this.closed) return;
    if (prepared.kind !== 'subscription') {
      this.operations.delete(id);
      if (prepared.kind === 'rejected') this.sendRejected(id, prepared.errors);
      else this.sendResult(id, prepared.result);
      return;
    }
    // The group renders each result once, as bytes; this operation's frame is its own prefix around those bytes.
    const prefix = Buffer.from(this.dataPrefix(id));
    try {
      const renderer = createGraphQLRenderer(prepared.operation, { production, envelope: PAYLOAD_END_ENVELOPE });
      operation.subscription = this.delivery.subscribe(prepared.request, renderer, {
        frame: (shared: Frame) => new SplicedFrame(prefix, shared as Buffer),
        onEnd: () => {
          if (this.operations.get(id) !== operation) return;
          this.operations.delete(id);
          this.sendComplete(id);
        },
      });
    } catch (error) {
      // A fault of ours starting this one operation: an error for it (masked in production), not a close
      // that would end every other operation on the socket.
      this.operations.delete(id);
      this.deps.logger.error({ transport: this.transport, err: error }, 'failed to start a subscription');
      this.sendRejected(id, [toClientError(error, { production })]);
    }
  }

  /** The client ended an operation; nothing more is sent for it. */
  protected stop(id: string): void {
    const operation = this.operations.get(id);
    if (!operation) return;
    this.operations.delete(id);
    operation.cancelled = true;
    operation.subscription?.end();
  }

  protected handleClose(): void {
    this.closed = true;
    clearTimeout(this.initTimer);
    clearTimeout(this.expiry);
    for (const operation of this.operations.values()) operation.cancelled = true;
    this.operations.clear();
    this.delivery.close();
  }

  protected send(message: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Ends the connection over a protocol rule, counted by reason. */
  protected terminate(reason: string, code: number, text: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.deps.counters.terminated(this.transport, reason);
    this.socket.close(code, truncateReason(text));
  }

  protected terminateWith(reason: string, error: RealtimeError): void {
    const { code, reason: text } = error.toClose();
    this.terminate(reason, code, text);
  }

  /** A fault of ours while handling a message: logged, the connection closed as an internal error. */
  protected fail(error: unknown): void {
    if (error instanceof RealtimeError && error.code === 'BAD_REQUEST') {
      this.terminate('bad-message', CLOSE_CODES.BAD_REQUEST, error.message);
      return;
    }
    this.deps.logger.error({ transport: this.transport, err: error }, 'failed to handle a message');
    this.terminate('internal-error', CLOSE_CODES.INTERNAL_ERROR, 'Internal server error');
  }
}

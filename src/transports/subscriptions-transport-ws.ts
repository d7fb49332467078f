import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import type { WebSocket } from 'ws';
import type { RealtimeError } from '../errors.ts';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import { OperationSocket, type OperationSocketDeps } from './operation-socket.ts';

/** The WebSocket subprotocol of subscriptions-transport-ws (Apollo's older protocol), confusingly named `graphql-ws`. */
export const SUBSCRIPTIONS_TRANSPORT_WS_PROTOCOL = 'graphql-ws';

interface ClientMessage {
  type: string;
  id?: unknown;
  payload?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * One subscriptions-transport-ws connection — what Apollo Client 2/3's
 * WebSocketLink, older GraphiQL and Altair, Postman and many mobile SDKs
 * speak: `connection_init` → `connection_ack` (then `ka` keep-alives),
 * `start`/`stop` an operation, results as `data`, failures as `error`,
 * `complete`, `connection_terminate`. The same token rules, limits, filters,
 * resume (`after:`) and `extensions.cursor` as graphql-ws: only the message
 * names differ (the shared OperationSocket does the rest).
 *
 * As in the reference server, operations may be sent right after
 * `connection_init` without waiting for the ack (clients do): they start once
 * the token is verified. A `start` reusing a running id replaces it.
 */
export class SubscriptionsTransportWsConnection extends OperationSocket {
  /** Starts that arrived before the token was verified, run in order once it is. */
  private waiting: (() => void)[] = [];

  constructor(
    socket: WebSocket,
    remoteAddress: string | undefined,
    deps: OperationSocketDeps,
    private readonly onAcknowledged: (connection: SubscriptionsTransportWsConnection) => void,
  ) {
    super(socket, remoteAddress, deps, 'subscriptions-transport-ws');
  }

  /** The protocol's keep-alive, sent by the endpoint's one timer to every acknowledged connection. */
  keepAlive(): void {
    this.send({ type: 'ka' });
  }

  protected receive(data: string): void {
    let message: ClientMessage;
    try {
      const parsed: unknown = JSON.parse(data);
      if (!isObject(parsed) || typeof parsed['type'] !== 'string') throw new Error('a message is a JSON object with a string type');
      message = parsed as unknown as ClientMessage;
    } catch (error) {
      this.terminate('bad-message', CLOSE_CODES.BAD_REQUEST, `invalid message: ${(error as Error).message}`);
      return;
    }
    const id = typeof message.id === 'string' || typeof message.id === 'number' ? String(message.id) : undefined;
    switch (message.type) {
      case 'connection_init': {
        if (!this.admit('init')) return;
        if (this.initReceived) {
          this.terminate('init-repeated', CLOSE_CODES.TOO_MANY_INIT_REQUESTS, 'Too many initialisation requests');
          return;
        }
        const payload = isObject(message.payload) ? message.payload : {};
        const authorization = payload['authorization'] ?? payload['Authorization'];
        void this.init(authorization, (error) => this.refuseInit(error))
          .then(() => this.runWaiting())
          .catch((error: unknown) => this.fail(error));
        return;
      }
      case 'start': {
        if (id === undefined) return this.terminate('bad-message', CLOSE_CODES.BAD_REQUEST, 'start needs an id');
        if (!this.admit('operation', id)) return;
        const run = () => {
          // The reference server replaces an operation whose id is reused.
          this.stop(id);
          void this.start(id, message.payload).catch((error: unknown) => this.fail(error));
        };
        if (this.acknowledged) run();
        else this.waiting.push(run);
        return;
      }
      case 'stop':
        this.admit('stop');
        if (id !== undefined) this.stop(id);
        return;
      case 'connection_terminate':
        this.socket.close(1000, 'connection_terminate');
        return;
      default:
        if (!this.admit('other')) return;
        this.send({ id, type: 'error', payload: { message: `Invalid message type: ${String(message.type).slice(0, 64)}` } });
    }
  }

  private runWaiting(): void {
    const waiting = this.waiting;
    this.waiting = [];
    if (this.acknowledged) for (const run of waiting) run();
  }

  /** The protocol reports a refused init with `connection_error` before the close. */
  private refuseInit(error: RealtimeError): void {
    this.send({ type: 'connection_error', payload: error.toFormatted(this.deps.production) });
  }

  protected sendAck(): void {
    this.send({ type: 'connection_ack' });
    this.keepAlive();
    this.onAcknowledged(this);
  }

  protected sendRejected(id: string, errors: readonly GraphQLFormattedError[]): void {
    this.send({ id, type: 'error', payload: errors });
  }

  protected sendResult(id: string, result: FormattedExecutionResult): void {
    this.send({ id, type: 'data', payload: result });
    this.send({ id, type: 'complete' });
  }

  protected sendComplete(id: string): void {
    this.send({ id, type: 'complete' });
  }

  protected dataPrefix(id: string): string {
    return `{"id":${JSON.stringify(id)},"type":"data","payload":`;
  }

  protected override handleClose(): void {
    this.waiting = [];
    super.handleClose();
  }
}

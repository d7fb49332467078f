import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import { MessageType, parseMessage, type Message } from 'graphql-ws';
import type { WebSocket } from 'ws';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import { OperationSocket, type OperationSocketDeps } from './operation-socket.ts';

/** Message types only a server may send: a client sending them breaks the protocol. */
const SERVER_ONLY = new Set<string>([MessageType.ConnectionAck, MessageType.Next, MessageType.Error]);

/**
 * One graphql-ws (`graphql-transport-ws`) connection: a handler per message
 * type over the protocol's own message validator (graphql-ws's
 * `parseMessage`), and the protocol's rules (init timeout, one init, ack
 * before subscribe, unique ids). Everything else — token, limits, operations,
 * delivery — is the shared OperationSocket.
 */
export class GraphQLWsConnection extends OperationSocket {
  constructor(socket: WebSocket, remoteAddress: string | undefined, deps: OperationSocketDeps) {
    super(socket, remoteAddress, deps, 'graphql-ws');
  }

  protected receive(data: string): void {
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
    switch (message.type) {
      case MessageType.ConnectionInit:
        if (!this.admit('init')) return;
        if (this.initReceived) {
          this.terminate('init-repeated', CLOSE_CODES.TOO_MANY_INIT_REQUESTS, 'Too many initialisation requests');
          return;
        }
        void this.init(message.payload?.['authorization']).catch((error: unknown) => this.fail(error));
        return;
      case MessageType.Ping:
        if (this.admit('other'))
          this.send(message.payload ? { type: MessageType.Pong, payload: message.payload } : { type: MessageType.Pong });
        return;
      case MessageType.Pong:
        this.admit('other');
        return;
      case MessageType.Subscribe:
        if (!this.admit('operation', message.id)) return;
        if (!this.acknowledged) {
          this.terminate('unauthorized', CLOSE_CODES.UNAUTHORIZED, 'Unauthorized');
          return;
        }
        if (this.operations.has(message.id)) {
          this.terminate('duplicate-id', CLOSE_CODES.SUBSCRIBER_ALREADY_EXISTS, `Subscriber for ${message.id} already exists`);
          return;
        }
        void this.start(message.id, message.payload).catch((error: unknown) => this.fail(error));
        return;
      case MessageType.Complete:
        this.admit('stop');
        this.stop(message.id);
        return;
    }
  }

  protected sendAck(): void {
    this.send({ type: MessageType.ConnectionAck });
  }

  protected sendRejected(id: string, errors: readonly GraphQLFormattedError[]): void {
    this.send({ id, type: MessageType.Error, payload: errors });
  }

  protected sendResult(id: string, result: FormattedExecutionResult): void {
    this.send({ id, type: MessageType.Next, payload: result });
    this.send({ id, type: MessageType.Complete });
  }

  protected sendComplete(id: string): void {
    this.send({ id, type: MessageType.Complete });
  }

  protected dataPrefix(id: string): string {
    return `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }
}

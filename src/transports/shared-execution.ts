import { execute, getOperationAST, GraphQLError, Kind, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { WebSocket } from 'ws';
import type { Config } from '../config.ts';
import { isStreamName, type StreamName } from '../domain/index.ts';
import type { BroadcastTracker } from '../ops/broadcast.ts';
import type { Logger } from '../ops/logger.ts';
import { createSendBudget } from './send-budget.ts';
import { isGapNotice, type GapNotice, type StreamItem } from '../streams/index.ts';

/** Close code for a graphql-ws client that fell too far behind; it reconnects and resumes with `after`. */
export const SLOW_CONSUMER_CLOSE = 4008;

/** What a subscription resolver pushes events into instead of returning a pull iterator. */
export interface PushSink {
  /** Joins the operation's group; called once the subscription really starts. */
  acquire(): void;
  /** `history`: a resume or replay item; exempt from the live back-pressure cap (history is bounded already). */
  deliver(item: StreamItem | GapNotice, history?: boolean): void;
  /** Leaves the group; called when the subscription ends for any reason. */
  release(): void;
}

export interface SharedOperation {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName: string | null | undefined;
  variableValues: Record<string, unknown> | null | undefined;
  /** Everything that can change the result besides the event: document, operation, variables (and later auth scope). */
  key: string;
}

interface Group {
  operation: SharedOperation;
  stream: StreamName;
  subscribers: number;
  lastItem: StreamItem | undefined;
  lastPayload: string;
}

/** The stream a subscription document reads, if it is a plain single root field we can share. */
export function sharedStreamOf(document: DocumentNode, operationName: string | null | undefined): StreamName | undefined {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'subscription') return undefined;
  const [selection, ...rest] = operation.selectionSet.selections;
  if (!selection || rest.length > 0 || selection.kind !== Kind.FIELD) return undefined;
  if (selection.directives && selection.directives.length > 0) return undefined;
  return isStreamName(selection.name.value) ? selection.name.value : undefined;
}

/**
 * The fan-out engine for graphql-ws. Subscribers whose operations are the same
 * (same document, operation, variables) form a group; for each event the group
 * executes the selection once and serializes it once, and each subscriber's
 * frame is that payload with its own operation id spliced in, written from the
 * stream's fan-out loop. No per-subscriber iterator, promise or JSON.stringify
 * on the hot path. graphql-ws still owns the protocol: it holds a lifetime
 * iterator per subscription (see StreamHub.listen) and sends `complete`.
 */
export function createSharedExecution(deps: {
  config: Config;
  tracker: BroadcastTracker;
  logger: Logger;
  /** Production: errors without a code (bugs, not client mistakes) reach clients as "Unexpected error." only. */
  maskErrors: boolean;
}) {
  const { config, tracker, logger, maskErrors } = deps;
  const mask = (result: ExecutionResult): ExecutionResult => {
    if (!maskErrors || !result.errors) return result;
    return {
      ...result,
      errors: result.errors.map((error) =>
        error.extensions['code'] ? error : new GraphQLError('Unexpected error.', { path: error.path ?? undefined }),
      ),
    };
  };
  const groups = new Map<string, Group>();
  let warnedAsync = false;

  const payloadFor = (group: Group, item: StreamItem | GapNotice, contextValue: unknown): string | undefined => {
    if (!isGapNotice(item) && item === group.lastItem) return group.lastPayload;
    const { schema, document, operationName, variableValues } = group.operation;
    const result = execute({ schema, document, operationName, variableValues, rootValue: item, contextValue });
    if (result instanceof Promise) {
      // The schema's stream resolvers are synchronous; an async one would need the pull path.
      if (!warnedAsync) logger.error({ stream: group.stream }, 'shared execution got an async result; event skipped');
      warnedAsync = true;
      return undefined;
    }
    if (isGapNotice(item)) return JSON.stringify(mask(result));
    const payload = JSON.stringify({ ...mask(result), extensions: { cursor: item.cursor } });
    group.lastItem = item;
    group.lastPayload = payload;
    return payload;
  };

  return {
    groupCount: () => groups.size,
    /** Production masking for results that did not come through yoga's envelope (subscription setup errors). */
    mask,
    /** A sink for one subscription (operation `id` on `socket`). */
    open(operation: SharedOperation, stream: StreamName, id: string, socket: WebSocket, contextValue: () => unknown): PushSink {
      const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
      let joined: Group | undefined;
      const budget = createSendBudget(socket, config.ws.maxBufferedBytes);
      return {
        acquire() {
          if (joined) return;
          let group = groups.get(operation.key);
          if (!group) {
            group = { operation, stream, subscribers: 0, lastItem: undefined, lastPayload: '' };
            groups.set(operation.key, group);
          }
          group.subscribers++;
          joined = group;
        },
        deliver(item, history = false) {
          if (!joined) return;
          if (socket.readyState !== socket.OPEN) return;
          if (budget.exhausted(history)) {
            if (stream === 'metrics' && !isGapNotice(item)) {
              tracker.dropped(stream, 'graphql-ws', 'slow-consumer');
              return;
            }
            logger.warn({ transport: 'graphql-ws', stream, buffered: socket.bufferedAmount }, 'slow consumer; closing');
            socket.close(SLOW_CONSUMER_CLOSE, 'slow consumer; resubscribe with after: <last cursor>');
            return;
          }
          const payload = payloadFor(joined, item, contextValue());
          if (payload === undefined) return;
          const frame = `${prefix}${payload}}`;
          // Only history needs its size counted; live frames skip the byte count.
          if (history) budget.sent(Buffer.byteLength(frame), true);
          socket.send(frame);
          if (!isGapNotice(item)) tracker.delivered(stream, item, 'graphql-ws');
        },
        release() {
          if (!joined) return;
          if (--joined.subscribers === 0) groups.delete(operation.key);
          joined = undefined;
        },
      };
    },
  };
}

export type SharedExecution = ReturnType<typeof createSharedExecution>;

import { execute, type DocumentNode, type GraphQLSchema } from 'graphql';
import { Packr } from 'msgpackr';
import { toClientError, type RealtimeError } from '../errors.ts';
import type { StreamItem } from '../streams/hub.ts';
import { descriptorOf, type StreamName } from '../streams/registry.ts';
import { batchOf } from './batches.ts';
import type { Frame, Renderer } from './engine.ts';

/** A checked GraphQL subscription, ready to execute once per event. */
export interface GraphQLOperation {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName: string | null | undefined;
  variableValues: Record<string, unknown> | null | undefined;
  contextValue: unknown;
  /** Everything that can change a result besides the event: document, operation, variables, the caller's scopes. */
  key: string;
}

/**
 * What a transport wraps around every result of a group when the wrapping is
 * the same for all of its subscribers (an SSE `event: next` block with the
 * cursor as `id:`): done once per group per event, not per subscriber.
 */
export interface Envelope {
  readonly name: string;
  wrap(resultJson: string, cursor: string | undefined): Frame;
}

/**
 * Results as the UTF-8 end of an `{"id":…,"payload":<result>}` message — the result and the closing brace —
 * encoded once per group: graphql-ws, subscriptions-transport-ws and single-connection SSE put only their own
 * `{"id":…` prefix in front, per subscriber, and write these bytes to every subscriber without a copy.
 */
export const PAYLOAD_END_ENVELOPE: Envelope = { name: 'payload-end', wrap: (json) => Buffer.from(`${json}}`) };

/**
 * Executes a subscription's selection for one event and serializes the result
 * with the event's cursor in `extensions.cursor` — once per group per event.
 * A batch field's selection runs on the batch (batches.ts `EventBatch`), with
 * its last event's cursor there: once per group per batch. Errors go through
 * the one masking function.
 */
export function createGraphQLRenderer(operation: GraphQLOperation, options: { production: boolean; envelope?: Envelope }): Renderer {
  const { schema, document, operationName, variableValues, contextValue } = operation;
  const { production, envelope } = options;
  const wrap = (json: string, cursor: string | undefined): Frame => (envelope ? envelope.wrap(json, cursor) : json);
  const run = (rootValue: unknown, cursor: string): Frame => {
    const result = execute({ schema, document, operationName, variableValues, rootValue, contextValue });
    // Stream fields resolve synchronously (they read the event); an async result means a schema bug.
    if (result instanceof Promise)
      throw new Error('a stream field resolved asynchronously; the delivery engine needs synchronous resolvers');
    // Cursors are base64url: no escaping needed.
    if (!result.errors) return wrap(`{"data":${JSON.stringify(result.data)},"extensions":{"cursor":"${cursor}"}}`, cursor);
    const errors = result.errors.map((error) => toClientError(error, { production }));
    return wrap(JSON.stringify({ data: result.data ?? null, errors, extensions: { cursor } }), cursor);
  };
  return {
    key: envelope ? `${envelope.name}\u0000${operation.key}` : operation.key,
    render(item: StreamItem): Frame {
      return run(item, item.cursor);
    },
    renderBatch(items: readonly StreamItem[]): Frame {
      const batch = batchOf(items);
      return run(batch, batch.lastCursor);
    },
    renderError(error: RealtimeError, cursor?: string): Frame {
      const result = { data: null, errors: [error.toFormatted(production)], ...(cursor && { extensions: { cursor } }) };
      return wrap(JSON.stringify(result), cursor);
    },
  };
}

/**
 * The legacy contract frame: exactly the stream's contract fields, in contract
 * order (plus `seq` and `cursor` with `meta`), as bytes every socket shares —
 * JSON text (byte-compatible with the original platform), or the same object
 * as MessagePack. A batch is one array of those frames, oldest first (each
 * element byte for byte the event's own frame). Errors (REPLAY_GAP notices)
 * are `{"error":{code,message,…}}`, never in an array.
 */
export function createContractRenderer(stream: StreamName, options: { meta: boolean; encoding: 'json' | 'msgpack' }): Renderer {
  const fields = options.meta ? [...descriptorOf(stream).contractFields, 'seq', 'cursor'] : [...descriptorOf(stream).contractFields];
  const key = `contract${options.meta ? '+meta' : ''}:${options.encoding}`;
  if (options.encoding === 'json') {
    return {
      key,
      render: (item) => Buffer.from(JSON.stringify(item, fields)),
      renderBatch: (items) => Buffer.from(`[${items.map((item) => JSON.stringify(item, fields)).join(',')}]`),
      renderError: (error) => JSON.stringify({ error: { code: error.code, message: error.message, ...error.details } }),
    };
  }
  const record = (item: StreamItem) => Object.fromEntries(fields.map((name) => [name, (item as unknown as Record<string, unknown>)[name]]));
  return {
    key,
    render: (item) => packr.pack(record(item)),
    renderBatch: (items) => packr.pack(items.map(record)),
    renderError: (error) => packr.pack({ error: { code: error.code, message: error.message, ...error.details } }),
  };
}

/** Plain MessagePack maps (no record extension), so any MessagePack decoder reads the frames. */
const packr = new Packr({ useRecords: false });

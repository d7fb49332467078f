import {
  createSourceEventStream,
  execute,
  getOperationAST,
  GraphQLError,
  type DocumentNode,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import { RealtimeError, toClientError, type ErrorCode } from '../errors.ts';
import type { GraphQLContext } from '../schema/context.ts';
import type { Principal } from '../security/auth.ts';
import type { Streams } from '../streams/index.ts';
import type { GraphQLOperation } from './renderers.ts';
import { isStreamRequest, type StreamRequest } from './request.ts';

/** What a client sends to run an operation (graphql-ws `subscribe` payload, SSE and HTTP bodies). */
export interface OperationParams {
  query: string;
  operationName?: string | null | undefined;
  variables?: Record<string, unknown> | null | undefined;
  extensions?: Record<string, unknown> | null | undefined;
}

/**
 * - `rejected`: nothing ran (syntax, validation, variables, arguments, scope, limits); the client's errors.
 * - `result`: a query or mutation ran; its one result.
 * - `subscription`: a checked subscription for the delivery engine.
 */
export type PreparedOperation =
  | { kind: 'rejected'; errors: GraphQLFormattedError[] }
  | { kind: 'result'; result: FormattedExecutionResult }
  | { kind: 'subscription'; request: StreamRequest; operation: GraphQLOperation };

/** The parse and validate functions with every operation limit applied (yoga's envelope: graphql-armor, caches). */
export interface Envelope {
  parse(source: string): DocumentNode;
  validate(document: DocumentNode): readonly GraphQLError[];
  schema: GraphQLOperation['schema'];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Checks the shape of operation parameters from any transport; throws BAD_REQUEST naming what is wrong. */
export function parseOperationParams(raw: unknown): OperationParams {
  if (!isObject(raw)) throw new RealtimeError('BAD_REQUEST', 'the request must be a JSON object with a query');
  const { query, operationName, variables, extensions } = raw;
  if (typeof query !== 'string' || query.length === 0)
    throw new RealtimeError('BAD_REQUEST', 'query: a GraphQL document string is required', { argument: 'query' });
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
    throw new RealtimeError('BAD_REQUEST', 'operationName: must be a string', { argument: 'operationName' });
  }
  if (variables !== undefined && variables !== null && !isObject(variables))
    throw new RealtimeError('BAD_REQUEST', 'variables: must be an object', { argument: 'variables' });
  if (extensions !== undefined && extensions !== null && !isObject(extensions))
    throw new RealtimeError('BAD_REQUEST', 'extensions: must be an object', { argument: 'extensions' });
  return { query, operationName, variables, extensions };
}

/**
 * Runs what clients send on every streaming transport: checks the document
 * with the same limits as HTTP, and either executes it (queries, mutations) or
 * turns it into a checked subscription for the delivery engine. Every error is
 * rendered with the one masking rule and the code of its phase, so a client
 * mistake reads the same on every transport and in every environment.
 */
export function createOperationRunner(deps: {
  envelope: () => Envelope;
  streams: Streams;
  production: boolean;
  authRequired: boolean;
  limits: GraphQLContext['limits'];
  /** Told about server faults while preparing an operation (for the log). */
  onInternalError?: (error: unknown) => void;
}) {
  const { production } = deps;
  const reject = (errors: readonly unknown[], fallbackCode?: ErrorCode): PreparedOperation => ({
    kind: 'rejected',
    errors: errors.map((error) => toClientError(error, fallbackCode ? { production, fallbackCode } : { production })),
  });

  return {
    /**
     * @param caller who runs it (verified token) and, for SSE, the Last-Event-ID to resume from.
     * Never throws: a client mistake comes back `rejected` with its code, a server fault `rejected` and masked.
     */
    async prepare(
      params: OperationParams,
      caller: { principal: Principal | undefined; lastEventId?: string | undefined },
    ): Promise<PreparedOperation> {
      try {
        return await prepareOrThrow(params, caller);
      } catch (error) {
        // A fault of ours: this operation fails (masked in production); the connection and its other operations go on.
        deps.onInternalError?.(error);
        return reject([error]);
      }
    },
  };

  async function prepareOrThrow(
    params: OperationParams,
    caller: { principal: Principal | undefined; lastEventId?: string | undefined },
  ): Promise<PreparedOperation> {
    const { parse, validate, schema } = deps.envelope();
    let document: DocumentNode;
    try {
      document = parse(params.query);
    } catch (error) {
      // Hostile documents can overflow the parser's stack: the client's mistake, not a server fault.
      return reject(
        [
          error instanceof GraphQLError
            ? error
            : new RealtimeError('BAD_REQUEST', 'the document could not be parsed (too large or too deeply nested)'),
        ],
        'GRAPHQL_PARSE_FAILED',
      );
    }
    try {
      // Operation-limit rules throw from inside validation; they are errors for the client, not a server fault.
      const errors = validate(document);
      if (errors.length > 0) return reject(errors, 'GRAPHQL_VALIDATION_FAILED');
    } catch (error) {
      return reject(
        [
          error instanceof GraphQLError
            ? error
            : new RealtimeError('BAD_REQUEST', 'the document could not be checked (too large or too deeply nested)'),
        ],
        'GRAPHQL_VALIDATION_FAILED',
      );
    }
    const operationName = params.operationName ?? null;
    const ast = getOperationAST(document, operationName);
    if (!ast) {
      const message = operationName
        ? `no operation named "${operationName}" in the document`
        : 'the document has several operations: give operationName';
      return reject([new RealtimeError('BAD_REQUEST', message, { argument: 'operationName' })]);
    }
    const variableValues = params.variables ?? null;
    const contextValue: GraphQLContext = {
      streams: deps.streams,
      principal: caller.principal,
      authRequired: deps.authRequired,
      limits: deps.limits,
      lastEventId: caller.lastEventId,
    };
    const args = { schema, document, operationName, variableValues, contextValue };
    if (ast.operation !== 'subscription') {
      let result;
      try {
        result = await execute(args);
      } catch (error) {
        return reject([
          error instanceof RangeError ? new RealtimeError('BAD_REQUEST', 'the variables could not be read (too deeply nested)') : error,
        ]);
      }
      // No `data` at all means execution never started: the variables did not fit.
      if (!('data' in result)) return reject(result.errors ?? [], 'BAD_USER_INPUT');
      const errors = result.errors?.map((error) => toClientError(error, { production }));
      return { kind: 'result', result: errors ? { data: result.data, errors } : { data: result.data } };
    }
    let source: unknown;
    try {
      source = await createSourceEventStream(args);
    } catch (error) {
      return reject([
        error instanceof RangeError ? new RealtimeError('BAD_REQUEST', 'the variables could not be read (too deeply nested)') : error,
      ]);
    }
    if (!isStreamRequest(source)) {
      const errors = (source as { errors?: readonly GraphQLError[] }).errors ?? [new GraphQLError('the subscription did not start')];
      // Errors with a path came from the field's resolver (they carry their own code); the rest are variables.
      return reject(errors, errors.every((error) => error.path === undefined) ? 'BAD_USER_INPUT' : undefined);
    }
    const scopes = caller.principal ? [...caller.principal.scopes].sort().join(' ') : '';
    return {
      kind: 'subscription',
      request: source,
      operation: {
        schema,
        document,
        operationName,
        variableValues,
        contextValue,
        // Scope is part of the key: subscribers share results only with peers allowed the same things.
        key: [params.query, operationName ?? '', JSON.stringify(variableValues), scopes].join('\u0000'),
      },
    };
  }
}

export type OperationRunner = ReturnType<typeof createOperationRunner>;

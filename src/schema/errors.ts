import { GraphQLError } from 'graphql';
import { RealtimeError } from '../errors.ts';

/** Maps the server's error hierarchy to GraphQL errors with `extensions.code` (and the details clients act on). */
export function toGraphQLError(error: unknown): unknown {
  if (error instanceof RealtimeError) {
    return new GraphQLError(error.message, { extensions: { code: error.code, ...error.details } });
  }
  return error;
}

/** Runs `fn`, rethrowing server errors as GraphQL errors. */
export function graphqlErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw toGraphQLError(error);
  }
}

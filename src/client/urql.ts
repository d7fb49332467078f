import type { ExecutionResult, Operation, SubscriptionForwarder } from '@urql/core';
import type { ResumableClient, ResumableSubscribeOptions } from './resumable.ts';

/**
 * urql's `subscriptionExchange({ forwardSubscription })` over the resumable
 * client: every subscription urql starts resumes by cursor after reconnects.
 * Type-only imports: using it adds no urql code to a bundle that does not
 * already have it.
 *
 * ```ts
 * subscriptionExchange({ forwardSubscription: resumableForwardSubscription(kit) })
 * ```
 */
export function resumableForwardSubscription(
  client: ResumableClient,
  options?: ResumableSubscribeOptions | ((operation: Operation) => ResumableSubscribeOptions),
): SubscriptionForwarder {
  return (request, operation) => ({
    subscribe(sink) {
      if (request.query === undefined) {
        // Persisted documents send only an id; the kit has to see the document to add `after:`.
        sink.error(new Error('the resumable client needs the document text (persisted documents are not supported)'));
        return { unsubscribe: () => undefined };
      }
      const subscription = client.resumable(
        {
          query: request.query,
          operationName: request.operationName,
          variables: request.variables,
          extensions: request.extensions,
        },
        {
          // graphql-ws may omit `data`; urql's type wants the key (exactOptionalPropertyTypes), the value is the same.
          next: (result) => sink.next(result as ExecutionResult),
          error: (error) => sink.error(error),
          complete: () => sink.complete(),
        },
        typeof options === 'function' ? options(operation) : options,
      );
      return { unsubscribe: () => subscription.unsubscribe() };
    },
  });
}

import { ApolloLink } from '@apollo/client/link';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { print } from 'graphql';
import { Observable } from 'rxjs';
import { describeFailure, isCloseLike } from './policy.ts';
import type { ResumableClient, ResumableSubscribeOptions } from './resumable.ts';

/** Per-operation options, passed as `context: { resumable: { onGap, after } }`. */
export interface ResumableLinkContext {
  resumable?: ResumableSubscribeOptions;
}

/**
 * A terminating Apollo Client 4 link over the resumable client — Apollo's
 * GraphQLWsLink with resumption. Subscriptions resume by cursor after
 * reconnects; queries and mutations pass through over the same socket.
 *
 * ```ts
 * new ApolloClient({ link: new ResumableLink(kit), cache: new InMemoryCache() })
 * client.subscribe({ query: LiveTransactionsDocument, context: { resumable: { onGap } } })
 * ```
 */
export class ResumableLink extends ApolloLink {
  readonly client: ResumableClient;

  constructor(client: ResumableClient) {
    super();
    this.client = client;
  }

  override request(operation: ApolloLink.Operation): Observable<ApolloLink.Result> {
    return new Observable<ApolloLink.Result>((observer) => {
      const { query, variables, operationName, extensions } = operation;
      const options = (operation.getContext() as ResumableLinkContext).resumable;
      const subscription = this.client.resumable(
        { query: print(query), variables, operationName, extensions },
        {
          next: (result) => observer.next(result as ApolloLink.Result),
          complete: () => observer.complete(),
          error: (error) => observer.error(toApolloError(error)),
        },
        options,
      );
      return () => subscription.unsubscribe();
    });
  }
}

/** What Apollo expects on its error channel: Errors, with GraphQL errors combined as Apollo combines them. */
function toApolloError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (Array.isArray(error)) return new CombinedGraphQLErrors({ errors: error });
  // Close events keep code and reason reachable through `cause`.
  return new Error(isCloseLike(error) ? `Socket closed with event ${error.code} ${error.reason}` : describeFailure(error), {
    cause: error,
  });
}

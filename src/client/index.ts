/**
 * The resumable client kit: graphql-ws subscriptions that survive reconnects
 * without losing or repeating events. Three entry points, so an application
 * pulls in only what it uses:
 *
 * - `aurigraph-realtime/client` (this file): the bare kit; needs only `graphql-ws` and `graphql`.
 * - `aurigraph-realtime/client/apollo`: `ResumableLink` for Apollo Client 4 (needs `@apollo/client`, `rxjs`).
 * - `aurigraph-realtime/client/urql`: `resumableForwardSubscription` for urql's subscriptionExchange.
 */
export {
  createResumableClient,
  type ReplayGap,
  type ResumableClient,
  type ResumableClientOptions,
  type ResumableSubscribeOptions,
  type ResumableSubscription,
  type RetryInfo,
} from './resumable.ts';
export { planResume, ResumePlanError, type ResumePlan } from './document.ts';
export {
  backoffDelay,
  CLOSE,
  describeFailure,
  FATAL_CLOSE_CODES,
  isCloseLike,
  isFatal,
  type BackoffOptions,
  type CloseLike,
} from './policy.ts';

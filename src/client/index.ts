/**
 * The resumable client kit: graphql-ws subscriptions that survive reconnects
 * without losing or repeating events. See docs/CLIENTS.md.
 *
 * - `createResumableClient` (resumable.ts) needs only `graphql-ws` and `graphql`.
 * - `resumableForwardSubscription` (urql.ts) adds nothing at run time.
 * - `ResumableLink` (apollo.ts) needs `@apollo/client` and `rxjs`; import
 *   `./resumable.ts` directly in an app that has no Apollo.
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
export { resumableForwardSubscription } from './urql.ts';
export { ResumableLink, type ResumableLinkContext } from './apollo.ts';

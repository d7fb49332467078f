import type { StreamOpener } from '../engine/request.ts';
import type { Principal } from '../security/auth.ts';
import type { Streams } from '../streams/index.ts';

/** What every resolver sees. Built per operation by the operation runner (and by yoga for HTTP queries). */
export interface GraphQLContext {
  streams: Streams;
  principal: Principal | undefined;
  /** AUTH_MODE=jwt: every stream needs a `stream:<name>` (or `stream:*`) scope. */
  authRequired: boolean;
  limits: { metricsIntervalMs: number; replayBufferSize: number };
  /** SSE reconnects send the last cursor they saw as Last-Event-ID; it resumes like `after`. */
  lastEventId?: string | undefined;
  /** Outside the delivery engine only (benchmark baselines): how to iterate a subscription's events. */
  openStream?: StreamOpener | undefined;
}

import type { ChainState } from '../streams/state.ts';
import type { Streams, Transport } from '../streams/index.ts';
import type { PushSink } from '../transports/shared-execution.ts';
import type { Principal } from '../security/auth.ts';

/** What every resolver sees. Built per operation by the transports. */
export interface GraphQLContext {
  streams: Streams;
  state: ChainState;
  /** The wire the operation arrived on; subscriber counts are kept per transport. */
  transport: Transport;
  limits: { metricsIntervalMs: number; replayBufferSize: number };
  /** AUTH_MODE=jwt: every stream needs a `stream:<name>` (or `stream:*`) scope. */
  authRequired: boolean;
  principal: Principal | undefined;
  /** SSE reconnects send the last cursor they saw as Last-Event-ID; it resumes like `after`. */
  lastEventId?: string | undefined;
  /** Set by graphql-ws when the shared-execution engine writes this subscription's frames itself. */
  pushSink?: PushSink | undefined;
  /** The cursor of the event being resolved, for `extensions.cursor` (transports/sse.ts). */
  currentCursor?: string | undefined;
}

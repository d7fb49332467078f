import type { GraphQLFormattedError } from 'graphql';
import {
  createClient,
  type Client,
  type ClientOptions,
  type Event,
  type EventListener,
  type FormattedExecutionResult,
  type Sink,
  type SubscribePayload,
} from 'graphql-ws';
import { createPlanCache } from './document.ts';
import { iterateSink } from './iterate.ts';
import { isFatal as defaultIsFatal, type BackoffOptions } from './policy.ts';
import { RetryGate } from './retry-gate.ts';
import { ResumableOperation, type KitPolicy } from './subscription.ts';

/**
 * A REPLAY_GAP the server reported — events between `after` and `oldestCursor` are lost to this subscription —
 * or one the kit noticed itself: the stream went on in another history (cursor epoch changed, `seq` went back)
 * without a notice (`oldestCursor` undefined, `error.extensions.reason` "history-changed"). A server reset of
 * the history (Redis lost or rewound events) comes with `reason: "history-reset"`; seq numbering restarts.
 */
export interface ReplayGap {
  /** The cursor the kit resumed after (the last event the application got), if any. */
  readonly after: string | undefined;
  /** Just before the oldest event the server still retains; the stream goes on from there. */
  readonly oldestCursor: string | undefined;
  /** The error of the REPLAY_GAP result, as the server sent it. */
  readonly error: GraphQLFormattedError;
  readonly operationName: string | undefined;
}

/** Told before every resubscription. */
export interface RetryInfo {
  /** Consecutive attempts of this subscription, from 1. Resets when a result arrives or a connection is acknowledged. */
  readonly attempt: number;
  readonly delayMs: number;
  /** What ended the previous attempt: a close event, an error event, an Error, or 'complete' (the server ended the stream: a drain). */
  readonly cause: unknown;
  /** `cause` in words, e.g. `closed 1001 Going away`. */
  readonly reason: string;
  /** Where the subscription will resume. */
  readonly after: string | undefined;
  readonly operationName: string | undefined;
}

export interface ResumableClientOptions<P extends Record<string, unknown> | undefined = Record<string, unknown> | undefined> extends Omit<
  ClientOptions<P>,
  'retryAttempts' | 'retryWait' | 'shouldRetry' | 'lazy' | 'onNonLazyError'
> {
  /**
   * Called before every connection (the first and each reconnect); a token
   * becomes `connectionParams.authorization = "Bearer <token>"`. This is how a
   * 4440 (token expired) close is survived: the reconnect asks for a fresh one.
   */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  backoff?: BackoffOptions;
  /** Consecutive failed attempts per subscription before it errors. Default: unlimited. */
  maxRetries?: number;
  /** Default REPLAY_GAP handler for every subscription (a per-subscription one wins). */
  onGap?: (gap: ReplayGap) => void;
  onRetry?: (info: RetryInfo) => void;
  /** Which failures end a subscription instead of being retried. Default: `isFatal` from policy.ts. */
  isFatal?: (error: unknown) => boolean;
  /**
   * Resubscribe when the server completes a subscription the application did
   * not end. Default true: the chain's streams never end by themselves, so a
   * server-side `complete` means the server is draining (it closes with 1001 next).
   */
  resubscribeOnComplete?: boolean;
  /** Random source for the backoff jitter (tests). */
  random?: () => number;
}

export interface ResumableSubscribeOptions {
  /** REPLAY_GAP handler for this subscription. Without any handler the gap result reaches the sink as an error result. */
  onGap?: (gap: ReplayGap) => void;
  /** Start after this cursor (e.g. one saved from a previous session) instead of live. */
  after?: string;
}

/** A running resumable subscription. */
export interface ResumableSubscription {
  /** The last cursor delivered to the application: where a resubscription starts. */
  readonly cursor: string | undefined;
  /** Resubscriptions so far (all causes). */
  readonly resubscriptions: number;
  /** Results the kit dropped as already delivered (should stay 0; it is a safety net). */
  readonly duplicatesDropped: number;
  unsubscribe(): void;
}

/**
 * A graphql-ws `Client` whose subscriptions survive reconnects: everything a
 * graphql-ws client does (so Apollo's GraphQLWsLink and urql's
 * subscriptionExchange accept it as is), plus resumption by cursor.
 */
export interface ResumableClient extends Client {
  /** The graphql-ws client underneath (retries off: the kit owns them). */
  readonly inner: Client;
  /** Like `subscribe`, with per-subscription options and a handle that tells the cursor. */
  resumable<Data = Record<string, unknown>, Extensions = unknown>(
    payload: SubscribePayload,
    sink: Sink<FormattedExecutionResult<Data, Extensions>>,
    options?: ResumableSubscribeOptions,
  ): ResumableSubscription;
}

/**
 * Creates the resumable client. Every subscription remembers the cursor of
 * the last result it delivered (`extensions.cursor`, which the server puts on
 * every subscription result) and, whenever the subscription ends without the
 * application asking — network drop, server drain (`complete`, then 1001),
 * 4440 token expired, 4008 slow consumer — resubscribes after a jittered
 * backoff with `after: <cursor>`, so the application sees each event once
 * (subscription.ts). All subscriptions resubscribe in the same round
 * (retry-gate.ts): one socket per reconnect attempt, however many there are.
 *
 * The document is rewritten once to carry `after: $after` on its stream field
 * (see document.ts), so any subscription document works unchanged.
 */
export function createResumableClient<P extends Record<string, unknown> | undefined = Record<string, unknown> | undefined>(
  options: ResumableClientOptions<P>,
): ResumableClient {
  const {
    getToken,
    backoff,
    maxRetries = Number.POSITIVE_INFINITY,
    onGap,
    onRetry,
    isFatal = defaultIsFatal,
    resubscribeOnComplete = true,
    random = Math.random,
    connectionParams,
    ...clientOptions
  } = options;

  const params = async (): Promise<Record<string, unknown> | undefined> => {
    const base = (typeof connectionParams === 'function' ? await connectionParams() : connectionParams) as
      Record<string, unknown> | undefined;
    if (!getToken) return base;
    const token = await getToken();
    return token ? { ...base, authorization: `Bearer ${token}` } : base;
  };

  const inner = createClient({
    ...(clientOptions as ClientOptions),
    connectionParams: params,
    lazy: true,
    // The kit retries, because only it knows the cursor to resume from.
    retryAttempts: 0,
  });

  const plans = createPlanCache();
  const running = new Set<ResumableOperation<unknown, unknown>>();
  let disposed = false;
  const gate = new RetryGate(backoff, random);
  const policy: KitPolicy = {
    inner,
    gate,
    maxRetries,
    onGap,
    onRetry,
    isFatal,
    resubscribeOnComplete,
    disposed: () => disposed,
  };
  inner.on('connected', () => {
    gate.connected();
    for (const operation of running) operation.connected();
  });

  const client: ResumableClient = {
    inner,
    resumable(payload, sink, subscribeOptions = {}) {
      const plan = plans(payload.query, payload.operationName ?? undefined);
      if (!plan) {
        // Queries and mutations: nothing to resume.
        const unsubscribe = inner.subscribe(payload, sink);
        return { cursor: undefined, resubscriptions: 0, duplicatesDropped: 0, unsubscribe };
      }
      const operation: ResumableOperation<unknown, unknown> = new ResumableOperation(
        policy,
        plan,
        payload,
        sink as never,
        subscribeOptions,
        () => running.delete(operation),
      );
      running.add(operation);
      operation.start();
      return operation;
    },
    subscribe(payload, sink) {
      const operation = client.resumable(payload, sink);
      return () => operation.unsubscribe();
    },
    iterate<Data = Record<string, unknown>, Extensions = unknown>(payload: SubscribePayload) {
      return iterateSink<FormattedExecutionResult<Data, Extensions>>((sink) => client.subscribe<Data, Extensions>(payload, sink));
    },
    on<E extends Event>(event: E, listener: EventListener<E>) {
      return inner.on(event, listener);
    },
    terminate() {
      inner.terminate();
    },
    async dispose() {
      disposed = true;
      for (const operation of [...running]) operation.unsubscribe();
      gate.clear();
      await inner.dispose();
    },
  };
  return client;
}

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
import { createPlanCache, type ResumePlan } from './document.ts';
import { backoffDelay, describeFailure, isFatal as defaultIsFatal, type BackoffOptions } from './policy.ts';

/** A REPLAY_GAP the server reported: events between `after` and `oldestCursor` are lost to this subscription. */
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

export interface ResumableClientOptions<P extends Record<string, unknown> | undefined = Record<string, unknown> | undefined>
  extends Omit<ClientOptions<P>, 'retryAttempts' | 'retryWait' | 'shouldRetry' | 'lazy' | 'onNonLazyError'> {
  /**
   * Called before every connection (the first and each reconnect); a token
   * becomes `connectionParams.authorization = "Bearer <token>"`. This is how a
   * 4403 'token expired' close is survived: the reconnect asks for a fresh one.
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

const GAP_CODE = 'REPLAY_GAP';
/** Cursors remembered per subscription to drop an exact repeat even when `seq` is not selected. */
const RECENT_CURSORS = 256;

/**
 * Creates the resumable client. Every subscription remembers the cursor of
 * the last result it delivered (`extensions.cursor`, which the server puts on
 * every subscription result) and, whenever the subscription ends without the
 * application asking — network drop, server drain (`complete`, then 1001),
 * 4403 'token expired', 4008 slow consumer — resubscribes after a jittered
 * backoff with `after: <cursor>`, so the application sees each event once.
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
    onGap: defaultOnGap,
    onRetry,
    isFatal = defaultIsFatal,
    resubscribeOnComplete = true,
    random = Math.random,
    connectionParams,
    ...clientOptions
  } = options;

  const params = async (): Promise<Record<string, unknown> | undefined> => {
    const base = (typeof connectionParams === 'function' ? await connectionParams() : connectionParams) as
      | Record<string, unknown>
      | undefined;
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
  const running = new Set<{ connected(): void; stop(): void }>();
  let disposed = false;
  inner.on('connected', () => {
    for (const subscription of running) subscription.connected();
  });

  function resumable<Data, Extensions>(
    payload: SubscribePayload,
    sink: Sink<FormattedExecutionResult<Data, Extensions>>,
    subscribeOptions: ResumableSubscribeOptions = {},
  ): ResumableSubscription {
    const operationName = payload.operationName ?? undefined;
    const plan: ResumePlan | undefined = plans(payload.query, operationName);
    if (!plan) {
      // Queries and mutations: nothing to resume.
      const unsubscribe = inner.subscribe(payload, sink);
      return { cursor: undefined, resubscriptions: 0, duplicatesDropped: 0, unsubscribe };
    }
    const onGap = subscribeOptions.onGap ?? defaultOnGap;
    const initialAfter = subscribeOptions.after ?? stringOrUndefined(payload.variables?.[plan.afterVariable]) ?? stringOrUndefined(plan.defaults[plan.afterVariable]);

    let cursor: string | undefined = initialAfter;
    let lastSeq: number | undefined;
    const recent = new Set<string>();
    let attempt = 0;
    let resubscriptions = 0;
    let duplicatesDropped = 0;
    let stopped = false; // the application unsubscribed, or the subscription failed for good
    let ended = false; // the sink got error or complete
    let innerDispose: (() => void) | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;

    // graphql-ws serializes the payload when it sends it, so reading the cursor
    // lazily also keeps graphql-ws's own immediate resend (after a 1000 close) exact.
    const livePayload: SubscribePayload = {
      get query() {
        return cursor === undefined ? plan.query : plan.resumeQuery;
      },
      get variables() {
        const variables: Record<string, unknown> = { ...plan.defaults, ...payload.variables, [plan.afterVariable]: cursor ?? null };
        if (cursor !== undefined && plan.replayVariable) variables[plan.replayVariable] = null;
        return variables;
      },
      ...(payload.operationName != null && { operationName: payload.operationName }),
      ...(payload.extensions != null && { extensions: payload.extensions }),
    };

    const end = (how: 'complete' | { error: unknown }) => {
      if (ended) return;
      ended = true;
      running.delete(handle);
      clearTimeout(timer);
      if (how === 'complete') sink.complete();
      else sink.error(how.error);
    };

    const deliver = (result: FormattedExecutionResult<Data, Extensions>) => {
      try {
        sink.next(result);
      } catch (error) {
        // An application error must not look like a bad server response and break the socket for everyone.
        setTimeout(() => {
          throw error;
        });
      }
    };

    const onResult = (result: FormattedExecutionResult<Data, Extensions>) => {
      if (stopped) return;
      attempt = 0;
      const gapError = result.errors?.find((e) => e.extensions?.['code'] === GAP_CODE);
      if (gapError) {
        const oldest = stringOrUndefined(gapError.extensions?.['oldestCursor']);
        const gap: ReplayGap = { after: cursor, oldestCursor: oldest, error: gapError, operationName };
        // Go on from what the server still has; sequence numbers may restart (a new history), so forget them.
        cursor = oldest ?? cursor;
        lastSeq = undefined;
        recent.clear();
        if (onGap) onGap(gap);
        else deliver(result);
        return;
      }
      const item = (result.data as Record<string, unknown> | null | undefined)?.[plan.responseKey] as
        | { seq?: unknown; cursor?: unknown }
        | null
        | undefined;
      const resultCursor = stringOrUndefined((result.extensions as { cursor?: unknown } | undefined)?.cursor) ?? stringOrUndefined(item?.cursor);
      const seq = typeof item?.seq === 'number' ? item.seq : undefined;
      if ((resultCursor !== undefined && recent.has(resultCursor)) || (seq !== undefined && lastSeq !== undefined && seq <= lastSeq)) {
        duplicatesDropped++;
        return;
      }
      if (resultCursor !== undefined) {
        cursor = resultCursor;
        recent.add(resultCursor);
        if (recent.size > RECENT_CURSORS) recent.delete(recent.values().next().value as string);
      }
      if (seq !== undefined) lastSeq = seq;
      deliver(result);
    };

    const retry = (cause: unknown) => {
      if (stopped) return;
      attempt++;
      if (attempt > maxRetries) {
        stopped = true;
        end({ error: cause });
        return;
      }
      const delayMs = backoffDelay(attempt, backoff, random);
      onRetry?.({ attempt, delayMs, cause, reason: cause === 'complete' ? 'completed by the server' : describeFailure(cause), after: cursor, operationName });
      timer = setTimeout(start, delayMs);
    };

    function start() {
      timer = undefined;
      if (stopped) return;
      let settled = false;
      innerDispose = inner.subscribe<Data, Extensions>(livePayload, {
        next: onResult,
        error: (error) => {
          if (settled) return;
          settled = true;
          innerDispose = undefined;
          if (stopped || disposed) return end({ error });
          if (isFatal(error)) {
            stopped = true;
            return end({ error });
          }
          resubscriptions++;
          retry(error);
        },
        complete: () => {
          if (settled) return;
          settled = true;
          innerDispose = undefined;
          if (stopped || disposed || !resubscribeOnComplete) {
            stopped = true;
            return end('complete');
          }
          resubscriptions++;
          retry('complete');
        },
      });
    }

    const handle = {
      connected() {
        attempt = 0;
      },
      stop() {
        if (stopped && !innerDispose) return end('complete');
        stopped = true;
        clearTimeout(timer);
        if (innerDispose) {
          // graphql-ws sends `complete` to the server, then completes the sink; end() forwards that.
          const dispose = innerDispose;
          innerDispose = undefined;
          dispose();
        }
        end('complete');
      },
    };
    running.add(handle);
    start();

    return {
      get cursor() {
        return cursor;
      },
      get resubscriptions() {
        return resubscriptions;
      },
      get duplicatesDropped() {
        return duplicatesDropped;
      },
      unsubscribe: () => handle.stop(),
    };
  }

  const client: ResumableClient = {
    inner,
    resumable,
    subscribe(payload, sink) {
      return resumable(payload, sink).unsubscribe;
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
      for (const subscription of [...running]) subscription.stop();
      await inner.dispose();
    },
  };
  return client;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** An async iterator over a sink-style subscription (what graphql-ws's `iterate` does). */
function iterateSink<T>(subscribe: (sink: Sink<T>) => () => void): AsyncIterableIterator<T> {
  const pending: T[] = [];
  let done = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const dispose = subscribe({
    next(value) {
      pending.push(value);
      notify();
    },
    error(error) {
      failure = { error };
      done = true;
      notify();
    },
    complete() {
      done = true;
      notify();
    },
  });
  const iterator: AsyncIterableIterator<T> = {
    async next() {
      for (;;) {
        if (pending.length > 0) return { done: false, value: pending.shift() as T };
        if (failure) {
          const { error } = failure;
          failure = undefined;
          throw error;
        }
        if (done) return { done: true, value: undefined };
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async return() {
      done = true;
      dispose();
      notify();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

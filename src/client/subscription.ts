import type { Client, FormattedExecutionResult, Sink, SubscribePayload } from 'graphql-ws';
import type { ResumePlan } from './document.ts';
import { fingerprint, historyOf } from './history.ts';
import { describeFailure } from './policy.ts';
import type { RetryGate, RetryTicket } from './retry-gate.ts';
import type { ReplayGap, ResumableSubscribeOptions, ResumableSubscription, RetryInfo } from './resumable.ts';

const GAP_CODE = 'REPLAY_GAP';
/** Cursors (with a fingerprint of their result) remembered per subscription to drop an exact repeat even when `seq` is not selected. */
const RECENT_CURSORS = 256;

/** What every subscription of one kit shares. */
export interface KitPolicy {
  inner: Client;
  /** The one reconnect schedule every subscription of the kit waits on. */
  gate: RetryGate;
  maxRetries: number;
  onGap: ((gap: ReplayGap) => void) | undefined;
  onRetry: ((info: RetryInfo) => void) | undefined;
  isFatal: (error: unknown) => boolean;
  resubscribeOnComplete: boolean;
  /** True once the kit was disposed: nothing is retried any more. */
  disposed(): boolean;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * One resumable subscription: remembers the cursor of the last result it
 * delivered and, whenever the subscription ends without the application
 * asking, resubscribes with the kit's next retry round (retry-gate.ts) with `after: <cursor>`, so the
 * application sees each event once. A REPLAY_GAP result is reported (onGap)
 * and the subscription goes on from what the server still has.
 *
 * Only an exact repeat (same cursor, same result) is dropped. A result that
 * shows the stream went on in another history without the server saying so —
 * another epoch in its cursor, a `seq` not above the last one, a cursor reused
 * for another event — is delivered, after a REPLAY_GAP reported the same way
 * (onGap, or an error result): never dropped, since it was never delivered.
 */
export class ResumableOperation<Data, Extensions> implements ResumableSubscription {
  private cursorValue: string | undefined;
  private lastSeq: number | undefined;
  private readonly recent = new Map<string, number>();
  private attempt = 0;
  private resubscribeCount = 0;
  private dropped = 0;
  /** The application unsubscribed, or the subscription failed for good. */
  private stopped = false;
  /** The sink got error or complete. */
  private ended = false;
  private innerDispose: (() => void) | undefined;
  private ticket: RetryTicket | undefined;
  private readonly onGap: ((gap: ReplayGap) => void) | undefined;
  private readonly operationName: string | undefined;
  /**
   * What goes to graphql-ws. It serializes the payload when it sends it, so
   * reading the cursor lazily keeps graphql-ws's own immediate resend (after a
   * 1000 close) exact.
   */
  private readonly livePayload: SubscribePayload;

  constructor(
    private readonly kit: KitPolicy,
    private readonly plan: ResumePlan,
    payload: SubscribePayload,
    private readonly sink: Sink<FormattedExecutionResult<Data, Extensions>>,
    options: ResumableSubscribeOptions,
    /** Called once the sink got its error or complete. */
    private readonly onEnded: () => void,
  ) {
    this.onGap = options.onGap ?? kit.onGap;
    this.operationName = payload.operationName ?? undefined;
    this.cursorValue =
      options.after ?? stringOrUndefined(payload.variables?.[plan.afterVariable]) ?? stringOrUndefined(plan.defaults[plan.afterVariable]);
    const live = {
      ...(payload.operationName != null && { operationName: payload.operationName }),
      ...(payload.extensions != null && { extensions: payload.extensions }),
    };
    // Enumerable getters, so JSON.stringify (graphql-ws's send) reads the cursor at that moment.
    this.livePayload = Object.defineProperties(live, {
      query: { enumerable: true, get: () => (this.cursorValue === undefined ? plan.query : plan.resumeQuery) },
      variables: {
        enumerable: true,
        get: () => {
          const variables: Record<string, unknown> = {
            ...plan.defaults,
            ...payload.variables,
            [plan.afterVariable]: this.cursorValue ?? null,
          };
          if (this.cursorValue !== undefined && plan.replayVariable) variables[plan.replayVariable] = null;
          return variables;
        },
      },
    }) as SubscribePayload;
  }

  get cursor(): string | undefined {
    return this.cursorValue;
  }

  get resubscriptions(): number {
    return this.resubscribeCount;
  }

  get duplicatesDropped(): number {
    return this.dropped;
  }

  /** A connection was acknowledged: the next failure starts the backoff afresh. */
  connected(): void {
    this.attempt = 0;
  }

  start(): void {
    this.ticket = undefined;
    if (this.stopped) return;
    let settled = false;
    this.innerDispose = this.kit.inner.subscribe<Data, Extensions>(this.livePayload, {
      next: (result) => this.onResult(result),
      error: (error) => {
        if (settled) return;
        settled = true;
        this.innerDispose = undefined;
        if (this.stopped || this.kit.disposed()) return this.end({ error });
        if (this.kit.isFatal(error)) {
          this.stopped = true;
          return this.end({ error });
        }
        this.resubscribeCount++;
        this.retry(error);
      },
      complete: () => {
        if (settled) return;
        settled = true;
        this.innerDispose = undefined;
        if (this.stopped || this.kit.disposed() || !this.kit.resubscribeOnComplete) {
          this.stopped = true;
          return this.end('complete');
        }
        this.resubscribeCount++;
        this.retry('complete');
      },
    });
  }

  unsubscribe(): void {
    if (this.stopped && !this.innerDispose) return this.end('complete');
    this.stopped = true;
    this.ticket?.cancel();
    if (this.innerDispose) {
      // graphql-ws sends `complete` to the server, then completes the sink; end() forwards that.
      const dispose = this.innerDispose;
      this.innerDispose = undefined;
      dispose();
    }
    this.end('complete');
  }

  private end(how: 'complete' | { error: unknown }): void {
    if (this.ended) return;
    this.ended = true;
    this.ticket?.cancel();
    this.onEnded();
    if (how === 'complete') this.sink.complete();
    else this.sink.error(how.error);
  }

  private deliver(result: FormattedExecutionResult<Data, Extensions>): void {
    try {
      this.sink.next(result);
    } catch (error) {
      // An application error must not look like a bad server response and break the socket for everyone.
      setTimeout(() => {
        throw error;
      });
    }
  }

  private onResult(result: FormattedExecutionResult<Data, Extensions>): void {
    if (this.stopped) return;
    this.attempt = 0;
    const gapError = result.errors?.find((e) => e.extensions?.['code'] === GAP_CODE);
    if (gapError) {
      const oldest = stringOrUndefined(gapError.extensions?.['oldestCursor']);
      const gap: ReplayGap = { after: this.cursorValue, oldestCursor: oldest, error: gapError, operationName: this.operationName };
      // Go on from what the server still has; sequence numbers may restart (a new history), so forget them.
      this.cursorValue = oldest ?? this.cursorValue;
      this.reportGap(gap, result);
      return;
    }
    const item = (result.data as Record<string, unknown> | null | undefined)?.[this.plan.responseKey] as
      { seq?: unknown; cursor?: unknown } | null | undefined;
    const resultCursor =
      stringOrUndefined((result.extensions as { cursor?: unknown } | undefined)?.cursor) ?? stringOrUndefined(item?.cursor);
    const seq = typeof item?.seq === 'number' ? item.seq : undefined;
    const print = resultCursor === undefined ? 0 : fingerprint(result.data);
    if (resultCursor !== undefined && this.recent.get(resultCursor) === print) {
      this.dropped++;
      return;
    }
    const unannounced = this.unannouncedReset(resultCursor, seq);
    if (unannounced) {
      const error = { message: unannounced, extensions: { code: GAP_CODE, reason: 'history-changed' } };
      this.reportGap({ after: this.cursorValue, oldestCursor: undefined, error, operationName: this.operationName }, {
        data: null,
        errors: [error],
      } as FormattedExecutionResult<Data, Extensions>);
    }
    if (resultCursor !== undefined) {
      this.cursorValue = resultCursor;
      this.recent.set(resultCursor, print);
      if (this.recent.size > RECENT_CURSORS) this.recent.delete(this.recent.keys().next().value as string);
    }
    if (seq !== undefined) this.lastSeq = seq;
    this.deliver(result);
  }

  /** A gap: sequence numbers may restart (a new history), so what was remembered by seq and cursor goes. */
  private reportGap(gap: ReplayGap, result: FormattedExecutionResult<Data, Extensions>): void {
    this.lastSeq = undefined;
    this.recent.clear();
    if (this.onGap) this.onGap(gap);
    else this.deliver(result);
  }

  /** Why this (not repeated) result shows the stream went on in another history without a REPLAY_GAP, if it does. */
  private unannouncedReset(cursor: string | undefined, seq: number | undefined): string | undefined {
    if (cursor !== undefined && this.recent.has(cursor)) return 'the stream reused a cursor for another event: its history was rewound';
    const now = historyOf(cursor);
    const before = historyOf(this.cursorValue);
    if (now !== undefined && before !== undefined && now !== before) return "the stream's history changed without a REPLAY_GAP notice";
    if (seq !== undefined && this.lastSeq !== undefined && seq <= this.lastSeq)
      return 'sequence numbers went back: the stream is in another history';
    return undefined;
  }

  private retry(cause: unknown): void {
    if (this.stopped) return;
    this.attempt++;
    if (this.attempt > this.kit.maxRetries) {
      this.stopped = true;
      this.end({ error: cause });
      return;
    }
    // Resubscribe with the kit's next round, beside every other subscription that lost the connection.
    this.ticket = this.kit.gate.wait(() => this.start());
    this.kit.onRetry?.({
      attempt: this.attempt,
      delayMs: this.ticket.delayMs,
      cause,
      reason: cause === 'complete' ? 'completed by the server' : describeFailure(cause),
      after: this.cursorValue,
      operationName: this.operationName,
    });
  }
}

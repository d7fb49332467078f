import { afterAll, expect } from 'vitest';
import type { ClientOptions } from 'ws';
import { graphqlWsConnection, type GraphQLWsConnection } from './clients.ts';
import type { ServerUrls, TestServer } from './server.ts';
import { sequenceProblems } from './sequences.ts';
import { track, useFixture } from './track.ts';
import { waitFor } from './wait.ts';

/** One event of a control subscription. */
export interface ControlEvent {
  seq: number;
  cursor: string;
}

/**
 * A well-behaved graphql-ws client subscribed to `transactions`, selecting
 * `seq` and `cursor`: the witness that whatever a test did to the server, a
 * client that behaves lost nothing. `verify()` waits until it has received an
 * event the server published after the call, then checks the sequence is
 * contiguous from its first event: nothing lost, nothing duplicated, nothing
 * reordered, no error, still open.
 */
export interface ControlFeed {
  readonly events: ControlEvent[];
  readonly errors: unknown[];
  readonly ended: boolean;
  readonly connection: GraphQLWsConnection;
  /** Waits for the first event. */
  started(timeoutMs?: number): Promise<void>;
  /** Waits until an event the server published after the call arrived, then checks contiguity; returns the number of events. */
  verify(timeoutMs?: number): Promise<number>;
  dispose(): Promise<void>;
}

export const CONTROL_QUERY = 'subscription Control { transactions { seq cursor txHash } }';

/** `urls` reach the server another way than its own (wss:// with `ws` TLS options, say). */
export interface ControlFeedOptions {
  authorization?: string;
  ws?: ClientOptions;
  urls?: ServerUrls;
}

export function startControlFeed(server: TestServer, options: ControlFeedOptions = {}): ControlFeed {
  const connection = graphqlWsConnection(options.urls ?? server, {
    ...(options.authorization !== undefined && { authorization: options.authorization }),
    ...(options.ws && { ws: options.ws }),
  });
  const events: ControlEvent[] = [];
  const errors: unknown[] = [];
  let ended = false;
  const unsubscribe = connection.client.subscribe<{ transactions: ControlEvent }>(
    { query: CONTROL_QUERY },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        const event = result.data?.transactions;
        if (event) events.push({ seq: event.seq, cursor: event.cursor });
      },
      error: (error) => {
        errors.push(error);
        ended = true;
      },
      complete: () => {
        ended = true;
      },
    },
  );
  return track({
    events,
    errors,
    get ended() {
      return ended;
    },
    connection,
    async started(timeoutMs = 10_000) {
      await waitFor(() => events.length > 0, { timeoutMs, what: 'the control client to receive its first event' });
    },
    async verify(timeoutMs = 15_000) {
      const target = server.app.streams.hubs.transactions.latest()?.seq ?? 0;
      await waitFor(() => ended || (events.at(-1)?.seq ?? 0) >= target, {
        timeoutMs,
        what: `the control client to reach seq ${target} (at ${events.at(-1)?.seq})`,
      });
      const problems = sequenceProblems(events.map((e) => e.seq));
      if (errors.length > 0) throw new Error(`control client got errors: ${JSON.stringify(errors).slice(0, 500)}`);
      if (ended) throw new Error(`control subscription ended (close ${JSON.stringify(connection.closeInfo)})`);
      if (problems) throw new Error(`control client lost or reordered events: ${problems}`);
      return events.length;
    },
    async dispose() {
      unsubscribe();
      await connection.dispose();
    },
  });
}

/**
 * The suite's control client: started (and its first event received) in a
 * beforeAll after the suite's server, verified in an afterAll — the suite must
 * leave it with at least `minEvents` contiguous events — and closed with the
 * suite. Use the returned handle inside tests and hooks.
 */
export function useControlFeed(
  server: TestServer,
  options: { authorization?: () => string | Promise<string>; ws?: () => ClientOptions; urls?: ServerUrls; minEvents?: number } = {},
): ControlFeed {
  const control = useFixture(
    async () => {
      const feed = startControlFeed(server, {
        ...(options.authorization && { authorization: await options.authorization() }),
        ...(options.ws && { ws: options.ws() }),
        ...(options.urls && { urls: options.urls }),
      });
      await feed.started();
      return feed;
    },
    { name: 'useControlFeed()' },
  );
  afterAll(async () => {
    expect(await control.verify(), 'events the control client received, none lost').toBeGreaterThanOrEqual(options.minEvents ?? 1);
  });
  return control;
}

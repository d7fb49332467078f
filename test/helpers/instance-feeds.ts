import { graphqlWsClient } from './clients.ts';
import { fullSelection, type StreamName } from './contract.ts';
import { getStats } from './ops.ts';
import type { ServerUrls } from './server.ts';
import { openLegacy, type ClientSocket } from './sockets.ts';
import { track } from './track.ts';
import { waitFor } from './wait.ts';

/**
 * Subscribers for tests that run several server instances (child processes on
 * one Redis): the same record over graphql-ws and legacy `?meta=1`, so a test
 * can compare what each instance delivered by seq and by natural key. Works
 * with any `ServerUrls` (ChildServer or in-process TestServer).
 */

export type SeqItem = Record<string, unknown> & { seq: number; cursor: string };

export interface SeqFeed {
  readonly label: string;
  readonly events: SeqItem[];
  /** GraphQL error results, or legacy `{"error": …}` frames. */
  readonly errors: unknown[];
  /** Socket closes seen by the client (graphql-ws `closed` events, the legacy close). */
  readonly closes: { code: number; reason: string }[];
  /** Set when the subscription ended (complete, error or close). */
  readonly ended: boolean;
  lastCursor(): string | undefined;
  seqs(): number[];
  /** Values of one field, in arrival order. */
  field(name: string): unknown[];
  /** Unsubscribes / closes as the client would; resolves once the socket is closed. */
  stop(): Promise<void>;
}

function subscriptionDocument(stream: StreamName): string {
  return `subscription Feed($after: String, $replay: Int) { ${stream}(after: $after, replay: $replay) { ${fullSelection(stream)} } }`;
}

/** A graphql-ws subscription on its own connection (as one browser tab would have). */
export async function graphqlWsFeed(
  server: ServerUrls,
  stream: StreamName,
  args: { after?: string; replay?: number } = {},
  label = `graphql-ws ${stream}`,
): Promise<SeqFeed> {
  const events: SeqItem[] = [];
  const errors: unknown[] = [];
  const closes: { code: number; reason: string }[] = [];
  let ended = false;
  let connected = false;
  const client = graphqlWsClient(server, {
    lazy: false,
    on: {
      connected: () => {
        connected = true;
      },
      closed: (event) => {
        const e = event as { code?: number; reason?: string };
        closes.push({ code: e.code ?? 0, reason: String(e.reason ?? '') });
      },
    },
  });
  const unsubscribe = client.subscribe<Record<string, unknown>>(
    { query: subscriptionDocument(stream), variables: args },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        const item = result.data?.[stream] as SeqItem | undefined;
        if (item) events.push(item);
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
  await waitFor(() => connected || ended, { timeoutMs: 15_000, what: `${label} to connect` });
  return track<SeqFeed>({
    label,
    events,
    errors,
    closes,
    get ended() {
      return ended;
    },
    lastCursor: () => events.at(-1)?.cursor,
    seqs: () => events.map((e) => e.seq),
    field: (name) => events.map((e) => e[name]),
    async stop() {
      unsubscribe();
      await client.dispose();
    },
  });
}

/** A legacy `/ws/<stream>?meta=1` socket (plus any extra query, e.g. `since=`). */
export async function legacyMetaFeed(
  server: ServerUrls,
  stream: StreamName,
  query: Record<string, string> = {},
  label = `legacy ${stream}`,
): Promise<SeqFeed & { readonly client: ClientSocket; terminate(): void }> {
  const params = new URLSearchParams({ ...query, meta: '1' });
  const client = await openLegacy(server, `/ws/${stream}?${params.toString()}`);
  const closes: { code: number; reason: string }[] = [];
  let ended = false;
  // Derived from openLegacy's record on every read: frames that arrive in the same chunk as the handshake count too.
  const items = () => client.frames.map((f) => f.json as (SeqItem & { error?: unknown }) | undefined).filter((j) => j !== undefined);
  const events = () => items().filter((j) => !('error' in j));
  void client.closed.then((info) => {
    closes.push(info);
    ended = true;
  });
  return track<SeqFeed & { readonly client: ClientSocket; terminate(): void }>({
    label,
    client,
    get events() {
      return events();
    },
    get errors() {
      return items()
        .filter((j) => 'error' in j)
        .map((j) => j.error);
    },
    closes,
    get ended() {
      return ended;
    },
    lastCursor: () => events().at(-1)?.cursor,
    seqs: () => events().map((e) => e.seq),
    field: (name) => events().map((e) => e[name]),
    async stop() {
      await client.close();
    },
    terminate() {
      client.ws.terminate();
    },
  });
}

/** `/ready`: status code and the reported status. */
export async function getReady(server: ServerUrls): Promise<{ status: number; body: { status?: string } }> {
  const response = await fetch(server.http('/ready'));
  return { status: response.status, body: (await response.json().catch(() => ({}))) as { status?: string } };
}

/**
 * The attach barrier: waits until the instance counts exactly `count`
 * subscribers of `transactions`. Exact, so run it from a known state (see
 * `noSubscribers`): a subscriber of a previous test still detaching would
 * otherwise stand in for one not yet attached.
 */
export function transactionSubscribers(server: ServerUrls, count: number, timeoutMs = 15_000): Promise<number> {
  return waitFor(
    async () => {
      const stats = await getStats(server);
      return stats.transactionConnections === count && count + 1;
    },
    { timeoutMs, what: `exactly ${count} transactions subscribers on ${server.http()}` },
  );
}

/** Waits until the instance has no subscriber on any stream (a test's feeds are gone). */
export function noSubscribers(server: ServerUrls, timeoutMs = 15_000): Promise<true> {
  return waitFor(async () => (await getStats(server)).totalConnections === 0, {
    timeoutMs,
    what: `no subscribers left on ${server.http()}`,
  });
}

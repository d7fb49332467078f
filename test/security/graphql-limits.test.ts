import { beforeAll, describe, expect, test } from 'vitest';
import { useControlFeed } from '../helpers/control-feed.ts';
import { useTestServer } from '../helpers/server.ts';
import { acknowledgedSocket, type ClientSocket } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * graphql-armor limits — depth (GRAPHQL_MAX_DEPTH 10), aliases
 * (GRAPHQL_MAX_ALIASES 15), tokens (GRAPHQL_MAX_TOKENS 1000) — at the limit
 * and one past it, on HTTP, SSE and graphql-ws, for queries and
 * subscriptions. Defaults, development profile (introspection on, used to
 * build deep valid documents). A control client loses nothing.
 */

const MAX_DEPTH = 10;
const MAX_ALIASES = 15;
const MAX_TOKENS = 1000;

const server = useTestServer();
useControlFeed(server, { minEvents: 11 });
let ws: ClientSocket;
beforeAll(async () => {
  ws = await acknowledgedSocket(server);
});

/** A valid introspection query exactly `depth` fields deep. */
function deepQuery(depth: number): string {
  const levels = ['__type(name: "Query")', 'fields', 'type', ...Array.from({ length: depth - 4 }, () => 'ofType')];
  return `{ ${levels.map((l) => `${l} {`).join(' ')} name ${'}'.repeat(levels.length)} }`;
}
/** `count` aliases. */
// `__typename` is on graphql-armor's alias allow-list; real fields count.
const aliasQuery = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: consensusState { round }`).join(' ')} }`;
const aliasSubscription = (count: number) =>
  `subscription { transactions { ${Array.from({ length: count }, (_, i) => `a${i}: seq`).join(' ')} } }`;
/**
 * Exactly `count` lexical tokens (commas are not tokens): a subscription whose filter lists every status
 * over and over (so it matches every transaction), 17 tokens around the list. (A selection of ~1000
 * `__typename` is cut short by graphql-js's own validation guard, "Validation aborted.", so the list
 * carries the count.)
 */
const tokenSubscription = (count: number) =>
  `subscription { transactions(filter: { status: [${Array.from({ length: count - 17 }, (_, i) => ['PENDING', 'SUCCESS', 'FAILED'][i % 3]).join(', ')}] }) { seq } }`;
/** The same list in a query, for plain HTTP (an unknown argument: refused by validation, not by the token limit). */
const tokenQuery = (count: number) => `{ consensusState(x: [${Array.from({ length: count - 12 }, () => '0').join(', ')}]) { round } }`;

interface Outcome {
  ok: boolean;
  messages: string[];
}

type Transport = 'http' | 'sse' | 'graphql-ws';
const TRANSPORTS: readonly Transport[] = ['http', 'sse', 'graphql-ws'];
let nextId = 0;

/** Runs the document on a transport; `ok` when it produced data without errors. */
async function run(transport: Transport, query: string): Promise<Outcome> {
  if (transport === 'http') {
    const response = await fetch(server.http('/graphql'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { data?: unknown; errors?: { message: string }[] };
    return { ok: !body.errors && body.data != null, messages: (body.errors ?? []).map((e) => e.message) };
  }
  if (transport === 'sse') {
    const probe = sseProbe(server.http('/graphql'), { query });
    await waitFor(() => probe.results.length > 0 || (probe.ended && probe.status !== undefined), { what: 'an SSE answer' });
    probe.abort();
    // Past auth and admission, every operation problem (limits included) is an event on a 200 stream, not an HTTP error.
    expect(probe.status, probe.body.slice(0, 200)).toBe(200);
    const result = probe.results[0] ?? {};
    return { ok: !result.errors && result.data != null, messages: (result.errors ?? []).map((e) => e.message) };
  }
  if (ws.ws.readyState !== ws.ws.OPEN) ws = await acknowledgedSocket(server);
  const socket = ws;
  const id = `op${++nextId}`;
  socket.send({ type: 'subscribe', id, payload: { query } });
  let closed: { code: number; reason: string } | undefined;
  void socket.closed.then((info) => (closed = info));
  const answer = await waitFor(
    () =>
      closed ??
      socket.messages.find(
        (m) => typeof m === 'object' && m !== null && (m as { id?: string }).id === id && (m as { type?: string }).type !== 'complete',
      ),
    { what: `the answer to ${id}` },
  );
  // A refused operation must be an error result; a close would end every other subscription on the socket.
  if (closed && answer === closed) {
    return { ok: false, messages: [`socket closed ${closed.code} ${closed.reason}`] };
  }
  const message = answer as { type: string; payload: { data?: unknown; errors?: { message: string }[] } | { message: string }[] };
  if (message.type === 'error') return { ok: false, messages: (message.payload as { message: string }[]).map((e) => e.message) };
  const payload = message.payload as { data?: unknown; errors?: { message: string }[] };
  // A subscription that was let in keeps streaming; stop it.
  if (query.startsWith('subscription')) socket.send({ type: 'complete', id });
  return { ok: !payload.errors && payload.data != null, messages: (payload.errors ?? []).map((e) => e.message) };
}

describe.each(TRANSPORTS)('%s', (transport) => {
  test(`depth ${MAX_DEPTH} passes, ${MAX_DEPTH + 1} is refused`, async () => {
    expect(await run(transport, deepQuery(MAX_DEPTH))).toEqual({ ok: true, messages: [] });
    const refused = await run(transport, deepQuery(MAX_DEPTH + 1));
    expect(refused.ok).toBe(false);
    expect(refused.messages.join()).toContain(`Query depth limit of ${MAX_DEPTH} exceeded, found ${MAX_DEPTH + 1}`);
  });

  test('depth hidden in fragments is counted too', async () => {
    const inner = 'fragment F on __Type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } }';
    const refused = await run(transport, `{ __type(name: "Query") { fields { type { ...F } } } } ${inner}`);
    expect(refused.ok).toBe(false);
    expect(refused.messages.join()).toMatch(/Query depth limit of 10 exceeded/);
  });

  test(`${MAX_ALIASES} aliases pass, ${MAX_ALIASES + 1} are refused — in queries and (SSE, graphql-ws) subscriptions`, async () => {
    expect((await run(transport, aliasQuery(MAX_ALIASES))).ok).toBe(true);
    const refused = await run(transport, aliasQuery(MAX_ALIASES + 1));
    expect(refused.ok).toBe(false);
    expect(refused.messages.join()).toContain(`Aliases limit of ${MAX_ALIASES} exceeded, found ${MAX_ALIASES + 1}`);
    if (transport === 'http') return;
    expect((await run(transport, aliasSubscription(MAX_ALIASES))).ok).toBe(true);
    const refusedSubscription = await run(transport, aliasSubscription(MAX_ALIASES + 1));
    expect(refusedSubscription.ok).toBe(false);
    expect(refusedSubscription.messages.join()).toContain('Aliases limit');
  });

  test(`${MAX_TOKENS} tokens pass, ${MAX_TOKENS + 1} are refused`, async () => {
    // Queries: the boundary is where the token-limit refusal starts.
    expect((await run(transport, tokenQuery(MAX_TOKENS))).messages.join()).not.toContain('Token limit');
    expect((await run(transport, tokenQuery(MAX_TOKENS + 1))).messages.join()).toContain(`Token limit of ${MAX_TOKENS} exceeded`);
    if (transport === 'http') return;
    // Subscriptions (SSE and graphql-ws): at the limit it streams, past it it is refused.
    expect(await run(transport, tokenSubscription(MAX_TOKENS))).toEqual({ ok: true, messages: [] });
    const refused = await run(transport, tokenSubscription(MAX_TOKENS + 1));
    expect(refused.ok).toBe(false);
    expect(refused.messages.join()).toContain(`Token limit of ${MAX_TOKENS} exceeded`);
  });

  test('a huge document is refused by the size or token limit, not parsed whole', async () => {
    const huge = `{ ${'__typename '.repeat(80_000)}}`; // 880 KB: under WS_MAX_MESSAGE_BYTES (1 MB)
    const refused = await run(transport, huge);
    expect(refused.ok).toBe(false);
    // The size limit (checked before parsing) or the token limit, whichever trips first: never a whole parse
    // (a whole parse would have answered with a validation result about the selection instead).
    expect(refused.messages.join()).toMatch(/Token limit|documents are limited/);
  });
});

import { beforeAll, describe, expect, test } from 'vitest';
import type { Client as SseClient } from 'graphql-sse';
import type { Client as WsClient } from 'graphql-ws';
import type { StreamName } from '../helpers/contract.ts';
import { graphqlSseClient, graphqlWsClient } from '../helpers/clients.ts';
import { holes } from '../helpers/sequences.ts';
import { useTestServer } from '../helpers/server.ts';
import { refusedLegacy } from '../helpers/sockets.ts';
import { attached, clientFeed, legacyFeed, rawSseFeed, type Feed, type FeedArgs } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Invalid filter and resume arguments get an error naming the argument:
 * a GraphQL error with extensions.code BAD_REQUEST and extensions.argument on
 * graphql-ws and SSE, HTTP 400 with a message before the handshake on legacy.
 * Clients already streaming are not disturbed.
 */

const server = useTestServer();
let wsClient: WsClient;
let sseClient: SseClient;
const background: Feed[] = [];
let backgroundStart: number[] = [];

const address = (i: number) => `0x${i.toString(16).padStart(40, '0')}`;
const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
const VALID = address(1);

beforeAll(async () => {
  wsClient = graphqlWsClient(server);
  sseClient = graphqlSseClient(server);
  // Clients that keep streaming throughout; every bad request below happens while they do.
  background.push(clientFeed(graphqlWsClient(server), 'transactions', {}, 'background graphql-ws'));
  background.push(clientFeed(graphqlSseClient(server), 'transactions', {}, 'background sse'));
  background.push(await legacyFeed(server, '/ws/transactions?meta=1', 'background legacy'));
  await attached(server, 'transactions', 3);
  await waitFor(() => background.every((f) => f.events.length > 0), { what: 'background feeds streaming' });
  backgroundStart = background.map((f) => f.events.length);
}, 30_000);

interface Invalid {
  name: string;
  stream: StreamName;
  args: FeedArgs;
  /** What extensions.argument must be (one of). */
  argument: string | string[];
}

const INVALID: Invalid[] = [
  { name: 'bad from address', stream: 'transactions', args: { filter: { from: ['0xnot-an-address'] } }, argument: 'filter.from[0]' },
  {
    name: 'short address in a list',
    stream: 'transactions',
    args: { filter: { address: [VALID, '0x1234'] } },
    argument: 'filter.address[1]',
  },
  { name: 'address without 0x', stream: 'transactions', args: { filter: { to: [VALID.slice(2)] } }, argument: 'filter.to[0]' },
  {
    name: 'bad validator address',
    stream: 'validators',
    args: { filter: { validator: [`0x${'zz'.repeat(20)}`] } },
    argument: 'filter.validator[0]',
  },
  { name: 'negative intervalMs', stream: 'metrics', args: { intervalMs: -1000 }, argument: 'intervalMs' },
  { name: 'zero intervalMs', stream: 'metrics', args: { intervalMs: 0 }, argument: 'intervalMs' },
  { name: 'non-numeric minValue', stream: 'transactions', args: { filter: { minValue: 'abc' } }, argument: 'filter.minValue' },
  { name: 'negative minValue', stream: 'transactions', args: { filter: { minValue: '-5' } }, argument: 'filter.minValue' },
  { name: 'exponent maxValue', stream: 'transactions', args: { filter: { maxValue: '1e18' } }, argument: 'filter.maxValue' },
  { name: 'fractional maxValue', stream: 'transactions', args: { filter: { maxValue: '1.5' } }, argument: 'filter.maxValue' },
  {
    name: '1,001 addresses',
    stream: 'transactions',
    args: { filter: { address: many(1001, (i) => address(i + 1)) } },
    argument: 'filter.address',
  },
  { name: '1,001 statuses', stream: 'transactions', args: { filter: { status: many(1001, () => 'FAILED') } }, argument: 'filter.status' },
  {
    name: '1,001 validators',
    stream: 'validators',
    args: { filter: { validator: many(1001, (i) => address(i + 1)) } },
    argument: 'filter.validator',
  },
  { name: '1,001 peer ids', stream: 'network', args: { filter: { peerId: many(1001, (i) => `peer${i}`) } }, argument: 'filter.peerId' },
  { name: 'empty peer id', stream: 'network', args: { filter: { peerId: [''] } }, argument: 'filter.peerId[0]' },
  { name: 'negative replay', stream: 'transactions', args: { replay: -1 }, argument: 'replay' },
  { name: 'replay beyond the buffer', stream: 'consensus', args: { replay: 10_000_001 }, argument: 'replay' },
  { name: 'after and replay together', stream: 'transactions', args: { after: 'x', replay: 5 }, argument: ['after', 'replay'] },
];

async function expectBadRequest(feed: Feed, expected: Invalid): Promise<void> {
  await waitFor(() => feed.ended || feed.errors.length > 0, { what: `${feed.label}: an error` });
  const error = feed.errors[0];
  expect(error, `${feed.label}: ${JSON.stringify(feed.failure)}`).toBeDefined();
  const argument = (error as NonNullable<typeof error>).extensions['argument'];
  const allowed = Array.isArray(expected.argument) ? expected.argument : [expected.argument];
  expect(error?.extensions['code']).toBe('BAD_REQUEST');
  expect(allowed).toContain(argument);
  expect(error?.message).toContain(String(argument));
  expect(feed.events).toEqual([]);
}

describe('graphql-ws', () => {
  test.each(INVALID.map((c) => [c.name, c] as const))('%s → BAD_REQUEST naming the argument', async (_name, c) => {
    await expectBadRequest(clientFeed(wsClient, c.stream, c.args, `graphql-ws ${c.name}`), c);
  });

  test('an unknown enum value in variables is refused with the argument path', async () => {
    const feed = clientFeed(wsClient, 'transactions', { filter: { status: ['FAILED', 'BOGUS'] } });
    await waitFor(() => feed.ended || feed.errors.length > 0, { what: 'an error' });
    expect(feed.errors[0]?.message).toMatch(/filter\.status\[1\]|BOGUS/);
    expect(feed.events).toEqual([]);
  });

  test('exactly 1,000 values is accepted', async () => {
    const before = server.app.engine.subscriberCount('transactions');
    const feed = clientFeed(wsClient, 'transactions', {
      filter: { address: many(1000, (i) => address(i + 1)), status: many(1000, () => 'SUCCESS') },
    });
    await attached(server, 'transactions', before + 1);
    expect(feed.errors).toEqual([]);
  });
});

describe('SSE', () => {
  const cases = INVALID.filter((c) =>
    [
      'bad from address',
      'negative intervalMs',
      'non-numeric minValue',
      '1,001 statuses',
      'negative replay',
      'after and replay together',
    ].includes(c.name),
  );
  test.each(cases.map((c) => [c.name, c] as const))('%s → BAD_REQUEST naming the argument', async (_name, c) => {
    await expectBadRequest(clientFeed(sseClient, c.stream, c.args, `sse ${c.name}`), c);
  });
});

describe('SSE on the wire', () => {
  test('an invalid argument is an event: next with the errors, then event: complete, on a 200 stream', async () => {
    const feed = rawSseFeed(server, 'transactions', { filter: { from: ['0xnot-an-address'] } }, { label: 'raw sse bad from' });
    await waitFor(() => feed.ended, { what: 'the SSE stream to end' });
    expect(feed.failure).toBeUndefined();
    expect(feed.status).toBe(200);
    expect(feed.messages.map((m) => m.event)).toEqual(['next', 'complete']);
    expect(feed.errors).toHaveLength(1);
    expect(feed.errors[0]?.extensions).toMatchObject({ code: 'BAD_REQUEST', argument: 'filter.from[0]' });
    expect(feed.events).toEqual([]);
  });
});

describe('legacy query parameters', () => {
  const LEGACY: { name: string; path: string; parameter: string }[] = [
    { name: 'bad from address', path: '/ws/transactions?from=0xbad', parameter: 'from' },
    { name: 'short address, comma-separated', path: `/ws/transactions?address=${VALID},0x1234`, parameter: 'address' },
    { name: 'bad validator', path: '/ws/validators?status=ACTIVE&validator=nope', parameter: 'validator' },
    { name: 'negative intervalMs', path: '/ws/metrics?intervalMs=-5', parameter: 'intervalMs' },
    { name: 'non-numeric intervalMs', path: '/ws/metrics?intervalMs=soon', parameter: 'intervalMs' },
    { name: 'non-numeric minValue', path: '/ws/transactions?minValue=abc', parameter: 'minValue' },
    { name: 'negative maxValue', path: '/ws/transactions?maxValue=-1', parameter: 'maxValue' },
    { name: 'unknown status', path: '/ws/transactions?status=FAILED&status=BOGUS', parameter: 'status' },
    { name: 'unknown consensus state', path: '/ws/consensus?state=DONE', parameter: 'state' },
    { name: '1,001 statuses', path: `/ws/transactions?status=${many(1001, () => 'FAILED').join(',')}`, parameter: 'status' },
    { name: '1,001 peer ids', path: `/ws/network?${many(1001, (i) => `peerId=p${i}`).join('&')}`, parameter: 'peerId' },
    { name: 'connected not a boolean', path: '/ws/network?connected=maybe', parameter: 'connected' },
    { name: 'negative replay', path: '/ws/transactions?replay=-1', parameter: 'replay' },
    { name: 'non-numeric replay', path: '/ws/transactions?replay=all', parameter: 'replay' },
    { name: 'since and replay together', path: '/ws/transactions?replay=5&since=abc', parameter: 'since' },
  ];

  test.each(LEGACY.map((c) => [c.name, c] as const))('%s → HTTP 400 naming the parameter', async (_name, c) => {
    const { status, body } = await refusedLegacy(server, c.path);
    expect(status).toBe(400);
    // The one HTTP error shape, before the handshake too.
    const parsed = JSON.parse(body) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(parsed.errors).toHaveLength(1);
    expect(parsed.errors[0]?.extensions['code']).toBe('BAD_REQUEST');
    expect(String(parsed.errors[0]?.extensions['argument'])).toMatch(new RegExp(`^${c.parameter}(\\[\\d+\\])?$`));
    expect(parsed.errors[0]?.message).toContain(c.parameter);
  });

  test('exactly 1,000 values is accepted', async () => {
    await legacyFeed(server, `/ws/transactions?status=${many(1000, () => 'SUCCESS').join(',')}`);
  });
});

// Runs last in this file: by now every bad request above has been made.
test('clients already streaming kept streaming, without a gap, through all the bad requests', async () => {
  await waitFor(() => background.every((f, i) => f.events.length >= (backgroundStart[i] as number) + 20), {
    what: 'background feeds to keep receiving',
  });
  for (const feed of background) {
    expect(feed.errors, feed.label).toEqual([]);
    expect(feed.ended, `${feed.label} ended`).toBe(false);
    expect(holes(feed.events.map((e) => e.seq)), `${feed.label} holes`).toEqual([]);
  }
});

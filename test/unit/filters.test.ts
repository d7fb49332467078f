import { describe, expect, test } from 'vitest';
import { RealtimeError } from '../../src/errors.ts';
import { compileFilter, MAX_FILTER_LIST, MAX_INTERVAL_MS, type StreamFilter } from '../../src/streams/filters.ts';
import { STREAM } from '../../src/streams/registry.ts';
import type { MetricsEvent, NetworkEvent, TransactionEvent } from '../helpers/contract.ts';
import { address, snapshot, tx } from './fakes.ts';

const LIMITS = { metricsIntervalMs: 1000 };
const transactions = STREAM.transactions.filterDef;
const network = STREAM.network.filterDef;
const validators = STREAM.validators.filterDef;
const metrics = STREAM.metrics.filterDef;

const txFilter = (filter: Record<string, unknown>, prefix?: string) =>
  transactions.parse({ filter }, LIMITS, prefix) as StreamFilter<TransactionEvent>;

/** The BAD_REQUEST a parse throws; fails when it does not throw one. */
function refusal(parse: () => unknown): RealtimeError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(RealtimeError);
    expect((error as RealtimeError).code).toBe('BAD_REQUEST');
    return error as RealtimeError;
  }
  throw new Error('expected a BAD_REQUEST');
}

const A = address(0xa1);
const B = address(0xb2);
const C = address(0xc3);
const upper = (addr: string) => `0x${addr.slice(2).toUpperCase()}`;

describe('canonical keys', () => {
  test('equal for reordered, duplicated and case-different addresses; different for different sets', () => {
    const key = (filter: Record<string, unknown>) => txFilter(filter).key;
    const base = key({ from: [A, B] });
    expect(key({ from: [B, A] })).toBe(base);
    expect(key({ from: [A, B, A, B] })).toBe(base);
    expect(key({ from: [upper(A), B.toLowerCase()] })).toBe(base);
    expect(key({ from: [A] })).not.toBe(base);
    expect(key({ from: [A, B, C] })).not.toBe(base);
    // Same values on another input are another filter.
    expect(key({ to: [A, B] })).not.toBe(base);
    expect(key({ address: [A, B] })).not.toBe(base);
  });

  test('independent of the order of the input fields; statuses reordered and repeated are one filter', () => {
    const a = txFilter({ status: ['FAILED', 'SUCCESS'], from: [A], minValue: '10' });
    const b = txFilter({ minValue: '10', from: [upper(A)], status: ['SUCCESS', 'FAILED', 'SUCCESS'] });
    expect(a.key).toBe(b.key);
    expect(a.key.startsWith('transactions:')).toBe(true);
  });

  test('null and absent inputs are the same as not filtering; no constraint at all is no filter', () => {
    expect(transactions.parse({}, LIMITS)).toBeUndefined();
    expect(transactions.parse({ filter: null }, LIMITS)).toBeUndefined();
    expect(transactions.parse({ filter: {} }, LIMITS)).toBeUndefined();
    expect(transactions.parse({ filter: { status: null, from: undefined } }, LIMITS)).toBeUndefined();
    expect(txFilter({ status: ['FAILED'], from: null }).key).toBe(txFilter({ status: ['FAILED'] }).key);
  });

  test('keys differ between streams even for the same input', () => {
    const v = validators.parse({ filter: { status: ['ACTIVE'] } }, LIMITS) as StreamFilter<unknown>;
    const t = txFilter({ status: ['SUCCESS'] });
    expect(v.key.startsWith('validators:')).toBe(true);
    expect(v.key).not.toBe(t.key);
  });

  test('the numeric bound is canonical: the same value from a query string and from GraphQL is one key', () => {
    const fromGraphQL = txFilter({ minValue: '100' });
    const fromQuery = transactions.parse(
      transactions.argsFromQuery(new URLSearchParams('minValue=100')),
      LIMITS,
      '',
    ) as StreamFilter<unknown>;
    expect(fromQuery.key).toBe(fromGraphQL.key);
  });
});

describe('predicates', () => {
  test('an empty list matches nothing (SQL IN ()), and is a filter of its own', () => {
    const none = txFilter({ status: [] });
    expect(none).toBeDefined();
    for (let i = 1; i <= 6; i++) expect(none.matches(tx(i))).toBe(false);
    expect(none.key).not.toBe(txFilter({ status: ['FAILED'] }).key);
    expect(txFilter({ address: [] }).matches(tx(1, { from: A }))).toBe(false);
  });

  test('`address` is anyOf over two fields: either side matches, case-insensitively', () => {
    const f = txFilter({ address: [upper(A)] });
    expect(f.matches(tx(1, { from: A, to: B }))).toBe(true);
    expect(f.matches(tx(1, { from: B, to: upper(A) }))).toBe(true);
    expect(f.matches(tx(1, { from: B, to: C }))).toBe(false);
    // `from` alone does not look at `to`.
    expect(txFilter({ from: [A] }).matches(tx(1, { from: B, to: A }))).toBe(false);
  });

  test('fields combine with AND, values within a list with OR', () => {
    const f = txFilter({ status: ['FAILED', 'PENDING'], from: [A, B] });
    expect(f.matches(tx(1, { status: 'FAILED', from: A }))).toBe(true);
    expect(f.matches(tx(1, { status: 'PENDING', from: B }))).toBe(true);
    expect(f.matches(tx(1, { status: 'SUCCESS', from: A }))).toBe(false);
    expect(f.matches(tx(1, { status: 'FAILED', from: C }))).toBe(false);
  });

  test('atLeast / atMost compare decimal strings as big integers (beyond 2^53), bounds inclusive', () => {
    const big = 2n ** 64n;
    const value = (v: bigint) => tx(1, { value: v.toString() });
    const min = txFilter({ minValue: big.toString() });
    expect(min.matches(value(big))).toBe(true);
    expect(min.matches(value(big + 1n))).toBe(true);
    expect(min.matches(value(big - 1n))).toBe(false);
    // Lexical order would get this wrong: '9' > '18446744073709551616' as strings.
    expect(min.matches(value(9n))).toBe(false);
    // 2^53 + 1 is not representable as a double; as a big integer it is distinct from 2^53.
    const atMost = txFilter({ maxValue: (2n ** 53n).toString() });
    expect(atMost.matches(value(2n ** 53n))).toBe(true);
    expect(atMost.matches(value(2n ** 53n + 1n))).toBe(false);
    const window = txFilter({ minValue: '10', maxValue: '20' });
    expect([9n, 10n, 15n, 20n, 21n].map((v) => window.matches(value(v)))).toEqual([false, true, true, true, false]);
    // 78-digit bounds work too.
    const huge = '9'.repeat(78);
    expect(txFilter({ maxValue: huge }).matches(value(2n ** 255n))).toBe(true);
  });

  test('`equals` on a boolean: connects only or disconnects only; legacy query strings become booleans', () => {
    const event = (connected: boolean): NetworkEvent => ({
      timestamp: '2025-10-25T09:35:00.000Z',
      peerId: 'peer-1',
      ip: '10.0.0.1',
      connected,
      latency: 1,
      version: '1.0.0',
    });
    const graphql = network.parse({ filter: { connected: false } }, LIMITS) as StreamFilter<NetworkEvent>;
    expect(graphql.matches(event(false))).toBe(true);
    expect(graphql.matches(event(true))).toBe(false);
    const legacy = network.parse(network.argsFromQuery(new URLSearchParams('connected=false')), LIMITS, '') as StreamFilter<NetworkEvent>;
    expect(legacy.key).toBe(graphql.key);
    const peers = network.parse(
      network.argsFromQuery(new URLSearchParams('peerId=peer-1,peer-2')),
      LIMITS,
      '',
    ) as StreamFilter<NetworkEvent>;
    expect(peers.matches(event(true))).toBe(true);
  });
});

describe('int fields from query strings', () => {
  // No stream filters an integer field yet; the field kinds' parser is exercised through a descriptor-shaped spec.
  test('a numeric string is a number; anything else names the argument', () => {
    const fields = STREAM.consensus.fields;
    const byEpoch = compileFilter<{ timestamp: string; epoch: number }>(
      {
        kind: 'fields',
        inputName: 'EpochFilter',
        description: '',
        fields: {
          epoch: { op: 'anyOf', fields: ['epoch'], description: '' },
          minRound: { op: 'atLeast', fields: ['round'], description: '' },
        },
      },
      fields,
      'consensus',
    );
    const parsed = byEpoch.parse(byEpoch.argsFromQuery(new URLSearchParams('epoch=3,4&minRound=17')), LIMITS, '') as StreamFilter<{
      timestamp: string;
      epoch: number;
      round: number;
    }>;
    const ev = (epoch: number, round: number) => ({ timestamp: '2025-10-25T09:35:00.000Z', epoch, round });
    expect(parsed.matches(ev(3, 17))).toBe(true);
    expect(parsed.matches(ev(4, 100))).toBe(true);
    expect(parsed.matches(ev(5, 17))).toBe(false);
    expect(parsed.matches(ev(3, 16))).toBe(false);
    // From GraphQL the same filter has the same key.
    expect(byEpoch.parse({ filter: { epoch: [4, 3], minRound: 17 } }, LIMITS)?.key).toBe(parsed.key);
    for (const bad of ['1.5', '-1', 'x', '1e3', '', '99999999999999999']) {
      const error = refusal(() => byEpoch.parse(byEpoch.argsFromQuery(new URLSearchParams(`minRound=${bad}`)), LIMITS, ''));
      expect(error.details['argument'], bad).toBe('minRound');
    }
    expect(refusal(() => byEpoch.parse({ filter: { epoch: [1, 'two'] } }, LIMITS)).details['argument']).toBe('filter.epoch[1]');
  });
});

describe('bad values', () => {
  test.each([
    ['a bad address', { from: [A, '0xnope'] }, 'filter.from[1]'],
    ['a short hash-like address', { to: ['0x1234'] }, 'filter.to[0]'],
    ['a number as address', { address: [42] }, 'filter.address[0]'],
    ['an unknown status', { status: ['DONE'] }, 'filter.status[0]'],
    ['a lower-case status', { status: ['SUCCESS', 'failed'] }, 'filter.status[1]'],
    ['a non-list for a list', { status: 'FAILED' }, 'filter.status'],
    ['a negative minValue', { minValue: '-1' }, 'filter.minValue'],
    ['a fractional maxValue', { maxValue: '1.5' }, 'filter.maxValue'],
    ['a hex minValue', { minValue: '0x10' }, 'filter.minValue'],
    ['a 79-digit maxValue', { maxValue: '1'.repeat(79) }, 'filter.maxValue'],
    ['a numeric minValue', { minValue: 10 }, 'filter.minValue'],
  ])('%s is a BAD_REQUEST naming %s', (_, filter, argument) => {
    const error = refusal(() => transactions.parse({ filter }, LIMITS));
    expect(error.details['argument']).toBe(argument);
    expect(error.message.startsWith(`${argument}: `)).toBe(true);
    expect(error.httpStatus).toBe(400);
  });

  test('legacy parsing (prefix "") names the query parameter itself', () => {
    const parse = (query: string) => transactions.parse(transactions.argsFromQuery(new URLSearchParams(query)), LIMITS, '');
    expect(refusal(() => parse(`from=${A},0xnope`)).details['argument']).toBe('from[1]');
    expect(refusal(() => parse('minValue=abc')).details['argument']).toBe('minValue');
    expect(refusal(() => parse('status=DONE')).message).toMatch(/^status\[0\]: "DONE" is not one of PENDING, SUCCESS, FAILED/);
    expect(refusal(() => network.parse(network.argsFromQuery(new URLSearchParams('connected=yes')), LIMITS, '')).details['argument']).toBe(
      'connected',
    );
  });

  test('a filter that is not an object is refused', () => {
    for (const filter of ['status=FAILED', 42, [A], true]) {
      expect(refusal(() => transactions.parse({ filter }, LIMITS)).details['argument']).toBe('filter');
    }
  });

  test('long values are cut in the message, never echoed whole', () => {
    const error = refusal(() => txFilter({ from: ['x'.repeat(10_000)] }));
    expect(error.message.length).toBeLessThan(300);
  });

  test(`a list of ${MAX_FILTER_LIST} is taken; ${MAX_FILTER_LIST + 1} is refused before any value is checked`, () => {
    const many = Array.from({ length: MAX_FILTER_LIST }, (_, i) => address(i));
    expect(txFilter({ from: many }).matches(tx(1, { from: address(999) }))).toBe(true);
    const error = refusal(() => txFilter({ from: [...many, 'not-an-address'] }));
    expect(error.details['argument']).toBe('filter.from');
    expect(error.message).toContain(`${MAX_FILTER_LIST + 1}`);
  });
});

describe('conflation (metrics intervalMs)', () => {
  const conflate = (intervalMs: unknown, base = 1000) =>
    metrics.parse({ intervalMs }, { metricsIntervalMs: base }) as StreamFilter<MetricsEvent> | undefined;
  const pass = (filter: StreamFilter<MetricsEvent>, ticks: number[], base = 1000) => ticks.filter((i) => filter.matches(snapshot(i, base)));

  test('absent, or at or below the source interval: every snapshot (no filter)', () => {
    expect(metrics.parse({}, LIMITS)).toBeUndefined();
    expect(metrics.parse({ intervalMs: null }, LIMITS)).toBeUndefined();
    expect(conflate(1)).toBeUndefined();
    expect(conflate(1000)).toBeUndefined();
  });

  test('at most one snapshot per interval: the first whole number of ticks at or above it', () => {
    const ticks = Array.from({ length: 13 }, (_, i) => i);
    expect(pass(conflate(2000) as StreamFilter<MetricsEvent>, ticks)).toEqual([0, 2, 4, 6, 8, 10, 12]);
    expect(pass(conflate(2500) as StreamFilter<MetricsEvent>, ticks)).toEqual([0, 3, 6, 9, 12]);
    expect(pass(conflate(1001) as StreamFilter<MetricsEvent>, ticks)).toEqual([0, 2, 4, 6, 8, 10, 12]);
    // Ticks that come late by less than half a tick still count for their slot; none closer than the interval passes.
    const jittered = conflate(2000) as StreamFilter<MetricsEvent>;
    const at = (ms: number): MetricsEvent => ({ ...snapshot(0), timestamp: new Date(Date.UTC(2025, 9, 25) + ms).toISOString() });
    expect([0, 1000, 1990, 3000, 4010, 5000, 5990].map((ms) => jittered.matches(at(ms)))).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
      true,
    ]);
  });

  test('the key is the effective interval; each parse is a fresh, independent instance', () => {
    const a = conflate(3000) as StreamFilter<MetricsEvent>;
    const b = conflate(3000) as StreamFilter<MetricsEvent>;
    expect(a.key).toBe('metrics:{"intervalMs":3000}');
    expect(b.key).toBe(a.key);
    expect(conflate(4000)?.key).not.toBe(a.key);
    expect(a.matches(snapshot(0))).toBe(true);
    // b has not delivered anything yet.
    expect(b.matches(snapshot(1))).toBe(true);
    expect(a.matches(snapshot(1))).toBe(false);
  });

  test('forHistory is a fresh instance: judging history neither reads nor moves the live state', () => {
    const live = conflate(3000) as StreamFilter<MetricsEvent>;
    expect(live.matches(snapshot(10))).toBe(true);
    const history = live.forHistory?.() as StreamFilter<MetricsEvent>;
    expect(history.key).toBe(live.key);
    expect(pass(history, [0, 1, 2, 3, 4, 5, 6])).toEqual([0, 3, 6]);
    // Another history judge starts from scratch too.
    expect(pass(live.forHistory?.() as StreamFilter<MetricsEvent>, [4, 5, 6, 7])).toEqual([4, 7]);
    expect(live.matches(snapshot(12))).toBe(false);
    expect(live.matches(snapshot(13))).toBe(true);
  });

  test('a slower source: the interval rounds up to whole ticks of it', () => {
    const f = conflate(5000, 2000) as StreamFilter<MetricsEvent>;
    expect(f.key).toBe('metrics:{"intervalMs":5000}');
    expect(pass(f, [0, 1, 2, 3, 4, 5, 6], 2000)).toEqual([0, 3, 6]);
  });

  test.each([0, -1, 1.5, MAX_INTERVAL_MS + 1, '2000', Number.NaN, true])('intervalMs %s is a BAD_REQUEST naming intervalMs', (value) => {
    const error = refusal(() => conflate(value));
    expect(error.details['argument']).toBe('intervalMs');
  });

  test(`intervalMs up to ${MAX_INTERVAL_MS} is taken`, () => {
    expect(conflate(MAX_INTERVAL_MS)?.key).toBe(`metrics:{"intervalMs":${MAX_INTERVAL_MS}}`);
  });

  test('from a query string: a number, or NaN (refused) for anything else', () => {
    expect(metrics.argsFromQuery(new URLSearchParams('intervalMs=5000'))).toEqual({ intervalMs: 5000 });
    expect(metrics.argsFromQuery(new URLSearchParams(''))).toEqual({});
    for (const bad of ['soon', '1.5', '', '1e4']) {
      const args = metrics.argsFromQuery(new URLSearchParams(`intervalMs=${bad}`));
      expect(refusal(() => metrics.parse(args, LIMITS)).details['argument'], bad).toBe('intervalMs');
    }
  });
});

describe('argsFromQuery', () => {
  test('repeated and comma-separated list parameters merge; blanks are dropped', () => {
    const query = new URLSearchParams(`status=FAILED,SUCCESS&status=PENDING&from=${A}&from=${B},${C}&address=%20${A}%20,,`);
    expect(transactions.argsFromQuery(query)).toEqual({
      filter: { status: ['FAILED', 'SUCCESS', 'PENDING'], from: [A, B, C], address: [A] },
    });
  });

  test('single-value parameters given twice are refused; no filter parameters give no filter', () => {
    expect(refusal(() => transactions.argsFromQuery(new URLSearchParams('minValue=1&minValue=2'))).details['argument']).toBe('minValue');
    expect(transactions.argsFromQuery(new URLSearchParams('replay=5&meta=1'))).toEqual({});
    expect(transactions.argsFromQuery(new URLSearchParams('minValue=5'))).toEqual({ filter: { minValue: '5' } });
  });

  test('`status=` (present but empty) is an empty list: it matches nothing', () => {
    const args = transactions.argsFromQuery(new URLSearchParams('status='));
    expect(args).toEqual({ filter: { status: [] } });
    expect((transactions.parse(args, LIMITS, '') as StreamFilter<TransactionEvent>).matches(tx(1))).toBe(false);
  });
});

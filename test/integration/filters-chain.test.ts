import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runFilterMatrix, TRANSPORT_NAMES, type FilterCase, type Matrix } from '../helpers/filter-matrix.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import {
  matchesConsensus,
  matchesValidator,
  query,
  type ConsensusFilterSpec,
  type Item,
  type ValidatorFilterSpec,
} from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * ValidatorFilter (validator, status) and ConsensusFilter (state) on
 * graphql-ws, SSE and legacy query parameters, judged against an unfiltered
 * control per transport over the same window of sequence numbers. A 50 ms
 * block time and 9 validators make validator status changes frequent enough
 * (several per second) for a short window.
 */

let server: TestServer;
let validators: Matrix;
let consensus: Matrix;
let validatorSet: string[] = [];

const upper = (address: string) => `0x${address.slice(2).toUpperCase()}`;

function validatorCases(set: string[]): FilterCase[] {
  const v = (name: string, filter: ValidatorFilterSpec, extra: Partial<FilterCase> = {}): FilterCase => ({
    name,
    filter: filter as Record<string, unknown>,
    matches: (item: Item) => matchesValidator(filter, item),
    ...extra,
  });
  return [
    v('validator', { validator: set.slice(0, 3) }),
    v('validator in another case', { validator: set.slice(3, 6).map(upper) }, { legacyStyle: 'comma' }),
    v('status one value', { status: ['ACTIVE'] }),
    v('status OR within the list', { status: ['INACTIVE', 'JAILED'] }, { legacyStyle: 'comma' }),
    v('AND: validator + status', { validator: set.slice(0, 6), status: ['ACTIVE'] }),
    v('empty validator list matches nothing', { validator: [] }, { matchesNothing: true }),
    v('empty status list matches nothing', { status: [] }, { matchesNothing: true }),
  ];
}

function consensusCases(): FilterCase[] {
  const c = (name: string, filter: ConsensusFilterSpec, extra: Partial<FilterCase> = {}): FilterCase => ({
    name,
    filter: filter as Record<string, unknown>,
    matches: (item: Item) => matchesConsensus(filter, item),
    ...extra,
  });
  return [
    c('state COMMITTED', { state: ['COMMITTED'] }),
    c('state PENDING', { state: ['PENDING'] }),
    c('state OR within the list', { state: ['COMMITTED', 'PENDING'] }, { legacyStyle: 'comma', matchesEverything: true }),
    c('empty state list matches nothing', { state: [] }, { matchesNothing: true }),
    c('empty filter object matches everything', {}, { matchesEverything: true }),
  ];
}

const VALIDATOR_CASES = validatorCases(Array(9).fill('0x0')).map((c) => c.name);
const CONSENSUS_CASES = consensusCases().map((c) => c.name);

beforeAll(async () => {
  server = await startTestServer({ SIM_BLOCK_TIME_MS: '50', SIM_VALIDATORS: '9', SIM_TPS: '10' });
  // Validators the chain actually has, as a dashboard would load them first.
  validatorSet = await waitFor(
    async () => {
      const data = await query<{ validatorSet: { validator: string }[] }>(server, '{ validatorSet { validator } }');
      return data.validatorSet.length === 9 && data.validatorSet.map((v) => v.validator);
    },
    { what: 'the validator set' },
  );
  [validators, consensus] = await Promise.all([
    runFilterMatrix(server, 'validators', validatorCases(validatorSet), { minEach: 3, windowTimeoutMs: 25_000 }),
    runFilterMatrix(server, 'consensus', consensusCases(), { minEach: 3 }),
  ]);
}, 60_000);

afterAll(async () => {
  await validators?.stop();
  await consensus?.stop();
  await server?.stop();
});

function check(matrix: Matrix, name: string, transport: (typeof TRANSPORT_NAMES)[number], everything: boolean): void {
  const r = matrix.result(name, transport);
  expect(r.feed.errors, `${r.feed.label} errors`).toEqual([]);
  expect(r.missing, `${r.feed.label}: matching events that never arrived (window ${matrix.lo}..${matrix.hi})`).toEqual([]);
  expect(r.unexpected, `${r.feed.label}: events that should have been filtered out`).toEqual([]);
  expect(r.violations.map((e) => e.seq), `${r.feed.label}: received events that do not match`).toEqual([]);
  if (name.includes('matches nothing')) {
    expect(r.feed.events).toEqual([]);
    expect(r.nonMatching).toBeGreaterThan(0);
  } else {
    expect(r.expected.length).toBeGreaterThanOrEqual(3);
    if (!everything) expect(r.nonMatching).toBeGreaterThanOrEqual(3);
  }
}

describe.each(TRANSPORT_NAMES)('validators filter over %s', (transport) => {
  test.each(VALIDATOR_CASES)('%s: exactly the matching control events arrive', (name) => check(validators, name, transport, false));
});

describe.each(TRANSPORT_NAMES)('consensus filter over %s', (transport) => {
  test.each(CONSENSUS_CASES)('%s: exactly the matching control events arrive', (name) =>
    check(consensus, name, transport, name.includes('everything') || name.includes('OR within')),
  );
});

test('validator filters name validators from validatorSet, and the upper-case case really differs in case', () => {
  expect(validatorSet.every((a) => /^0x[0-9a-f]{40}$/.test(a))).toBe(true);
  const r = validators.result('validator in another case', 'graphql-ws');
  expect(r.expected.length).toBeGreaterThan(0);
  expect(r.feed.events.every((e) => validatorSet.slice(3, 6).includes(String(e['validator'])))).toBe(true);
});

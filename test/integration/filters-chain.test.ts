import { expect, test } from 'vitest';
import { caseBuilder, runFilterMatrix, testFilterCases, upperHex, type FilterCase } from '../helpers/filter-matrix.ts';
import { useTestServer } from '../helpers/server.ts';
import { matchesConsensus, matchesValidator, query } from '../helpers/stream-feeds.ts';
import { useFixture } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * ValidatorFilter (validator, status) and ConsensusFilter (state) on
 * graphql-ws, SSE and legacy query parameters, judged against an unfiltered
 * control per transport over the same window of sequence numbers. A 50 ms
 * block time and 9 validators make validator status changes frequent enough
 * (several per second) for a short window.
 */

function validatorCases(set: string[]): FilterCase[] {
  const v = caseBuilder(matchesValidator);
  return [
    v('validator', { validator: set.slice(0, 3) }),
    v('validator in another case', { validator: set.slice(3, 6).map(upperHex) }, { legacyStyle: 'comma' }),
    v('status one value', { status: ['ACTIVE'] }),
    v('status OR within the list', { status: ['INACTIVE', 'JAILED'] }, { legacyStyle: 'comma' }),
    v('AND: validator + status', { validator: set.slice(0, 6), status: ['ACTIVE'] }),
    v('empty validator list matches nothing', { validator: [] }, { matchesNothing: true }),
    v('empty status list matches nothing', { status: [] }, { matchesNothing: true }),
  ];
}

function consensusCases(): FilterCase[] {
  const c = caseBuilder(matchesConsensus);
  return [
    c('state COMMITTED', { state: ['COMMITTED'] }),
    c('state PENDING', { state: ['PENDING'] }),
    c('state OR within the list', { state: ['COMMITTED', 'PENDING'] }, { legacyStyle: 'comma', matchesEverything: true }),
    c('empty state list matches nothing', { state: [] }, { matchesNothing: true }),
    c('empty filter object matches everything', {}, { matchesEverything: true }),
  ];
}

const server = useTestServer({ SIM_BLOCK_TIME_MS: '50', SIM_VALIDATORS: '9', SIM_TPS: '10' });
const run = useFixture(
  async () => {
    // Validators the chain actually has, as a dashboard would load them first.
    const validatorSet = await waitFor(
      async () => {
        const data = await query<{ validatorSet: { validator: string }[] }>(server, '{ validatorSet { validator } }');
        return data.validatorSet.length === 9 && data.validatorSet.map((v) => v.validator);
      },
      { what: 'the validator set' },
    );
    const [validators, consensus] = await Promise.all([
      runFilterMatrix(server, 'validators', validatorCases(validatorSet), { minEach: 3, windowTimeoutMs: 25_000 }),
      runFilterMatrix(server, 'consensus', consensusCases(), { minEach: 3 }),
    ]);
    return { validatorSet, validators, consensus };
  },
  { timeoutMs: 60_000 },
);

testFilterCases(
  'validators',
  validatorCases(Array(9).fill('0x0')).map((c) => c.name),
  () => run.validators,
);
testFilterCases(
  'consensus',
  consensusCases().map((c) => c.name),
  () => run.consensus,
);

test('validator filters name validators from validatorSet, and the upper-case case really differs in case', () => {
  const { validatorSet } = run;
  expect(validatorSet.every((a) => /^0x[0-9a-f]{40}$/.test(a))).toBe(true);
  const r = run.validators.result('validator in another case', 'graphql-ws');
  expect(r.expected.length).toBeGreaterThan(0);
  expect(r.feed.events.every((e) => validatorSet.slice(3, 6).includes(String(e['validator'])))).toBe(true);
});

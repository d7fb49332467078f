import { describe, expect, test } from 'vitest';
import type { EventProblem } from '../../src/streams/descriptor.ts';
import { INT32_MAX, MAX_DECIMAL_DIGITS } from '../../src/streams/fields.ts';
import { CHAIN_STREAMS, descriptorOf, isStreamName, STREAM, STREAMS } from '../../src/streams/registry.ts';
import { CONTRACT_FIELDS, parseEvent, STREAM_NAMES, type EventOf, type StreamName } from '../helpers/contract.ts';

const ADDRESS = `0x${'Ab'.repeat(20)}`;
const HASH = `0x${'0f'.repeat(32)}`;
const TS = '2025-10-25T09:35:00.123Z';

const GOOD: { [S in StreamName]: EventOf<S> } = {
  metrics: { timestamp: TS, tps: 1234.5, cpu: 42.1, memory: 256.3, connections: 17, errorRate: 0.02 },
  transactions: {
    timestamp: TS,
    txHash: HASH,
    from: ADDRESS,
    to: `0x${'1'.repeat(40)}`,
    value: '123456789012345678901234567890',
    status: 'PENDING',
    gasUsed: 21000,
  },
  validators: { timestamp: TS, validator: ADDRESS, status: 'JAILED', votingPower: 1500, uptime: 99.5, lastBlockProposed: 1042 },
  consensus: {
    timestamp: TS,
    leader: ADDRESS,
    epoch: 3,
    round: 17,
    term: 42,
    state: 'COMMITTED',
    performanceScore: 0.97,
    activeValidators: 20,
  },
  network: { timestamp: TS, peerId: '12D3KooWabc', ip: '203.0.113.7', connected: true, latency: 12.5, version: '1.6.0-rc.1' },
  blocks: {
    timestamp: TS,
    height: 2 ** 40,
    hash: HASH,
    parentHash: `0x${'ab'.repeat(32)}`,
    proposer: ADDRESS,
    txCount: 1250,
    gasUsed: 3_000_000_000,
    state: 'COMMITTED',
  },
};

function problems(stream: StreamName, patch: Record<string, unknown>, remove: string[] = []): EventProblem[] {
  const event: Record<string, unknown> = { ...GOOD[stream], ...patch };
  for (const key of remove) delete event[key];
  const result = descriptorOf(stream).parse(event);
  if (result.ok) throw new Error(`${stream} accepted ${JSON.stringify(event)}`);
  for (const p of result.problems) {
    expect(typeof p.path).toBe('string');
    expect(p.message.length).toBeGreaterThan(0);
  }
  return result.problems;
}

const accepts = (stream: StreamName, patch: Record<string, unknown>) => descriptorOf(stream).parse({ ...GOOD[stream], ...patch }).ok;
const paths = (ps: EventProblem[]) => ps.map((p) => p.path).sort();

/** Every (stream, field) pair of the registry, for tests that hold for each field. */
const FIELDS = STREAMS.flatMap((stream) =>
  Object.entries(stream.fields).map(([name, spec]) => ({ stream: stream.name as StreamName, name, spec, label: `${stream.name}.${name}` })),
);

describe('registry', () => {
  test('the streams, their contract fields in wire order (CONTRACT.md), and every list derived from them', () => {
    expect(STREAM_NAMES).toEqual(['metrics', 'transactions', 'validators', 'consensus', 'network', 'blocks']);
    expect(CONTRACT_FIELDS).toEqual({
      metrics: ['timestamp', 'tps', 'cpu', 'memory', 'connections', 'errorRate'],
      transactions: ['timestamp', 'txHash', 'from', 'to', 'value', 'status', 'gasUsed'],
      validators: ['timestamp', 'validator', 'status', 'votingPower', 'uptime', 'lastBlockProposed'],
      consensus: ['timestamp', 'leader', 'epoch', 'round', 'term', 'state', 'performanceScore', 'activeValidators'],
      network: ['timestamp', 'peerId', 'ip', 'connected', 'latency', 'version'],
      blocks: ['timestamp', 'height', 'hash', 'parentHash', 'proposer', 'txCount', 'gasUsed', 'state'],
    });
    for (const stream of STREAMS) {
      expect(STREAM[stream.name]).toBe(stream);
      expect(descriptorOf(stream.name)).toBe(stream);
      expect(stream.contractFields).toEqual(Object.keys(stream.fields));
      expect(isStreamName(stream.name)).toBe(true);
    }
    expect(isStreamName('blocks-of-nothing')).toBe(false);
    expect(isStreamName('constructor')).toBe(false);
    expect(isStreamName('__proto__')).toBe(false);
  });

  test('names, GraphQL types and stats fields are unique; stats fields follow CONTRACT.md', () => {
    for (const key of ['name', 'typeName', 'statsField'] as const) {
      expect(new Set(STREAMS.map((s) => s[key])).size, key).toBe(STREAMS.length);
    }
    expect(Object.fromEntries(STREAMS.map((s) => [s.name, s.statsField]))).toEqual({
      metrics: 'metricsConnections',
      transactions: 'transactionConnections',
      validators: 'validatorConnections',
      consensus: 'consensusConnections',
      network: 'networkConnections',
      blocks: 'blockConnections',
    });
  });

  test('metrics is instance-local and conflated; every chain stream is ingestible, shared and closes slow consumers', () => {
    expect(CHAIN_STREAMS).toEqual(['transactions', 'validators', 'consensus', 'network', 'blocks']);
    for (const stream of STREAMS) {
      const chain = CHAIN_STREAMS.includes(stream.name);
      expect(stream.scope, stream.name).toBe(chain ? 'chain' : 'instance');
      expect(stream.ingestible, stream.name).toBe(chain);
      expect(stream.slowConsumer, stream.name).toBe(stream.name === 'metrics' ? 'conflate' : 'close');
      expect(stream.filter.kind, stream.name).toBe(stream.name === 'metrics' ? 'conflate' : 'fields');
    }
  });

  test('GraphQL types: counters that outgrow 32 bits are SafeInt; timestamps are DateTime', () => {
    const types = Object.fromEntries(
      FIELDS.map(({ label, spec }) => [label, typeof spec.graphql === 'string' ? spec.graphql : spec.graphql.name]),
    );
    expect(types).toMatchObject({
      'transactions.gasUsed': 'SafeInt',
      'validators.lastBlockProposed': 'SafeInt',
      'consensus.epoch': 'SafeInt',
      'consensus.round': 'SafeInt',
      'consensus.term': 'SafeInt',
      'consensus.activeValidators': 'Int',
      'metrics.connections': 'Int',
      'transactions.status': 'TransactionStatus',
      'validators.status': 'ValidatorStatus',
      'consensus.state': 'ConsensusState',
    });
    for (const stream of STREAMS) expect(types[`${stream.name}.timestamp`]).toBe('DateTime');
  });

  test('every filter input names event fields of its own stream, with a type those fields share', () => {
    for (const stream of STREAMS) {
      if (stream.filter.kind !== 'fields') continue;
      for (const [input, spec] of Object.entries(stream.filter.fields)) {
        expect(spec.fields.length, `${stream.name}.${input}`).toBeGreaterThan(0);
        const graphql = new Set(
          spec.fields.map((f) => JSON.stringify((stream.fields as Record<string, { graphql: unknown }>)[f]?.graphql)),
        );
        expect(graphql.size, `${stream.name}.${input}`).toBe(1);
        for (const f of spec.fields) expect(stream.contractFields, `${stream.name}.${input}`).toContain(f);
      }
      expect(stream.filterDef.queryParams).toEqual(Object.keys(stream.filter.fields));
    }
    expect(STREAM.metrics.filterDef.queryParams).toEqual(['intervalMs']);
  });

  test('natural keys tell apart events that really differ and match an exact resend', () => {
    const key = <S extends StreamName>(stream: S, event: EventOf<S>) => descriptorOf(stream).naturalKey(event);
    const pending = GOOD.transactions;
    // A transaction appears twice on purpose: PENDING, then its outcome.
    expect(key('transactions', pending)).not.toBe(key('transactions', { ...pending, status: 'SUCCESS' }));
    // A resend with a different hex case is the same transaction.
    expect(key('transactions', pending)).toBe(
      key('transactions', { ...pending, txHash: pending.txHash.toUpperCase().replace('0X', '0x') }),
    );
    expect(key('consensus', GOOD.consensus)).not.toBe(key('consensus', { ...GOOD.consensus, state: 'PENDING' }));
    expect(key('consensus', GOOD.consensus)).not.toBe(key('consensus', { ...GOOD.consensus, round: 18 }));
    expect(key('validators', GOOD.validators)).not.toBe(key('validators', { ...GOOD.validators, timestamp: '2025-10-25T09:35:01.000Z' }));
    expect(key('network', GOOD.network)).not.toBe(key('network', { ...GOOD.network, connected: false }));
    for (const stream of STREAM_NAMES) expect(key(stream, GOOD[stream] as never)).toBe(key(stream, structuredClone(GOOD[stream]) as never));
  });

  test('snapshot queries key by a field of their stream', () => {
    for (const stream of STREAMS) {
      for (const query of stream.queries) {
        if (query.kind === 'snapshot') expect(stream.contractFields).toContain(query.keyBy);
        if (query.kind === 'recent') expect(query.defaultLimit).toBeLessThanOrEqual(query.max);
      }
    }
  });
});

describe('every field is bounded', () => {
  test.each(FIELDS.filter(({ spec }) => spec.graphql === 'String').map((f) => [f.label, f]))(
    '%s refuses a 10,000-character string',
    (_, { stream, name }) => {
      expect(accepts(stream, { [name]: 'a'.repeat(10_000) })).toBe(false);
      expect(accepts(stream, { [name]: `0x${'a'.repeat(10_000)}` })).toBe(false);
      expect(accepts(stream, { [name]: '1'.repeat(10_000) })).toBe(false);
    },
  );

  test.each(FIELDS.filter(({ spec }) => typeof spec.graphql === 'object').map((f) => [f.label, f]))(
    '%s accepts only its enum values',
    (_, { stream, name, spec }) => {
      const values = (spec.graphql as { values: readonly string[] }).values;
      for (const value of values) expect(accepts(stream, { [name]: value })).toBe(true);
      expect(accepts(stream, { [name]: values[0]?.toLowerCase() })).toBe(false);
      expect(accepts(stream, { [name]: 'X'.repeat(10_000) })).toBe(false);
    },
  );

  test.each(FIELDS.filter(({ spec }) => spec.graphql === 'Int').map((f) => [f.label, f]))(
    '%s (Int) fits GraphQL Int: 0 … 2^31 − 1, integers only',
    (_, { stream, name }) => {
      expect(accepts(stream, { [name]: INT32_MAX })).toBe(true);
      expect(accepts(stream, { [name]: INT32_MAX + 1 })).toBe(false);
      expect(accepts(stream, { [name]: -1 })).toBe(false);
      expect(accepts(stream, { [name]: 1.5 })).toBe(false);
      expect(accepts(stream, { [name]: '1' })).toBe(false);
    },
  );

  test.each(FIELDS.filter(({ spec }) => spec.graphql === 'SafeInt').map((f) => [f.label, f]))(
    '%s (SafeInt) fits 0 … 2^53 − 1, integers only',
    (_, { stream, name }) => {
      expect(accepts(stream, { [name]: Number.MAX_SAFE_INTEGER })).toBe(true);
      expect(accepts(stream, { [name]: 2 ** 53 })).toBe(false);
      expect(accepts(stream, { [name]: -1 })).toBe(false);
      expect(accepts(stream, { [name]: 1.5 })).toBe(false);
      expect(accepts(stream, { [name]: '1' })).toBe(false);
    },
  );

  test.each(FIELDS.filter(({ spec }) => spec.graphql === 'Float').map((f) => [f.label, f]))(
    '%s (Float) is finite and not negative',
    (_, { stream, name }) => {
      for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0.001, '1']) {
        expect(accepts(stream, { [name]: value }), String(value)).toBe(false);
      }
      expect(accepts(stream, { [name]: 0 })).toBe(true);
    },
  );

  test('the decimal value takes up to 78 digits (2^256 − 1 fits), not 79', () => {
    expect(MAX_DECIMAL_DIGITS).toBe(78);
    expect(accepts('transactions', { value: (2n ** 256n - 1n).toString() })).toBe(true);
    expect(accepts('transactions', { value: '9'.repeat(78) })).toBe(true);
    expect(accepts('transactions', { value: '1'.repeat(79) })).toBe(false);
  });

  test('peerId ≤ 128 characters, version ≤ 64', () => {
    expect(accepts('network', { peerId: 'p'.repeat(128) })).toBe(true);
    expect(accepts('network', { peerId: 'p'.repeat(129) })).toBe(false);
    const version = `1.2.3-${'a'.repeat(40)}`;
    expect(accepts('network', { version })).toBe(true);
    expect(accepts('network', { version: `1.2.3-${'a'.repeat(41)}` })).toBe(false);
    expect(accepts('network', { version: `${'1'.repeat(10)}.2.3` })).toBe(false);
  });

  test('percent and ratio fields stay in range; latency is at most an hour', () => {
    expect(accepts('metrics', { cpu: 100 })).toBe(true);
    expect(accepts('metrics', { cpu: 100.01 })).toBe(false);
    expect(accepts('metrics', { errorRate: 1 })).toBe(true);
    expect(accepts('metrics', { errorRate: 1.01 })).toBe(false);
    expect(accepts('network', { latency: 3_600_000 })).toBe(true);
    expect(accepts('network', { latency: 3_600_001 })).toBe(false);
  });
});

describe('event validation', () => {
  test.each(STREAM_NAMES)('%s accepts a good event and returns it unchanged', (stream) => {
    expect(parseEvent(stream, GOOD[stream])).toEqual({ ok: true, event: GOOD[stream] });
  });

  test.each(STREAM_NAMES)('%s has exactly the contract fields', (stream) => {
    expect(Object.keys(GOOD[stream])).toEqual([...CONTRACT_FIELDS[stream]]);
    for (const field of CONTRACT_FIELDS[stream]) expect(paths(problems(stream, {}, [field]))).toEqual([field]);
  });

  describe.each(STREAM_NAMES)('%s timestamps', (stream) => {
    test.each([
      ['without milliseconds', '2025-10-25T09:35:00Z'],
      ['with an offset instead of Z', '2025-10-25T09:35:00.123+02:00'],
      ['without a zone', '2025-10-25T09:35:00.123'],
      ['with microseconds', '2025-10-25T09:35:00.123456Z'],
      ['as a date only', '2025-10-25'],
      ['as epoch millis', 1761384900123],
      ['impossible', '2025-13-45T09:35:00.123Z'],
    ])('rejects a timestamp %s', (_, timestamp) => {
      expect(problems(stream, { timestamp })).toEqual([{ path: 'timestamp', message: expect.any(String) }]);
    });

    test('rejects an extra field, naming it', () => {
      const ps = problems(stream, { seq: 5 });
      expect(ps).toHaveLength(1);
      expect(ps[0]?.path).toBe('(root)');
      expect(ps[0]?.message).toContain('seq');
    });

    test('rejects a non-object', () => {
      expect(parseEvent(stream, null)).toMatchObject({ ok: false, problems: [{ path: '(root)' }] });
      expect(parseEvent(stream, 'event')).toMatchObject({ ok: false });
      expect(parseEvent(stream, [GOOD[stream]])).toMatchObject({ ok: false });
    });
  });

  test('transactions: bad hex, non-decimal values, unknown status', () => {
    for (const txHash of ['0x1234', `${'0f'.repeat(32)}`, `0x${'zz'.repeat(32)}`, `0x${'0f'.repeat(33)}`]) {
      expect(paths(problems('transactions', { txHash }))).toEqual(['txHash']);
    }
    for (const from of ['0xabc', `0x${'g'.repeat(40)}`, ADDRESS.slice(2)]) {
      expect(paths(problems('transactions', { from }))).toEqual(['from']);
    }
    for (const value of ['1.5', '-1', '0x10', '1e18', '007', '', ' 1', 100]) {
      expect(paths(problems('transactions', { value }))).toEqual(['value']);
    }
    expect(paths(problems('transactions', { status: 'DONE' }))).toEqual(['status']);
    expect(paths(problems('transactions', { status: 'pending' }))).toEqual(['status']);
    expect(paths(problems('transactions', { gasUsed: 1.5 }))).toEqual(['gasUsed']);
    expect(paths(problems('transactions', { gasUsed: -1 }))).toEqual(['gasUsed']);
    expect(accepts('transactions', { value: '0' })).toBe(true);
    // gasUsed outgrew GraphQL's Int: a value past 2^31 is fine now.
    expect(accepts('transactions', { gasUsed: 2 ** 40 })).toBe(true);
  });

  test('every problem of one event is reported, each with its path', () => {
    const ps = problems('transactions', { txHash: '0x1', to: 'nobody', value: '1.0', status: 'DONE', timestamp: 'now', extra: true });
    expect(paths(ps)).toEqual(['(root)', 'status', 'timestamp', 'to', 'txHash', 'value']);
    expect(new Set(ps.map((p) => p.message)).size).toBeGreaterThan(1);
  });

  test('validators: unknown status, uptime out of range, bad address, non-integer block', () => {
    expect(paths(problems('validators', { status: 'SLASHED' }))).toEqual(['status']);
    expect(paths(problems('validators', { uptime: 100.1 }))).toEqual(['uptime']);
    expect(paths(problems('validators', { uptime: -0.1 }))).toEqual(['uptime']);
    expect(paths(problems('validators', { validator: '0xdeadbeef' }))).toEqual(['validator']);
    expect(paths(problems('validators', { lastBlockProposed: 1.5 }))).toEqual(['lastBlockProposed']);
    expect(paths(problems('validators', { votingPower: -1 }))).toEqual(['votingPower']);
  });

  test('consensus: unknown state, score outside 0–1, negative or fractional counters', () => {
    expect(paths(problems('consensus', { state: 'FINALIZED' }))).toEqual(['state']);
    expect(paths(problems('consensus', { performanceScore: 1.01 }))).toEqual(['performanceScore']);
    expect(paths(problems('consensus', { round: -1, epoch: 1.5, term: '4' }))).toEqual(['epoch', 'round', 'term']);
    expect(paths(problems('consensus', { leader: 'validator-1' }))).toEqual(['leader']);
  });

  test('network: bad ip, non-semver version, non-boolean connected, negative latency', () => {
    expect(paths(problems('network', { ip: '999.1.1.1' }))).toEqual(['ip']);
    expect(paths(problems('network', { ip: 'localhost' }))).toEqual(['ip']);
    expect(accepts('network', { ip: '2001:db8::1' })).toBe(true);
    expect(paths(problems('network', { version: 'v1.2' }))).toEqual(['version']);
    expect(paths(problems('network', { connected: 'yes' }))).toEqual(['connected']);
    expect(paths(problems('network', { latency: -3 }))).toEqual(['latency']);
    expect(paths(problems('network', { peerId: '' }))).toEqual(['peerId']);
  });

  test('metrics: percentages and ratios in range, finite numbers, integer connections', () => {
    expect(paths(problems('metrics', { cpu: 100.5 }))).toEqual(['cpu']);
    expect(paths(problems('metrics', { errorRate: 1.5 }))).toEqual(['errorRate']);
    expect(paths(problems('metrics', { tps: Number.NaN }))).toEqual(['tps']);
    expect(paths(problems('metrics', { tps: Number.POSITIVE_INFINITY }))).toEqual(['tps']);
    expect(paths(problems('metrics', { connections: 1.5 }))).toEqual(['connections']);
    expect(paths(problems('metrics', { memory: '12' }))).toEqual(['memory']);
  });
});

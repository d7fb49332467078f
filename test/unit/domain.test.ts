import { describe, expect, test } from 'vitest';
import {
  CONTRACT_FIELDS,
  EVENT_SCHEMAS,
  parseEvent,
  STREAM_NAMES,
  type EventProblem,
  type StreamName,
  type StreamEvents,
} from '../../src/domain/index.ts';

const ADDRESS = `0x${'Ab'.repeat(20)}`;
const HASH = `0x${'0f'.repeat(32)}`;
const TS = '2025-10-25T09:35:00.123Z';

const GOOD: StreamEvents = {
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
};

function problems(stream: StreamName, patch: Record<string, unknown>, remove: string[] = []): EventProblem[] {
  const event: Record<string, unknown> = { ...GOOD[stream], ...patch };
  for (const key of remove) delete event[key];
  const result = parseEvent(stream, event);
  if (result.ok) throw new Error(`${stream} accepted ${JSON.stringify(event)}`);
  for (const p of result.problems) {
    expect(typeof p.path).toBe('string');
    expect(p.message.length).toBeGreaterThan(0);
  }
  return result.problems;
}

const paths = (ps: EventProblem[]) => ps.map((p) => p.path).sort();

describe('domain validators', () => {
  test.each(STREAM_NAMES)('%s accepts a good event and returns it unchanged', (stream) => {
    expect(parseEvent(stream, GOOD[stream])).toEqual({ ok: true, event: GOOD[stream] });
  });

  test.each(STREAM_NAMES)('%s has exactly the contract fields', (stream) => {
    const shape = (EVENT_SCHEMAS[stream] as unknown as { shape: Record<string, unknown> }).shape;
    expect(Object.keys(shape).sort()).toEqual([...CONTRACT_FIELDS[stream]].sort());
    expect(Object.keys(GOOD[stream])).toEqual([...CONTRACT_FIELDS[stream]]);
  });

  test('contract field lists match CONTRACT.md', () => {
    expect(CONTRACT_FIELDS).toEqual({
      metrics: ['timestamp', 'tps', 'cpu', 'memory', 'connections', 'errorRate'],
      transactions: ['timestamp', 'txHash', 'from', 'to', 'value', 'status', 'gasUsed'],
      validators: ['timestamp', 'validator', 'status', 'votingPower', 'uptime', 'lastBlockProposed'],
      consensus: ['timestamp', 'leader', 'epoch', 'round', 'term', 'state', 'performanceScore', 'activeValidators'],
      network: ['timestamp', 'peerId', 'ip', 'connected', 'latency', 'version'],
    });
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

    test('rejects a missing field at its path', () => {
      const field = CONTRACT_FIELDS[stream][1] as string;
      expect(paths(problems(stream, {}, [field]))).toEqual([field]);
    });

    test('rejects a non-object', () => {
      expect(parseEvent(stream, null)).toMatchObject({ ok: false, problems: [{ path: '(root)' }] });
      expect(parseEvent(stream, 'event')).toMatchObject({ ok: false });
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
    // Values past 2^53 are fine as strings.
    expect(parseEvent('transactions', { ...GOOD.transactions, value: '0' }).ok).toBe(true);
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
    expect(parseEvent('network', { ...GOOD.network, ip: '2001:db8::1' }).ok).toBe(true);
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

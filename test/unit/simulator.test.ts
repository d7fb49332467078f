import { afterEach, describe, expect, test, vi } from 'vitest';
import type { Publish } from '../../src/bus/bus.ts';
import {
  CHAIN_STREAMS,
  parseEvent,
  VALIDATOR_STATUSES,
  type ConsensusEvent,
  type EventOf,
  type StreamName,
  type TransactionEvent,
  type ValidatorEvent,
} from '../helpers/contract.ts';
import { ChainModel, type ChainModelOptions, type Emitted } from '../../src/sources/simulator/chain.ts';
import { createSimulatorSource } from '../../src/sources/simulator/index.ts';
import { waitFor } from '../helpers/wait.ts';

type ValidatorStatus = ValidatorEvent['status'];

const GENESIS_TIME = Date.UTC(2025, 9, 25, 9, 35, 0, 0);

interface Run {
  model: ChainModel;
  genesis: Emitted[];
  /** Every event after genesis, in emission order. */
  events: Emitted[];
}

/**
 * Drives the model with a synthetic clock the way the timer-driven source
 * does: propose, a few submissions while the block is open, commit, the odd
 * peer churn. The schedule is fixed so the only randomness is the seed's.
 */
function drive(blocks: number, options: Partial<ChainModelOptions> & { seed: number }): Run {
  const model = new ChainModel({ validators: 21, peers: 24, ...options });
  let now = GENESIS_TIME;
  const genesis = model.genesis(now);
  const events: Emitted[] = [];
  const submit = () => events.push({ stream: 'transactions', event: model.submitTransaction(now) });
  for (let b = 0; b < blocks; b++) {
    now += 400;
    events.push(...model.propose(now));
    for (let i = 0; i < b % 4; i++) {
      now += 13;
      submit();
    }
    if (b % 3 === 0) {
      now += 7;
      events.push({ stream: 'network', event: model.churnPeer(now) });
    }
    now += 600 - 13 * (b % 4);
    events.push(...model.commit(now));
    // Transactions submitted between commit and the next proposal wait a whole round.
    if (b % 5 === 0) submit();
  }
  return { model, genesis, events };
}

const of = <S extends StreamName>(events: Emitted[], stream: S): EventOf<S>[] =>
  events.filter((e) => e.stream === stream).map((e) => e.event as EventOf<S>);

describe('ChainModel over thousands of blocks', () => {
  const BLOCKS = 3000;
  // A short epoch so the run crosses many epoch boundaries; a small set so the quorum rule is exercised.
  const runs = [
    { name: '21 validators, default epoch', run: drive(BLOCKS, { seed: 1 }) },
    { name: '7 validators, 25-block epochs', run: drive(BLOCKS, { seed: 7, validators: 7, epochBlocks: 25 }) },
    { name: '4 validators, 10-block epochs', run: drive(BLOCKS, { seed: 99, validators: 4, epochBlocks: 10, termBlocks: 2 }) },
  ];

  describe.each(runs)('$name', ({ run }) => {
    test('every event passes the domain validator of its stream', () => {
      const all = [...run.genesis, ...run.events];
      const invalid = all.map(({ stream, event }) => ({ stream, event, result: parseEvent(stream, event) })).filter((r) => !r.result.ok);
      expect(invalid).toEqual([]);
      // The run produced something on each chain stream, so the check above means something.
      for (const stream of CHAIN_STREAMS) {
        expect(of(all, stream).length, stream).toBeGreaterThan(0);
      }
    });

    test('consensus: rounds rise within an epoch, reset only on a new epoch; epoch and term never decrease', () => {
      const consensus = of(run.events, 'consensus');
      expect(consensus[0]).toMatchObject({ epoch: 1, round: 1, state: 'PENDING' });
      let epochChanges = 0;
      for (let i = 1; i < consensus.length; i++) {
        const prev = consensus[i - 1] as ConsensusEvent;
        const cur = consensus[i] as ConsensusEvent;
        const where = `event ${i}: ${JSON.stringify(prev)} -> ${JSON.stringify(cur)}`;
        expect(cur.epoch, where).toBeGreaterThanOrEqual(prev.epoch);
        expect(cur.term, where).toBeGreaterThanOrEqual(prev.term);
        if (cur.state === 'COMMITTED') {
          // A commit closes the round its proposal opened: same epoch, round, term and leader.
          expect(prev.state, where).toBe('PENDING');
          const round = ({ epoch, round, term, leader }: ConsensusEvent) => ({ epoch, round, term, leader });
          expect(round(cur), where).toEqual(round(prev));
        } else if (cur.epoch === prev.epoch) {
          expect(cur.round, where).toBe(prev.round + 1);
        } else {
          epochChanges++;
          expect(cur.epoch, where).toBe(prev.epoch + 1);
          expect(cur.round, where).toBe(1);
        }
      }
      expect(epochChanges).toBeGreaterThan(2);
      // Terms move on as leaders rotate.
      expect((consensus.at(-1) as ConsensusEvent).term).toBeGreaterThan(10);
    });

    test('consensus: exactly one PENDING per round, at most one COMMITTED, and most rounds commit', () => {
      const consensus = of(run.events, 'consensus');
      const rounds = new Map<string, string[]>();
      for (const c of consensus) {
        const key = `${c.epoch}/${c.round}`;
        rounds.set(key, [...(rounds.get(key) ?? []), c.state]);
      }
      const shapes = new Set([...rounds.values()].map((states) => states.join(',')));
      expect([...shapes].sort()).toEqual(['PENDING', 'PENDING,COMMITTED']);
      const committed = consensus.filter((c) => c.state === 'COMMITTED').length;
      expect(rounds.size).toBe(BLOCKS);
      expect(committed).toBeGreaterThan(BLOCKS * 0.9);
      expect(committed).toBe(run.model.height);
    });

    test('the proposing leader is always an ACTIVE validator', () => {
      const status = new Map<string, ValidatorStatus>();
      for (const v of of(run.genesis, 'validators')) status.set(v.validator, v.status);
      for (const { stream, event } of run.events) {
        if (stream === 'validators') status.set(event.validator, event.status);
        if (stream === 'consensus' && event.state === 'PENDING') {
          expect(status.get(event.leader), JSON.stringify(event)).toBe('ACTIVE');
        }
      }
    });

    test('transactions: every PENDING finishes exactly once, never before it was submitted, unchanged', () => {
      const submitted = new Map<string, { index: number; event: TransactionEvent }>();
      const finished = new Map<string, TransactionEvent>();
      run.events.forEach(({ stream, event }, index) => {
        if (stream !== 'transactions') return;
        if (event.status === 'PENDING') {
          expect(submitted.has(event.txHash), `duplicate hash ${event.txHash}`).toBe(false);
          expect(event.gasUsed).toBe(0);
          submitted.set(event.txHash, { index, event });
          return;
        }
        const origin = submitted.get(event.txHash);
        expect(origin, `${event.txHash} finished without being submitted first`).toBeDefined();
        expect(finished.has(event.txHash), `${event.txHash} finished twice`).toBe(false);
        finished.set(event.txHash, event);
        expect(origin!.index).toBeLessThan(index);
        expect(Date.parse(event.timestamp)).toBeGreaterThanOrEqual(Date.parse(origin!.event.timestamp));
        expect({ from: event.from, to: event.to, value: event.value }).toEqual({
          from: origin!.event.from,
          to: origin!.event.to,
          value: origin!.event.value,
        });
        expect(event.from).not.toBe(event.to);
        expect(event.gasUsed).toBeGreaterThanOrEqual(21_000);
      });
      // Whatever is not finished yet is exactly what still waits in the pool.
      expect(submitted.size - finished.size).toBe(run.model.pendingTransactions);
      expect(run.model.pendingTransactions).toBeLessThan(10);
      const statuses = [...finished.values()].map((t) => t.status);
      expect(statuses.filter((s) => s === 'FAILED').length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 'SUCCESS').length).toBeGreaterThan(statuses.length * 0.9);
      // Values exceed 2^53 somewhere, which is why they travel as strings.
      expect([...submitted.values()].some(({ event }) => BigInt(event.value) > 2n ** 53n)).toBe(true);
    });

    test('transactions finish only at a commit, stamped with that commit', () => {
      for (let i = 0; i < run.events.length; i++) {
        const item = run.events[i] as Emitted;
        if (item.stream !== 'transactions' || item.event.status === 'PENDING') continue;
        // A commit batch is: finished transactions, the block that finished them, then the COMMITTED consensus event.
        let j = i + 1;
        while (run.events[j]?.stream === 'transactions') j++;
        const block = run.events[j];
        expect(block?.stream).toBe('blocks');
        expect(block?.event.timestamp).toBe(item.event.timestamp);
        const next = run.events[j + 1];
        expect(next?.stream).toBe('consensus');
        expect((next?.event as ConsensusEvent).state).toBe('COMMITTED');
        expect(next?.event.timestamp).toBe(item.event.timestamp);
      }
    });

    test('validators: statuses stay in the enum, every event is a change, at least 2/3 stay ACTIVE', () => {
      const status = new Map<string, ValidatorStatus>();
      for (const v of of(run.genesis, 'validators')) status.set(v.validator, v.status);
      const n = status.size;
      const seen = new Set<ValidatorStatus>();
      const active = () => [...status.values()].filter((s) => s === 'ACTIVE').length;
      for (const { stream, event } of run.events) {
        if (stream === 'validators') {
          expect(VALIDATOR_STATUSES).toContain(event.status);
          expect(status.has(event.validator), `unknown validator ${event.validator}`).toBe(true);
          expect(event.status, `no-op status event ${JSON.stringify(event)}`).not.toBe(status.get(event.validator));
          status.set(event.validator, event.status);
          seen.add(event.status);
          expect(active() * 3, `active ${active()} of ${n}`).toBeGreaterThanOrEqual(2 * n);
        }
        if (stream === 'consensus') expect(event.activeValidators).toBe(active());
      }
      // The run did exercise status changes, including jail and release.
      expect([...seen].sort()).toEqual(['ACTIVE', 'INACTIVE', 'JAILED']);
    });

    test('network: each peer alternates connect/disconnect from its genesis state', () => {
      const connected = new Map(run.model.peers.map((p) => [p.peerId, false]));
      for (const e of of(run.genesis, 'network')) connected.set(e.peerId, e.connected);
      let churn = 0;
      for (const e of of(run.events, 'network')) {
        expect(connected.has(e.peerId)).toBe(true);
        expect(e.connected, `peer ${e.peerId} repeated its state`).toBe(!connected.get(e.peerId));
        connected.set(e.peerId, e.connected);
        if (!e.connected) expect(e.latency).toBe(0);
        else expect(e.latency).toBeGreaterThan(0);
        churn++;
      }
      expect(churn).toBe(BLOCKS / 3);
      expect(
        [...connected.entries()]
          .filter(([, c]) => c)
          .map(([id]) => id)
          .sort(),
      ).toEqual(
        run.model.peers
          .filter((p) => p.connected)
          .map((p) => p.peerId)
          .sort(),
      );
    });
  });

  test('a view change (a proposal that never commits) starts a new term with another leader', () => {
    // chain.ts documents: "Sometimes the leader times out instead: a view change starts a new term".
    const repeats: string[] = [];
    let viewChanges = 0;
    for (const { name, run } of runs) {
      const consensus = of(run.events, 'consensus');
      for (let i = 1; i < consensus.length; i++) {
        const prev = consensus[i - 1] as ConsensusEvent;
        const cur = consensus[i] as ConsensusEvent;
        if (prev.state !== 'PENDING' || cur.state !== 'PENDING') continue;
        viewChanges++;
        if (cur.term === prev.term || cur.leader === prev.leader) {
          repeats.push(
            `${name}: epoch ${cur.epoch} round ${cur.round}, term ${prev.term}->${cur.term}, leader kept=${cur.leader === prev.leader}`,
          );
        }
      }
    }
    expect(viewChanges).toBeGreaterThan(0);
    expect(repeats, `${repeats.length} of ${viewChanges} view changes kept the timed-out leader and term`).toEqual([]);
  });

  test('same seed gives the identical event sequence; a different seed does not', () => {
    const a = drive(500, { seed: 12345 });
    const b = drive(500, { seed: 12345 });
    const c = drive(500, { seed: 12346 });
    expect(b.genesis).toEqual(a.genesis);
    expect(b.events).toEqual(a.events);
    expect(c.genesis).not.toEqual(a.genesis);
    expect(c.events).not.toEqual(a.events);
    // Not merely different in one place: the validator sets differ altogether.
    const addresses = (r: Run) => new Set(r.model.validators.map((v) => v.address));
    const shared = [...addresses(a)].filter((x) => addresses(c).has(x));
    expect(shared).toEqual([]);
  });

  test('genesis emits the whole validator set (ACTIVE, distinct) and the connected peers', () => {
    const model = new ChainModel({ seed: 3, validators: 21, peers: 40 });
    const genesis = model.genesis(GENESIS_TIME);
    const validators = of(genesis, 'validators');
    const network = of(genesis, 'network');
    expect(genesis.length).toBe(validators.length + network.length);
    expect(validators.map((v) => v.validator)).toEqual(model.validators.map((v) => v.address));
    expect(new Set(validators.map((v) => v.validator.toLowerCase())).size).toBe(21);
    for (const v of validators) {
      expect(v).toMatchObject({ status: 'ACTIVE', lastBlockProposed: 0, timestamp: '2025-10-25T09:35:00.000Z' });
      expect(v.uptime).toBeGreaterThan(90);
    }
    const connected = model.peers.filter((p) => p.connected);
    expect(network.map((n) => n.peerId)).toEqual(connected.map((p) => p.peerId));
    expect(network.every((n) => n.connected)).toBe(true);
    // Some but not all of 40 peers start connected.
    expect(network.length).toBeGreaterThan(0);
    expect(network.length).toBeLessThan(40);
    for (const e of genesis) expect(parseEvent(e.stream, e.event)).toMatchObject({ ok: true });
  });
});

type Recorded = { [S in StreamName]: { stream: S; event: unknown } }[StreamName];

function recorder() {
  const events: Recorded[] = [];
  const publish: Publish = (stream, event) => {
    events.push({ stream, event } as Recorded);
  };
  const count = (stream: StreamName, where: (event: never) => boolean = () => true) =>
    events.filter((e) => e.stream === stream && where(e.event as never)).length;
  return { events, publish, count };
}

describe('createSimulatorSource', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('with real timers at a fast block time, every chain stream emits', async () => {
    const source = createSimulatorSource({ seed: 5, tps: 200, validators: 21, blockTimeMs: 50, peers: 24 });
    const { events, publish, count } = recorder();
    try {
      await source.start(publish);
      // Genesis is synchronous: the validator set and connected peers are there before the first timer.
      expect(count('validators')).toBe(21);
      expect(count('network')).toBeGreaterThan(0);
      await waitFor(
        () =>
          count('consensus', (e: ConsensusEvent) => e.state === 'COMMITTED') >= 3 &&
          count('transactions', (e: TransactionEvent) => e.status === 'PENDING') > 0 &&
          count('transactions', (e: TransactionEvent) => e.status !== 'PENDING') > 0 &&
          count('validators') > 21,
        { what: 'consensus commits, submitted and finished transactions, validator changes' },
      );
    } finally {
      await source.stop();
    }
    for (const stream of CHAIN_STREAMS) {
      expect(count(stream), stream).toBeGreaterThan(0);
    }
    expect(events.filter((e) => e.stream === 'metrics')).toEqual([]);
    for (const { stream, event } of events) expect(parseEvent(stream, event), stream).toMatchObject({ ok: true });
  });

  test('with fake timers: one block per block time, SIM_TPS transactions per second, nothing after stop', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: GENESIS_TIME });
    const source = createSimulatorSource({ seed: 9, tps: 200, validators: 21, blockTimeMs: 100, peers: 24 });
    const { events, publish, count } = recorder();
    await source.start(publish);
    const genesis = events.length;
    // First proposal is immediate; its commit follows at 40 % of the block time.
    expect(count('consensus')).toBe(1);
    vi.advanceTimersByTime(40);
    expect(count('consensus', (e: ConsensusEvent) => e.state === 'PENDING')).toBe(1);
    expect(count('consensus', (e: ConsensusEvent) => e.state === 'COMMITTED')).toBeLessThanOrEqual(1);

    vi.advanceTimersByTime(2000 - 40);
    // Proposals at 0, 100, …, 2000.
    expect(count('consensus', (e: ConsensusEvent) => e.state === 'PENDING')).toBe(21);
    expect(count('transactions', (e: TransactionEvent) => e.status === 'PENDING')).toBe(400);
    const committed = count('consensus', (e: ConsensusEvent) => e.state === 'COMMITTED');
    expect(committed).toBe(source.model.height);
    expect(committed).toBeGreaterThanOrEqual(15);
    // Timestamps follow the clock the source read.
    const last = events.at(-1)?.event as { timestamp: string };
    expect(Date.parse(last.timestamp)).toBeLessThanOrEqual(GENESIS_TIME + 2000);
    expect(events.length).toBeGreaterThan(genesis);

    await source.stop();
    const stopped = events.length;
    vi.advanceTimersByTime(10_000);
    expect(events.length).toBe(stopped);
  });
});

import { createHash } from 'node:crypto';
import { toTimestamp } from '../../streams/fields.ts';
import type { EventOf, StreamName } from '../../streams/registry.ts';
import { createRandom, type Random } from './random.ts';

export type Emitted = { [S in StreamName]: { stream: S; event: EventOf<S> } }[StreamName];

type ConsensusEvent = EventOf<'consensus'>;
type NetworkEvent = EventOf<'network'>;
type TransactionEvent = EventOf<'transactions'>;
type ValidatorEvent = EventOf<'validators'>;
type ValidatorStatus = ValidatorEvent['status'];

export interface ChainModelOptions {
  seed: number;
  validators: number;
  peers: number;
  /** Blocks per epoch; rounds count blocks within an epoch. */
  epochBlocks?: number;
  /** Blocks a leader keeps proposing before rotation starts a new term. */
  termBlocks?: number;
  accounts?: number;
}

interface ValidatorState {
  address: string;
  status: ValidatorStatus;
  votingPower: number;
  signed: number;
  total: number;
  lastBlockProposed: number;
  /** Tendermint-style proposer priority: weighted round-robin by voting power. */
  priority: number;
  jailedUntil: number;
}

interface PeerState {
  peerId: string;
  ip: string;
  connected: boolean;
  baseLatency: number;
  version: string;
}

interface PendingTx {
  txHash: string;
  from: string;
  to: string;
  value: string;
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const VERSIONS = ['1.4.2', '1.5.0', '1.5.1', '1.6.0-rc.1'] as const;
const JAIL_BLOCKS = 12;
const FAILURE_RATE = 0.04;
const VIEW_CHANGE_RATE = 0.03;
const STATUS_CHANGE_RATE = 0.35;

/**
 * A small deterministic chain: validators with voting power and uptime, a
 * weighted leader rotation, blocks that are proposed (PENDING) then committed,
 * transactions that wait in a pool until a commit finishes them, validators that
 * drop out, get jailed and come back, and peers that come and go. Pure: the
 * caller supplies time, so tests can drive it without timers.
 */
export class ChainModel {
  readonly validators: ValidatorState[];
  readonly peers: PeerState[];
  readonly accounts: string[];
  private readonly random: Random;
  private readonly epochBlocks: number;
  private readonly termBlocks: number;
  private readonly pool: PendingTx[] = [];
  height = 0;
  epoch = 1;
  round = 0;
  term = 1;
  private leader: ValidatorState | undefined;
  private leaderBlocks = 0;
  private proposing = false;
  private viewChanged = false;
  /** The hash of the last committed block; the genesis parent is all zeros. */
  private lastBlockHash = `0x${'0'.repeat(64)}`;

  constructor(options: ChainModelOptions) {
    this.random = createRandom(options.seed);
    this.epochBlocks = options.epochBlocks ?? 60;
    this.termBlocks = options.termBlocks ?? 4;
    const r = this.random;
    this.validators = Array.from({ length: options.validators }, () => {
      const total = 10_000;
      return {
        address: `0x${r.hex(20)}`,
        status: 'ACTIVE' as ValidatorStatus,
        votingPower: r.int(1_000, 10_001),
        signed: total - r.int(0, 300),
        total,
        lastBlockProposed: 0,
        priority: 0,
        jailedUntil: 0,
      };
    });
    this.peers = Array.from({ length: options.peers }, (_, i) => ({
      peerId: `12D3KooW${Array.from({ length: 44 }, () => r.pick([...BASE58])).join('')}`,
      ip: i % 2 === 0 ? `198.51.100.${r.int(1, 255)}` : `203.0.113.${r.int(1, 255)}`,
      connected: false,
      baseLatency: 5 + r.next() * 200,
      version: r.pick(VERSIONS),
    }));
    this.accounts = Array.from({ length: options.accounts ?? 200 }, () => `0x${r.hex(20)}`);
  }

  get pendingTransactions(): number {
    return this.pool.length;
  }

  /** The events that describe the chain as it is when the simulator starts. */
  genesis(now: number): Emitted[] {
    const out: Emitted[] = this.validators.map((v) => ({ stream: 'validators', event: this.validatorEvent(v, now) }));
    for (const peer of this.peers) {
      if (this.random.chance(0.75)) {
        peer.connected = true;
        out.push({ stream: 'network', event: this.peerEvent(peer, now) });
      }
    }
    return out;
  }

  /** Starts the next round: a leader proposes a block (consensus PENDING). */
  propose(now: number): Emitted[] {
    if (this.round >= this.epochBlocks) {
      this.epoch++;
      this.round = 0;
    }
    this.round++;
    this.rotateLeaderIfDue();
    this.proposing = true;
    return [{ stream: 'consensus', event: this.consensusEvent('PENDING', now, 1) }];
  }

  /**
   * Ends the round. Usually the block commits: pending transactions finish,
   * the block is published, validators sign (or miss) and one may change status. Sometimes the leader
   * times out instead: a view change starts a new term and the pool waits.
   */
  commit(now: number): Emitted[] {
    if (!this.proposing) return [];
    this.proposing = false;
    const leader = this.currentLeader();
    if (this.random.chance(VIEW_CHANGE_RATE)) {
      // The leader timed out: the view change starts a new term, even if rotation picks the same validator again.
      this.leaderBlocks = this.termBlocks;
      this.viewChanged = true;
      return [];
    }
    this.height++;
    leader.lastBlockProposed = this.height;
    this.leaderBlocks++;

    const out: Emitted[] = [];
    let blockGas = 0;
    const finished = this.pool.splice(0);
    for (const tx of finished) {
      const failed = this.random.chance(FAILURE_RATE);
      const gasUsed = failed ? this.random.int(21_000, 60_000) : this.random.int(21_000, 250_000);
      blockGas += gasUsed;
      out.push({ stream: 'transactions', event: { timestamp: toTimestamp(now), ...tx, status: failed ? 'FAILED' : 'SUCCESS', gasUsed } });
    }
    // The block hash commits to its parent, height and transactions (no random draw: the rest of the chain stays as seeded).
    const hash = `0x${createHash('sha256')
      .update(`${this.lastBlockHash}:${this.height}:${finished.map((tx) => tx.txHash).join(',')}`)
      .digest('hex')}`;
    out.push({
      stream: 'blocks',
      event: {
        timestamp: toTimestamp(now),
        height: this.height,
        hash,
        parentHash: this.lastBlockHash,
        proposer: leader.address,
        txCount: finished.length,
        gasUsed: blockGas,
        state: 'COMMITTED',
      },
    });
    this.lastBlockHash = hash;

    let signedPower = 0;
    let totalPower = 0;
    for (const v of this.validators) {
      totalPower += v.votingPower;
      v.total++;
      if (v.status === 'ACTIVE' && (v === leader || this.random.chance(0.985))) {
        v.signed++;
        signedPower += v.votingPower;
      }
    }
    out.push({ stream: 'consensus', event: this.consensusEvent('COMMITTED', now, totalPower ? signedPower / totalPower : 0) });
    out.push(...this.changeValidatorStatus(now));
    return out;
  }

  /** A user submits a transaction; it waits in the pool until the next commit. */
  submitTransaction(now: number): TransactionEvent {
    const r = this.random;
    const from = r.pick(this.accounts);
    let to = r.pick(this.accounts);
    if (to === from) to = this.accounts[(this.accounts.indexOf(from) + 1) % this.accounts.length] as string;
    // Smallest-unit amounts well past 2^53: a few units of an 18-decimal token.
    const value = BigInt(r.int(1, 1_000_000)) * 10n ** BigInt(r.int(9, 16));
    const tx: PendingTx = { txHash: `0x${r.hex(32)}`, from, to, value: value.toString() };
    this.pool.push(tx);
    return { timestamp: toTimestamp(now), ...tx, status: 'PENDING', gasUsed: 0 };
  }

  /** A seeded coin flip, so drivers stay deterministic too. */
  chance(probability: number): boolean {
    return this.random.chance(probability);
  }

  /** A peer connects or disconnects. */
  churnPeer(now: number): NetworkEvent {
    const peer = this.random.pick(this.peers);
    peer.connected = !peer.connected;
    if (peer.connected && this.random.chance(0.2)) peer.version = this.random.pick(VERSIONS);
    return this.peerEvent(peer, now);
  }

  private currentLeader(): ValidatorState {
    if (!this.leader) this.rotateLeaderIfDue();
    return this.leader as ValidatorState;
  }

  private rotateLeaderIfDue(): void {
    const eligible = this.validators.filter((v) => v.status === 'ACTIVE');
    const leaderStillEligible = this.leader?.status === 'ACTIVE';
    if (this.leader && leaderStillEligible && this.leaderBlocks < this.termBlocks) return;
    // After a timeout the next leader must be another validator, as in PBFT-style view changes.
    const candidates = this.viewChanged && eligible.length > 1 ? eligible.filter((v) => v !== this.leader) : eligible;
    const pool = candidates.length > 0 ? candidates : this.validators;
    const total = pool.reduce((sum, v) => sum + v.votingPower, 0);
    let best = pool[0] as ValidatorState;
    for (const v of pool) {
      v.priority += v.votingPower;
      if (v.priority > best.priority) best = v;
    }
    best.priority -= total;
    if (best !== this.leader || this.viewChanged) this.term++;
    this.viewChanged = false;
    this.leader = best;
    this.leaderBlocks = 0;
  }

  private changeValidatorStatus(now: number): Emitted[] {
    const r = this.random;
    const out: Emitted[] = [];
    for (const v of this.validators) {
      if (v.status === 'JAILED' && this.height >= v.jailedUntil) {
        v.status = 'ACTIVE';
        out.push({ stream: 'validators', event: this.validatorEvent(v, now) });
      }
    }
    if (!r.chance(STATUS_CHANGE_RATE)) return out;
    const v = r.pick(this.validators);
    const active = this.validators.filter((x) => x.status === 'ACTIVE').length;
    // Keep a BFT quorum: never take the set below two thirds active.
    const canDeactivate = active - 1 > (2 * this.validators.length) / 3;
    if (v.status === 'INACTIVE') {
      v.status = 'ACTIVE';
    } else if (v.status === 'ACTIVE' && canDeactivate) {
      if (r.chance(0.2)) {
        v.status = 'JAILED';
        v.jailedUntil = this.height + JAIL_BLOCKS;
      } else {
        v.status = 'INACTIVE';
      }
    } else {
      return out;
    }
    out.push({ stream: 'validators', event: this.validatorEvent(v, now) });
    return out;
  }

  private consensusEvent(state: ConsensusEvent['state'], now: number, performanceScore: number): ConsensusEvent {
    return {
      timestamp: toTimestamp(now),
      leader: this.currentLeader().address,
      epoch: this.epoch,
      round: this.round,
      term: this.term,
      state,
      performanceScore: Math.round(performanceScore * 10_000) / 10_000,
      activeValidators: this.validators.filter((v) => v.status === 'ACTIVE').length,
    };
  }

  private validatorEvent(v: ValidatorState, now: number): ValidatorEvent {
    return {
      timestamp: toTimestamp(now),
      validator: v.address,
      status: v.status,
      votingPower: v.votingPower,
      uptime: Math.round((v.signed / v.total) * 10_000) / 100,
      lastBlockProposed: v.lastBlockProposed,
    };
  }

  private peerEvent(peer: PeerState, now: number): NetworkEvent {
    return {
      timestamp: toTimestamp(now),
      peerId: peer.peerId,
      ip: peer.ip,
      connected: peer.connected,
      latency: peer.connected ? Math.round((peer.baseLatency + this.random.next() * 20) * 10) / 10 : 0,
      version: peer.version,
    };
  }
}

import type { Publish } from '../../bus/bus.ts';
import { publishAndForget, type EventSource } from '../source.ts';
import { ChainModel, type Emitted } from './chain.ts';

export interface SimulatorOptions {
  seed: number;
  tps: number;
  validators: number;
  blockTimeMs: number;
  peers: number;
}

const TX_TICK_MS = 50;
const PEER_TICK_MS = 500;
const PEER_CHURN_PER_TICK = 0.25;
/** Share of the block time between proposal and commit. */
const COMMIT_DELAY = 0.4;

/** The embedded default source: drives the chain model with timers. */
export function createSimulatorSource(options: SimulatorOptions): EventSource & { readonly model: ChainModel } {
  const model = new ChainModel({ seed: options.seed, validators: options.validators, peers: options.peers });
  const timers: NodeJS.Timeout[] = [];
  let commitTimer: NodeJS.Timeout | undefined;
  let publish: Publish | undefined;
  const emit = (items: Emitted[]) => {
    for (const { stream, event } of items) publishAndForget((publish as Publish)(stream, event as never));
  };

  return {
    name: 'simulator',
    model,
    start(p) {
      publish = p;
      emit(model.genesis(Date.now()));
      const block = () => {
        emit(model.propose(Date.now()));
        commitTimer = setTimeout(() => emit(model.commit(Date.now())), options.blockTimeMs * COMMIT_DELAY).unref();
      };
      block();
      timers.push(setInterval(block, options.blockTimeMs));

      if (options.tps > 0) {
        let due = 0;
        let last = Date.now();
        timers.push(
          setInterval(() => {
            const now = Date.now();
            // Accumulate fractional transactions so low rates (e.g. 0.5/s) still come out right over time.
            due += ((now - last) / 1000) * options.tps;
            last = now;
            for (; due >= 1; due--) publishAndForget(p('transactions', model.submitTransaction(now)));
          }, TX_TICK_MS),
        );
      }
      timers.push(
        setInterval(() => {
          if (model.chance(PEER_CHURN_PER_TICK)) publishAndForget(p('network', model.churnPeer(Date.now())));
        }, PEER_TICK_MS),
      );
      for (const t of timers) t.unref();
    },
    stop() {
      for (const t of timers.splice(0)) clearInterval(t);
      clearTimeout(commitTimer);
    },
  };
}

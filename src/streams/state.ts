import type { NetworkEvent, ValidatorEvent } from '../domain/index.ts';
import type { StreamItem } from './hub.ts';
import type { Hubs } from './index.ts';

/**
 * The chain as a dashboard sees it before subscribing: the validator set and
 * the connected peers, projected from the streams. Latest metrics, consensus
 * and recent transactions come straight from the hubs' history.
 */
export interface ChainState {
  validators(): StreamItem<'validators'>[];
  connectedPeers(): StreamItem<'network'>[];
  stop(): void;
}

export function createChainState(hubs: Hubs): ChainState {
  const validators = new Map<string, StreamItem<'validators'>>();
  const peers = new Map<string, StreamItem<'network'>>();
  const untapValidators = hubs.validators.tap((item: StreamItem<'validators'> & ValidatorEvent) => {
    validators.set(item.validator.toLowerCase(), item);
  });
  const untapNetwork = hubs.network.tap((item: StreamItem<'network'> & NetworkEvent) => {
    if (item.connected) peers.set(item.peerId, item);
    else peers.delete(item.peerId);
  });
  return {
    validators: () => [...validators.values()].sort((a, b) => b.votingPower - a.votingPower),
    connectedPeers: () => [...peers.values()],
    stop() {
      untapValidators();
      untapNetwork();
    },
  };
}

import type { ChainState } from '../streams/state.ts';
import type { Streams, Transport } from '../streams/index.ts';

/** What every resolver sees. Built per operation by the transports. */
export interface GraphQLContext {
  streams: Streams;
  state: ChainState;
  /** The wire the operation arrived on; subscriber counts are kept per transport. */
  transport: Transport;
}

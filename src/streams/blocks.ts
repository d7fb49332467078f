import { defineStream } from './descriptor.ts';
import { defineEnum, field } from './fields.ts';

export const BlockState = defineEnum('BlockState', ['COMMITTED'], 'COMMITTED: the block is final.');

/** One event per committed block. */
export const blocks = defineStream({
  name: 'blocks',
  typeName: 'BlockEvent',
  statsField: 'blockConnections',
  description: 'A block committed to the chain.',
  subscription: 'Every committed block, in height order.',
  fields: {
    timestamp: field.timestamp('When the block was committed; receive time minus this is the broadcast latency.'),
    height: field.safeInt('Block height; the first block is 1.'),
    hash: field.hash('0x-prefixed block hash.'),
    parentHash: field.hash('0x-prefixed hash of the previous block.'),
    proposer: field.address('0x-prefixed address of the validator that proposed the block.'),
    txCount: field.int('Transactions finished by this block.'),
    gasUsed: field.safeInt('Gas used by all transactions in the block.'),
    state: field.enumOf(BlockState, 'Always COMMITTED: only final blocks are published.'),
  },
  naturalKey: (b) => b.hash.toLowerCase(),
  filter: {
    kind: 'fields',
    inputName: 'BlockFilter',
    description: 'Fields combine with AND; values within a list with OR; an empty list matches nothing.',
    fields: {
      minHeight: { op: 'atLeast', fields: ['height'], description: 'Only blocks at or above this height.' },
      proposer: { op: 'anyOf', fields: ['proposer'], description: 'Proposed by any of these validators (case-insensitive).' },
    },
  },
  slowConsumer: 'close',
  scope: 'chain',
  queries: [
    { kind: 'latest', name: 'latestBlock', description: 'The latest committed block, or null before the first one.' },
    {
      kind: 'recent',
      name: 'recentBlocks',
      description: 'The most recent committed blocks still retained, oldest first (at most 1000).',
      max: 1000,
      defaultLimit: 20,
    },
  ],
});

import { defineStream } from './descriptor.ts';
import { defineEnum, field } from './fields.ts';

export const ConsensusState = defineEnum(
  'ConsensusState',
  ['PENDING', 'COMMITTED'],
  'PENDING while a proposed block collects votes; COMMITTED once it is final.',
);

/** Consensus rounds: a leader proposes (PENDING), the block commits (COMMITTED). */
export const consensus = defineStream({
  name: 'consensus',
  typeName: 'ConsensusEvent',
  statsField: 'consensusConnections',
  description: 'A consensus state change: a round starts (PENDING) or its block commits (COMMITTED).',
  subscription: 'Consensus rounds: proposals and commits.',
  fields: {
    timestamp: field.timestamp(),
    leader: field.address('0x-prefixed address of the proposing validator.'),
    epoch: field.safeInt('Validator-set epoch.'),
    round: field.safeInt('Round within the epoch; increases monotonically until the epoch changes.'),
    term: field.safeInt('Leader term; increases whenever leadership changes.'),
    state: field.enumOf(ConsensusState, 'PENDING when the round starts; COMMITTED when its block is final.'),
    performanceScore: field.ratio('Share of voting power that signed the block, 0–1 (1 while PENDING).'),
    activeValidators: field.int('Validators ACTIVE in this round.'),
  },
  naturalKey: (c) => `${c.epoch}:${c.round}:${c.term}:${c.state}`,
  filter: {
    kind: 'fields',
    inputName: 'ConsensusFilter',
    description: 'Values within a list combine with OR; an empty list matches nothing.',
    fields: { state: { op: 'anyOf', fields: ['state'], description: 'Any of these states.' } },
  },
  slowConsumer: 'close',
  scope: 'chain',
  queries: [{ kind: 'latest', name: 'consensusState', description: 'The latest consensus state, or null before the first round.' }],
});

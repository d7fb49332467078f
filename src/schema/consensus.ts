import { CONSENSUS_STATES } from '../domain/index.ts';
import type { StreamItem } from '../streams/index.ts';
import { builder } from './builder.ts';
import { defineStreamSubscription, requireStream, StreamEvent } from './stream-event.ts';

export const ConsensusState = builder.enumType('ConsensusState', {
  description: 'PENDING while a proposed block collects votes; COMMITTED once it is final.',
  values: CONSENSUS_STATES,
});

export const ConsensusEvent = builder.objectRef<StreamItem<'consensus'>>('ConsensusEvent').implement({
  description: 'A consensus state change: a round starts (PENDING) or its block commits (COMMITTED).',
  interfaces: [StreamEvent],
  fields: (t) => ({
    leader: t.exposeString('leader', { description: '0x-prefixed address of the proposing validator.' }),
    epoch: t.exposeInt('epoch', { description: 'Validator-set epoch.' }),
    round: t.exposeInt('round', { description: 'Round within the epoch; increases monotonically until the epoch changes.' }),
    term: t.exposeInt('term', { description: 'Leader term; increases whenever leadership changes.' }),
    state: t.expose('state', { type: ConsensusState, description: 'PENDING when the round starts; COMMITTED when its block is final.' }),
    performanceScore: t.exposeFloat('performanceScore', {
      description: 'Share of voting power that signed the block, 0–1 (1 while PENDING).',
    }),
    activeValidators: t.exposeInt('activeValidators', { description: 'Validators ACTIVE in this round.' }),
  }),
});

export const ConsensusFilter = builder.inputType('ConsensusFilter', {
  description: 'Values within a list combine with OR; an empty list matches nothing.',
  fields: (t) => ({
    state: t.field({ type: [ConsensusState], description: 'Any of these states.' }),
  }),
});

defineStreamSubscription('consensus', {
  type: ConsensusEvent,
  description: 'Consensus rounds: proposals and commits.',
  filterArgs: (arg) => ({ filter: arg({ type: ConsensusFilter, description: 'Only matching rounds.' }) }),
  filterInput: (args) => args['filter'],
});

builder.queryField('consensusState', (t) =>
  t.field({
    type: ConsensusEvent,
    nullable: true,
    description: 'The latest consensus state, or null before the first round.',
    resolve: (_root, _args, ctx) => {
      requireStream(ctx, 'consensus');
      return ctx.streams.hubs.consensus.latest();
    },
  }),
);

import { VALIDATOR_STATUSES } from '../domain/index.ts';
import type { StreamItem } from '../streams/index.ts';
import { builder } from './builder.ts';
import { defineStreamSubscription, requireStream, StreamEvent } from './stream-event.ts';

export const ValidatorStatus = builder.enumType('ValidatorStatus', {
  description: 'ACTIVE validators sign blocks; INACTIVE ones missed too many; JAILED ones were slashed for a while.',
  values: VALIDATOR_STATUSES,
});

export const ValidatorEvent = builder.objectRef<StreamItem<'validators'>>('ValidatorEvent').implement({
  description: "A validator's state, published when its status changes.",
  interfaces: [StreamEvent],
  fields: (t) => ({
    validator: t.exposeString('validator', { description: "0x-prefixed validator address." }),
    status: t.expose('status', { type: ValidatorStatus, description: 'The status the validator changed to.' }),
    votingPower: t.exposeFloat('votingPower', { description: 'Stake-weighted voting power.' }),
    uptime: t.exposeFloat('uptime', { description: 'Percent of blocks signed, 0–100.' }),
    lastBlockProposed: t.exposeInt('lastBlockProposed', {
      description: 'Height of the last block this validator proposed; 0 if none yet.',
    }),
  }),
});

export const ValidatorFilter = builder.inputType('ValidatorFilter', {
  description: 'Fields combine with AND; values within a list with OR; an empty list matches nothing.',
  fields: (t) => ({
    validator: t.stringList({ description: 'Any of these validator addresses (case-insensitive).' }),
    status: t.field({ type: [ValidatorStatus], description: 'Any of these statuses.' }),
  }),
});

defineStreamSubscription('validators', {
  type: ValidatorEvent,
  description: 'Validator status changes.',
  filterArgs: (arg) => ({ filter: arg({ type: ValidatorFilter, description: 'Only matching validators.' }) }),
  filterInput: (args) => args['filter'],
});

builder.queryField('validatorSet', (t) =>
  t.field({
    type: [ValidatorEvent],
    description: 'The latest known state of every validator, by voting power (highest first).',
    resolve: (_root, _args, ctx) => {
      requireStream(ctx, 'validators');
      return ctx.state.validators();
    },
  }),
);

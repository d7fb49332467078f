import { defineStream } from './descriptor.ts';
import { defineEnum, field } from './fields.ts';

export const ValidatorStatus = defineEnum(
  'ValidatorStatus',
  ['ACTIVE', 'INACTIVE', 'JAILED'],
  'ACTIVE validators sign blocks; INACTIVE ones missed too many; JAILED ones were slashed for a while.',
);

/** A validator's state, whenever its status changes (and every validator's at start). */
export const validators = defineStream({
  name: 'validators',
  typeName: 'ValidatorEvent',
  statsField: 'validatorConnections',
  description: "A validator's state, published when its status changes.",
  subscription: 'Validator status changes.',
  fields: {
    timestamp: field.timestamp(),
    validator: field.address('0x-prefixed validator address.'),
    status: field.enumOf(ValidatorStatus, 'The status the validator changed to.'),
    votingPower: field.float('Stake-weighted voting power.'),
    uptime: field.percent('Percent of blocks signed, 0–100.'),
    lastBlockProposed: field.safeInt('Height of the last block this validator proposed; 0 if none yet.'),
  },
  naturalKey: (v) => `${v.validator.toLowerCase()}:${v.status}:${v.timestamp}`,
  filter: {
    kind: 'fields',
    inputName: 'ValidatorFilter',
    description: 'Fields combine with AND; values within a list with OR; an empty list matches nothing.',
    fields: {
      validator: { op: 'anyOf', fields: ['validator'], description: 'Any of these validator addresses (case-insensitive).' },
      status: { op: 'anyOf', fields: ['status'], description: 'Any of these statuses.' },
    },
  },
  slowConsumer: 'close',
  scope: 'chain',
  queries: [
    {
      kind: 'snapshot',
      name: 'validatorSet',
      description: 'The latest known state of every validator, by voting power (highest first).',
      keyBy: 'validator',
      order: (a, b) => b.votingPower - a.votingPower,
    },
  ],
});

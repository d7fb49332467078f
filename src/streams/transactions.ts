import { defineStream } from './descriptor.ts';
import { defineEnum, field } from './fields.ts';

export const TransactionStatus = defineEnum(
  'TransactionStatus',
  ['PENDING', 'SUCCESS', 'FAILED'],
  'Lifecycle of a transaction: PENDING when submitted, then exactly one of SUCCESS or FAILED.',
);

/** Every transaction event: submitted (PENDING), then finished by a committed block (SUCCESS or FAILED). */
export const transactions = defineStream({
  name: 'transactions',
  typeName: 'TransactionEvent',
  statsField: 'transactionConnections',
  description: 'A transaction entering the pool (PENDING) or finishing in a committed block (SUCCESS, FAILED).',
  subscription: 'Every transaction event: submissions and their outcomes.',
  fields: {
    timestamp: field.timestamp(),
    txHash: field.hash('0x-prefixed transaction hash.'),
    from: field.address('0x-prefixed sender address.'),
    to: field.address('0x-prefixed recipient address.'),
    value: field.decimal('Amount in the smallest unit, as a decimal string (amounts exceed 2^53).'),
    status: field.enumOf(TransactionStatus, 'PENDING when submitted; SUCCESS or FAILED once a committed block finished it.'),
    gasUsed: field.safeInt('Gas used; 0 while PENDING.'),
  },
  // A transaction appears twice on purpose (PENDING, then its outcome), so its status is part of the key.
  naturalKey: (tx) => `${tx.txHash.toLowerCase()}:${tx.status}`,
  filter: {
    kind: 'fields',
    inputName: 'TransactionFilter',
    description:
      'Fields combine with AND; values within a list with OR; an empty list matches nothing. Addresses compare case-insensitively.',
    fields: {
      status: { op: 'anyOf', fields: ['status'], description: 'Any of these statuses.' },
      from: { op: 'anyOf', fields: ['from'], description: 'Sent by any of these addresses.' },
      to: { op: 'anyOf', fields: ['to'], description: 'Sent to any of these addresses.' },
      address: { op: 'anyOf', fields: ['from', 'to'], description: 'Any of these addresses on either side.' },
      minValue: { op: 'atLeast', fields: ['value'], description: 'Value at least this (decimal string, compared as a big integer).' },
      maxValue: { op: 'atMost', fields: ['value'], description: 'Value at most this (decimal string, compared as a big integer).' },
    },
  },
  slowConsumer: 'close',
  scope: 'chain',
  queries: [
    {
      kind: 'recent',
      name: 'recentTransactions',
      description: 'The most recent transaction events still retained, oldest first (at most 1000).',
      max: 1000,
      defaultLimit: 50,
    },
  ],
});

import { GraphQLError } from 'graphql';
import { TRANSACTION_STATUSES } from '../domain/index.ts';
import type { StreamItem } from '../streams/index.ts';
import { builder } from './builder.ts';
import { defineStreamSubscription, requireStream, StreamEvent } from './stream-event.ts';

export const TransactionStatus = builder.enumType('TransactionStatus', {
  description: 'Lifecycle of a transaction: PENDING when submitted, then exactly one of SUCCESS or FAILED.',
  values: TRANSACTION_STATUSES,
});

export const TransactionEvent = builder.objectRef<StreamItem<'transactions'>>('TransactionEvent').implement({
  description: 'A transaction entering the pool (PENDING) or finishing in a committed block (SUCCESS, FAILED).',
  interfaces: [StreamEvent],
  fields: (t) => ({
    txHash: t.exposeString('txHash', { description: '0x-prefixed transaction hash.' }),
    from: t.exposeString('from', { description: '0x-prefixed sender address.' }),
    to: t.exposeString('to', { description: '0x-prefixed recipient address.' }),
    value: t.exposeString('value', {
      description: 'Amount in the smallest unit, as a decimal string (amounts exceed 2^53).',
    }),
    status: t.expose('status', { type: TransactionStatus, description: 'PENDING when submitted; SUCCESS or FAILED once a committed block finished it.' }),
    gasUsed: t.exposeInt('gasUsed', { description: 'Gas used; 0 while PENDING.' }),
  }),
});

export const TransactionFilter = builder.inputType('TransactionFilter', {
  description: 'Fields combine with AND; values within a list with OR; an empty list matches nothing. Addresses compare case-insensitively.',
  fields: (t) => ({
    status: t.field({ type: [TransactionStatus], description: 'Any of these statuses.' }),
    from: t.stringList({ description: 'Sent by any of these addresses.' }),
    to: t.stringList({ description: 'Sent to any of these addresses.' }),
    address: t.stringList({ description: 'Any of these addresses on either side.' }),
    minValue: t.string({ description: 'Value at least this (decimal string, compared as a big integer).' }),
    maxValue: t.string({ description: 'Value at most this (decimal string, compared as a big integer).' }),
  }),
});

defineStreamSubscription('transactions', {
  type: TransactionEvent,
  description: 'Every transaction event: submissions and their outcomes.',
  filterArgs: (arg) => ({ filter: arg({ type: TransactionFilter, description: 'Only matching transactions.' }) }),
  filterInput: (args) => args['filter'],
});

const MAX_RECENT = 1000;

builder.queryField('recentTransactions', (t) =>
  t.field({
    type: [TransactionEvent],
    description: `The most recent transaction events still retained, oldest first (at most ${MAX_RECENT}).`,
    args: { limit: t.arg.int({ required: true, defaultValue: 50, description: `How many, 1–${MAX_RECENT}.` }) },
    resolve: (_root, { limit }, ctx) => {
      requireStream(ctx, 'transactions');
      if (limit < 1 || limit > MAX_RECENT) {
        throw new GraphQLError(`limit must be between 1 and ${MAX_RECENT}`, {
          extensions: { code: 'BAD_REQUEST', argument: 'limit' },
        });
      }
      return ctx.streams.hubs.transactions.recent(limit);
    },
  }),
);

import type { StreamItem } from '../streams/index.ts';
import { builder } from './builder.ts';
import { defineStreamSubscription, requireStream, StreamEvent } from './stream-event.ts';

export const MetricsSnapshot = builder.objectRef<StreamItem<'metrics'>>('MetricsSnapshot').implement({
  description: 'A snapshot of throughput and health, published every metrics interval (default 1 s).',
  interfaces: [StreamEvent],
  fields: (t) => ({
    tps: t.exposeFloat('tps', { description: 'Finished transactions per second over the last window.' }),
    cpu: t.exposeFloat('cpu', { description: "Percent of the machine's CPU used by the server process, 0–100." }),
    memory: t.exposeFloat('memory', { description: 'Resident memory of the server process in MB.' }),
    connections: t.exposeInt('connections', { description: 'Live subscribers over all transports.' }),
    errorRate: t.exposeFloat('errorRate', { description: 'Failed ÷ finished transactions over the window, 0–1.' }),
  }),
});

defineStreamSubscription('metrics', {
  type: MetricsSnapshot,
  description: 'Throughput and health of this instance, every metrics interval.',
  filterArgs: (arg) => ({
    intervalMs: arg.int({
      description:
        'At most one snapshot per this many ms, always the newest (conflation). Values at or below the server interval get every snapshot.',
    }),
  }),
  filterInput: (args) => ({ intervalMs: args['intervalMs'] }),
});

builder.queryField('latestMetrics', (t) =>
  t.field({
    type: MetricsSnapshot,
    nullable: true,
    description: 'The most recent metrics snapshot, or null before the first tick.',
    resolve: (_root, _args, ctx) => {
      requireStream(ctx, 'metrics');
      return ctx.streams.hubs.metrics.latest();
    },
  }),
);

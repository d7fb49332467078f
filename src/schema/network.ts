import type { StreamItem } from '../streams/index.ts';
import { builder } from './builder.ts';
import { defineStreamSubscription, requireStream, StreamEvent } from './stream-event.ts';

export const NetworkEvent = builder.objectRef<StreamItem<'network'>>('NetworkEvent').implement({
  description: 'A peer connecting to or disconnecting from the node.',
  interfaces: [StreamEvent],
  fields: (t) => ({
    peerId: t.exposeString('peerId', { description: "The peer's identity." }),
    ip: t.exposeString('ip', { description: "The peer's IP address." }),
    connected: t.exposeBoolean('connected', { description: 'True on connect, false on disconnect.' }),
    latency: t.exposeFloat('latency', { description: 'Round-trip latency in ms (0 on disconnect).' }),
    version: t.exposeString('version', { description: "The peer's client version (semver)." }),
  }),
});

export const NetworkFilter = builder.inputType('NetworkFilter', {
  description: 'Fields combine with AND; values within a list with OR; an empty list matches nothing.',
  fields: (t) => ({
    peerId: t.stringList({ description: 'Any of these peers.' }),
    connected: t.boolean({ description: 'Only connects (true) or only disconnects (false).' }),
  }),
});

defineStreamSubscription('network', {
  type: NetworkEvent,
  description: 'Peers connecting and disconnecting.',
  filterArgs: (arg) => ({ filter: arg({ type: NetworkFilter, description: 'Only matching peer events.' }) }),
  filterInput: (args) => args['filter'],
});

builder.queryField('peers', (t) =>
  t.field({
    type: [NetworkEvent],
    description: 'Peers connected now, each with the event that connected it.',
    resolve: (_root, _args, ctx) => {
      requireStream(ctx, 'network');
      return ctx.state.connectedPeers();
    },
  }),
);

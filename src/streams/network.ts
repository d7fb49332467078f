import { defineStream } from './descriptor.ts';
import { field } from './fields.ts';

/** Peers connecting to and disconnecting from the node. */
export const network = defineStream({
  name: 'network',
  typeName: 'NetworkEvent',
  statsField: 'networkConnections',
  description: 'A peer connecting to or disconnecting from the node.',
  subscription: 'Peers connecting and disconnecting.',
  fields: {
    timestamp: field.timestamp(),
    peerId: field.text("The peer's identity.", { maxLength: 128 }),
    ip: field.ip("The peer's IP address."),
    connected: field.boolean('True on connect, false on disconnect.'),
    latency: field.float('Round-trip latency in ms (0 on disconnect).', { min: 0, max: 3_600_000 }),
    version: field.semver("The peer's client version (semver)."),
  },
  naturalKey: (p) => `${p.peerId}:${p.connected}:${p.timestamp}`,
  filter: {
    kind: 'fields',
    inputName: 'NetworkFilter',
    description: 'Fields combine with AND; values within a list with OR; an empty list matches nothing.',
    fields: {
      peerId: { op: 'anyOf', fields: ['peerId'], description: 'Any of these peers.' },
      connected: { op: 'equals', fields: ['connected'], description: 'Only connects (true) or only disconnects (false).' },
    },
  },
  slowConsumer: 'close',
  scope: 'chain',
  queries: [
    {
      kind: 'snapshot',
      name: 'peers',
      description: 'Peers connected now, each with the event that connected it.',
      keyBy: 'peerId',
      keep: (p) => p.connected,
    },
  ],
});

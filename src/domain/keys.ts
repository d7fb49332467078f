import type { EventOf, StreamName } from './index.ts';

/**
 * What makes an event the same event when a chain node sends it twice: used to
 * drop redeliveries inside the dedup window. A transaction appears twice on
 * purpose (PENDING, then its outcome), so its status is part of the key.
 */
export function naturalKey<S extends StreamName>(stream: S, event: EventOf<S>): string {
  const e = event as EventOf<StreamName> & Record<string, unknown>;
  switch (stream) {
    case 'transactions':
      return `${String(e['txHash']).toLowerCase()}:${String(e['status'])}`;
    case 'validators':
      return `${String(e['validator']).toLowerCase()}:${String(e['status'])}:${e.timestamp}`;
    case 'consensus':
      return `${String(e['epoch'])}:${String(e['round'])}:${String(e['term'])}:${String(e['state'])}`;
    case 'network':
      return `${String(e['peerId'])}:${String(e['connected'])}:${e.timestamp}`;
    default:
      return `${e.timestamp}`;
  }
}

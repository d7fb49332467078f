import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { CONTRACT_FIELDS, type EventOf, type StreamName } from './contract.ts';

export type FullEvent<S extends StreamName> = EventOf<S> & { seq: number; cursor: string };
export type FullEventResult<S extends StreamName> = { [K in S]: FullEvent<S> };

/**
 * A subscription selecting every contract field of a stream plus `seq` and
 * `cursor`. Built from CONTRACT_FIELDS so the schema cannot drift from the
 * contract without this document failing validation.
 */
export function fullStreamDocument<S extends StreamName>(stream: S): TypedDocumentNode<FullEventResult<S>, Record<string, never>> {
  const fields = ['seq', 'cursor', ...CONTRACT_FIELDS[stream]].join(' ');
  return parse(`subscription Full_${stream} { ${stream} { ${fields} } }`) as TypedDocumentNode<FullEventResult<S>, Record<string, never>>;
}

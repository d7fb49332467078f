import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './stream-event.ts';
import './metrics.ts';
import './transactions.ts';
import './validators.ts';
import './consensus.ts';
import './network.ts';

export type { GraphQLContext } from './context.ts';

let schema: GraphQLSchema | undefined;

/** The one executable schema. Built once: every stream file registered its types on import. */
export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/** The schema as `schema.graphql` holds it: printed and sorted, so diffs show real changes only. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
}

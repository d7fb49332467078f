import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import { defineStreamTypes } from './stream-types.ts';

export type { GraphQLContext } from './context.ts';

let schema: GraphQLSchema | undefined;

/** The one executable schema, generated from the stream registry; built once. */
export function getSchema(): GraphQLSchema {
  if (!schema) {
    defineStreamTypes();
    schema = builder.toSchema();
  }
  return schema;
}

/** The schema as `schema.graphql` holds it: printed and sorted, so diffs show real changes only. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
}

import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from './context.ts';

/** The builder alone; every stream type is generated from the registry (stream-types.ts). */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: string; Output: string };
    SafeInt: { Input: number; Output: number };
  };
}>({
  defaultFieldNullability: false,
});

builder.queryType({ description: 'Current chain state, for a dashboard to load before it subscribes.' });
builder.subscriptionType({
  description: 'Live chain streams. Each field is one stream; select only the fields you need.',
});

import { GraphQLError, Kind } from 'graphql';
import { timestampSchema } from '../streams/fields.ts';
import { builder } from './builder.ts';

const parseDateTime = (value: unknown): string => {
  if (typeof value === 'string' && timestampSchema.safeParse(value).success) return value;
  throw new GraphQLError('DateTime must be an ISO-8601 UTC timestamp with milliseconds, e.g. 2025-10-25T09:35:00.123Z', {
    extensions: { code: 'BAD_REQUEST' },
  });
};

export const DateTime = builder.scalarType('DateTime', {
  description: 'ISO-8601 UTC timestamp with milliseconds, e.g. `2025-10-25T09:35:00.123Z`: when the event happened at its source.',
  serialize: (value: unknown) => (value instanceof Date ? value.toISOString() : String(value)),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

const parseSafeInt = (value: unknown): number => {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw new GraphQLError('SafeInt must be an integer within ±(2^53 − 1)', { extensions: { code: 'BAD_REQUEST' } });
};

export const SafeInt = builder.scalarType('SafeInt', {
  description: 'An integer up to 2^53 − 1 (sequence numbers outgrow the 32-bit `Int`).',
  serialize: (value) => parseSafeInt(value),
  parseValue: parseSafeInt,
  parseLiteral: (ast) => parseSafeInt(ast.kind === Kind.INT ? Number(ast.value) : undefined),
});

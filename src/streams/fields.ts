import { z } from 'zod';

/**
 * Field kinds of stream events. A stream declares each field once with one of
 * these; validation (zod, with a bound on every value), the GraphQL output type,
 * filter parsing and the legacy frame's field order all come from that one
 * declaration, so they cannot disagree (an ingestible value always fits its
 * GraphQL type; a string always has a length bound).
 */

/** The GraphQL type a field is exposed as. Scalars by name; enums by their definition. */
export type GraphQLFieldType = 'String' | 'Int' | 'Float' | 'Boolean' | 'SafeInt' | 'DateTime' | EnumDefinition;

/** How values of a field compare in filters. */
export type Comparison = 'exact' | 'caseless' | 'bigint' | 'number';

export interface EnumDefinition<V extends string = string> {
  readonly name: string;
  readonly values: readonly V[];
  readonly description: string;
}

export interface FieldSpec<T = unknown> {
  readonly zod: z.ZodType<T>;
  readonly graphql: GraphQLFieldType;
  readonly description: string;
  readonly comparison: Comparison;
  /** What a value must look like, for error messages and filter input checks. */
  readonly expected: string;
}

/** The value type a field spec carries. */
export type FieldValue<S> = S extends FieldSpec<infer T> ? T : never;
export type FieldSpecs = Record<string, FieldSpec>;

/** Largest value of GraphQL's 32-bit `Int`. */
export const INT32_MAX = 2 ** 31 - 1;
/** Digits of the largest 256-bit unsigned integer (2^256 − 1): chain amounts never need more. */
export const MAX_DECIMAL_DIGITS = 78;

/** ISO-8601 UTC with milliseconds, e.g. `2025-10-25T09:35:00.123Z` (24 characters, always). */
export const timestampSchema = z.iso.datetime({ precision: 3 });

const hexSchema = (bytes: number, what: string) =>
  z.string().regex(new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`), `expected a 0x-prefixed ${bytes}-byte hex ${what}`);

const spec = <T>(
  zod: z.ZodType<T>,
  graphql: GraphQLFieldType,
  description: string,
  comparison: Comparison,
  expected: string,
): FieldSpec<T> => ({
  zod,
  graphql,
  description,
  comparison,
  expected,
});

/** Field constructors. Each names its GraphQL type and bounds its values. */
export const field = {
  timestamp: (description = 'When the event happened at its source; receive time minus this is the broadcast latency.') =>
    spec(timestampSchema, 'DateTime', description, 'exact', 'an ISO-8601 UTC timestamp with milliseconds'),
  /** A 20-byte account or validator address. Compared case-insensitively. */
  address: (description: string) => spec(hexSchema(20, 'address'), 'String', description, 'caseless', 'a 0x-prefixed 20-byte hex address'),
  /** A 32-byte hash (transaction, block). Compared case-insensitively. */
  hash: (description: string) => spec(hexSchema(32, 'hash'), 'String', description, 'caseless', 'a 0x-prefixed 32-byte hex hash'),
  /** A non-negative integer as a decimal string: amounts exceed 2^53. Compared as big integers. */
  decimal: (description: string) =>
    spec(
      z
        .string()
        .regex(
          new RegExp(`^(0|[1-9][0-9]{0,${MAX_DECIMAL_DIGITS - 1}})$`),
          `expected a non-negative decimal integer string of at most ${MAX_DECIMAL_DIGITS} digits`,
        ),
      'String',
      description,
      'bigint',
      `a non-negative decimal integer string of at most ${MAX_DECIMAL_DIGITS} digits`,
    ),
  /** A 32-bit integer (GraphQL `Int`), for counts that never approach 2^31. */
  int: (description: string, bounds: { min?: number; max?: number } = {}) => {
    const min = bounds.min ?? 0;
    const max = Math.min(bounds.max ?? INT32_MAX, INT32_MAX);
    return spec(z.number().int().min(min).max(max), 'Int', description, 'number', `an integer from ${min} to ${max}`);
  },
  /** An integer up to 2^53 − 1 (GraphQL `SafeInt`): heights, gas, epochs and rounds outgrow 32 bits. */
  safeInt: (description: string, bounds: { min?: number } = {}) => {
    const min = bounds.min ?? 0;
    return spec(
      z.number().int().min(min).max(Number.MAX_SAFE_INTEGER),
      'SafeInt',
      description,
      'number',
      `an integer from ${min} to 2^53 − 1`,
    );
  },
  float: (description: string, bounds: { min?: number; max?: number } = {}) => {
    const min = bounds.min ?? 0;
    let schema = z.number().finite().min(min);
    if (bounds.max !== undefined) schema = schema.max(bounds.max);
    return spec(
      schema,
      'Float',
      description,
      'number',
      bounds.max === undefined ? `a number ≥ ${min}` : `a number from ${min} to ${bounds.max}`,
    );
  },
  percent: (description: string) => field.float(description, { min: 0, max: 100 }),
  ratio: (description: string) => field.float(description, { min: 0, max: 1 }),
  boolean: (description: string) => spec(z.boolean(), 'Boolean', description, 'exact', 'true or false'),
  enumOf: <V extends string>(definition: EnumDefinition<V>, description: string) =>
    spec(z.enum(definition.values as [V, ...V[]]), definition, description, 'exact', `one of ${definition.values.join(', ')}`),
  /** Free text with a length bound (and optionally a pattern). */
  text: (description: string, bounds: { maxLength: number; pattern?: RegExp; patternMessage?: string }) => {
    let schema = z.string().min(1).max(bounds.maxLength);
    if (bounds.pattern) schema = schema.regex(bounds.pattern, bounds.patternMessage);
    return spec(schema, 'String', description, 'exact', bounds.patternMessage ?? `1–${bounds.maxLength} characters`);
  },
  ip: (description: string) => spec(z.union([z.ipv4(), z.ipv6()]), 'String', description, 'exact', 'an IPv4 or IPv6 address'),
  semver: (description: string) =>
    field.text(description, {
      maxLength: 64,
      pattern: /^\d{1,9}\.\d{1,9}\.\d{1,9}(?:[-+][0-9A-Za-z.-]{1,40})?$/,
      patternMessage: 'expected a semver version',
    }),
};

export function defineEnum<const V extends string>(name: string, values: readonly V[], description: string): EnumDefinition<V> {
  return { name, values, description };
}

/** Formats a millisecond epoch the way every event carries it. */
export function toTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

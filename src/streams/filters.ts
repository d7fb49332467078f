import { RealtimeError } from '../errors.ts';
import type { FieldSpec, FieldSpecs } from './fields.ts';

/**
 * Server-side filters. A stream declares its filter as data (which input
 * fields exist, which event fields each one constrains, with what operator);
 * this module turns that into a parser for GraphQL arguments and legacy query
 * parameters (the same shape) and a predicate. Every filter is put in a
 * canonical form and keyed by it, so subscribers with the same filter share one
 * evaluation per event. Fields combine with AND, values within a list with OR;
 * an empty list matches nothing, like SQL's `IN ()`.
 */

export const MAX_FILTER_LIST = 1000;
export const MAX_INTERVAL_MS = 3_600_000;

/** A checked, canonical filter: `key` is equal for equal filters; `matches` is the predicate. */
export interface StreamFilter<E> {
  key: string;
  matches(event: E): boolean;
  /** For stateful filters (conflation): a fresh instance to judge history with, leaving live state untouched. */
  forHistory?: () => StreamFilter<E>;
}

/**
 * - `anyOf`: a list; matches when any of `fields` holds one of the values.
 * - `equals`: one value; the field equals it.
 * - `atLeast` / `atMost`: one value; the field is ≥ / ≤ it (decimal strings compare as big integers).
 */
export type FilterOperator = 'anyOf' | 'equals' | 'atLeast' | 'atMost';

export interface FilterInputField<K extends string = string> {
  op: FilterOperator;
  /** The event fields it constrains (several: any of them, e.g. an address on either side). */
  fields: readonly K[];
  description: string;
}

export type FilterSpec<K extends string = string> =
  | {
      kind: 'fields';
      /** The GraphQL input type, e.g. `TransactionFilter`; its argument is `filter`. */
      inputName: string;
      description: string;
      fields: Record<string, FilterInputField<K>>;
    }
  | {
      /** At most one event per interval, always the newest: for snapshot streams (metrics). */
      kind: 'conflate';
      /** The argument (and legacy query parameter) holding the interval in ms. */
      argument: string;
      description: string;
    };

export interface FilterLimits {
  /** The stream's own cadence; a conflation interval at or below it gets every event. */
  metricsIntervalMs: number;
}

export interface CompiledFilter<E> {
  readonly spec: FilterSpec;
  /** The legacy query parameters this filter reads. */
  readonly queryParams: readonly string[];
  /**
   * Checks arguments (`{ filter: {...} }` or `{ intervalMs }`, from GraphQL or
   * from `argsFromQuery`) and returns the canonical filter, or undefined when
   * nothing is filtered. Throws BAD_REQUEST naming the argument (`filter.from[0]`).
   */
  parse(args: Record<string, unknown>, limits: FilterLimits, argumentPrefix?: string): StreamFilter<E> | undefined;
  /** Legacy query parameters (`?status=FAILED,SUCCESS&address=0x…`, repeated or comma-separated) as arguments. */
  argsFromQuery(query: URLSearchParams): Record<string, unknown>;
}

const bad = (argument: string, message: string) => new RealtimeError('BAD_REQUEST', `${argument}: ${message}`, { argument });

type Canonical = string | number | bigint | boolean;

/** Turns one raw input value (GraphQL value, or a query string) into the field's canonical form. */
function canonicalValue(spec: FieldSpec, raw: unknown, argument: string): Canonical {
  let value = raw;
  if (typeof raw === 'string') {
    if (spec.graphql === 'Int' || spec.graphql === 'SafeInt') value = /^-?\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
    else if (spec.graphql === 'Float') value = raw.trim() === '' ? Number.NaN : Number(raw);
    else if (spec.graphql === 'Boolean') value = raw === 'true' ? true : raw === 'false' ? false : raw;
  }
  const checked = spec.zod.safeParse(value);
  if (!checked.success) {
    const shown = typeof value === 'string' ? `"${value.slice(0, 80)}"` : String(value).slice(0, 80);
    throw bad(argument, `${shown} is not ${spec.expected}`);
  }
  const data = checked.data as Canonical;
  if (spec.comparison === 'caseless') return String(data).toLowerCase();
  if (spec.comparison === 'bigint') return BigInt(data as string);
  return data;
}

interface Constraint<E> {
  key: unknown;
  matches(event: E): boolean;
}

function compileOperator<E>(input: FilterInputField, specs: FieldSpecs, raw: unknown, argument: string): Constraint<E> | undefined {
  if (raw === null || raw === undefined) return undefined;
  const fields = input.fields;
  const spec = specs[fields[0] as string] as FieldSpec;
  const read =
    spec.comparison === 'caseless'
      ? (e: E, f: string) => String((e as Record<string, unknown>)[f]).toLowerCase()
      : (e: E, f: string) => (e as Record<string, unknown>)[f];
  switch (input.op) {
    case 'anyOf': {
      if (!Array.isArray(raw)) throw bad(argument, 'must be a list');
      if (raw.length > MAX_FILTER_LIST) throw bad(argument, `at most ${MAX_FILTER_LIST} values, got ${raw.length}`);
      const values = new Set(raw.map((value: unknown, i) => canonicalValue(spec, value, `${argument}[${i}]`)));
      return {
        key: [...values].map(String).sort(),
        matches: (event) => {
          for (const f of fields) if (values.has(read(event, f) as Canonical)) return true;
          return false;
        },
      };
    }
    case 'equals': {
      const value = canonicalValue(spec, raw, argument);
      return { key: String(value), matches: (event) => fields.some((f) => read(event, f) === value) };
    }
    case 'atLeast':
    case 'atMost': {
      const bound = canonicalValue(spec, raw, argument) as number | bigint;
      const numeric =
        spec.comparison === 'bigint' ? (e: E, f: string) => BigInt(read(e, f) as string) : (e: E, f: string) => read(e, f) as number;
      const atLeast = input.op === 'atLeast';
      return {
        key: String(bound),
        matches: (event) => fields.some((f) => (atLeast ? numeric(event, f) >= bound : numeric(event, f) <= bound)),
      };
    }
  }
}

function compileFields<E>(spec: Extract<FilterSpec, { kind: 'fields' }>, fieldSpecs: FieldSpecs, streamName: string): CompiledFilter<E> {
  const names = Object.keys(spec.fields);
  return {
    spec,
    queryParams: names,
    parse(args, _limits, argumentPrefix = 'filter.') {
      const input = args['filter'];
      if (input === null || input === undefined) return undefined;
      if (typeof input !== 'object' || Array.isArray(input)) throw bad(argumentPrefix.replace(/\.$/, '') || 'filter', 'must be an object');
      const constraints: { name: string; constraint: Constraint<E> }[] = [];
      for (const name of names) {
        const constraint = compileOperator<E>(
          spec.fields[name] as FilterInputField,
          fieldSpecs,
          (input as Record<string, unknown>)[name],
          `${argumentPrefix}${name}`,
        );
        if (constraint) constraints.push({ name, constraint });
      }
      if (constraints.length === 0) return undefined;
      const key = `${streamName}:${JSON.stringify(Object.fromEntries(constraints.map(({ name, constraint }) => [name, constraint.key])))}`;
      const predicates = constraints.map(({ constraint }) => constraint.matches);
      return {
        key,
        matches: (event) => {
          for (const predicate of predicates) if (!predicate(event)) return false;
          return true;
        },
      };
    },
    argsFromQuery(query) {
      const filter: Record<string, unknown> = {};
      for (const name of names) {
        const values = query.getAll(name);
        if (values.length === 0) continue;
        if ((spec.fields[name] as FilterInputField).op === 'anyOf') {
          filter[name] = values
            .flatMap((v) => v.split(','))
            .map((v) => v.trim())
            .filter(Boolean);
        } else {
          if (values.length > 1) throw bad(name, 'give it once');
          filter[name] = values[0];
        }
      }
      return Object.keys(filter).length > 0 ? { filter } : {};
    },
  };
}

/**
 * Conflates to at most one event per interval, always the newest one available
 * when the interval has passed. Stateful, so the engine keeps one instance per
 * interval (shared by its subscribers) and judges history with a fresh copy.
 */
function compileConflation<E extends { timestamp: string }>(
  spec: Extract<FilterSpec, { kind: 'conflate' }>,
  streamName: string,
): CompiledFilter<E> {
  return {
    spec,
    queryParams: [spec.argument],
    parse(args, limits) {
      const requested = args[spec.argument];
      if (requested === null || requested === undefined) return undefined;
      if (typeof requested !== 'number' || !Number.isInteger(requested) || requested <= 0 || requested > MAX_INTERVAL_MS) {
        throw bad(spec.argument, `must be a positive integer of ms up to ${MAX_INTERVAL_MS}`);
      }
      const base = limits.metricsIntervalMs;
      // Never faster than the source; a request below its cadence simply gets every event.
      const interval = Math.max(requested, base);
      if (interval === base) return undefined;
      // Events come on ticks, so the cadence is the first whole number of ticks at or above the interval; half a
      // tick of slack absorbs timer jitter. On a busy event loop every tick runs late, so one tick fewer can also
      // reach that mark: never let two events through closer than the interval itself (less 2% of a tick for
      // timer rounding).
      const threshold = Math.max(Math.ceil(interval / base) * base - base / 2, interval - base / 50);
      const create = (): StreamFilter<E> => {
        let lastDelivered = -Infinity;
        return {
          key: `${streamName}:{"${spec.argument}":${interval}}`,
          matches(event) {
            const at = Date.parse(event.timestamp);
            if (at - lastDelivered < threshold) return false;
            lastDelivered = at;
            return true;
          },
          forHistory: create,
        };
      };
      return create();
    },
    argsFromQuery(query) {
      const values = query.getAll(spec.argument);
      if (values.length > 1) throw bad(spec.argument, 'give it once');
      const raw = values[0];
      if (raw === undefined) return {};
      return { [spec.argument]: /^-?\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN };
    },
  };
}

export function compileFilter<E extends { timestamp: string }>(
  spec: FilterSpec,
  fields: FieldSpecs,
  streamName: string,
): CompiledFilter<E> {
  return spec.kind === 'fields' ? compileFields<E>(spec, fields, streamName) : compileConflation<E>(spec, streamName);
}

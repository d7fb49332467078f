import {
  CONSENSUS_STATES,
  TRANSACTION_STATUSES,
  VALIDATOR_STATUSES,
  type StreamName,
} from '../domain/index.ts';
import { RealtimeError } from '../errors.ts';
import type { StreamFilter } from './hub.ts';

/**
 * Server-side filters, one per stream. Input comes from GraphQL arguments or
 * legacy query parameters in the same shape; each filter is checked, put in a
 * canonical form (sorted, de-duplicated, lower-cased addresses), and keyed by
 * that form so every subscriber with the same filter shares one evaluation per
 * event. Fields combine with AND, values within a list with OR; an empty list
 * matches nothing, like SQL's `IN ()`.
 */

export const MAX_FILTER_LIST = 1000;
export const MAX_INTERVAL_MS = 3_600_000;

export interface TransactionFilterInput {
  status?: readonly string[] | null | undefined;
  from?: readonly string[] | null | undefined;
  to?: readonly string[] | null | undefined;
  address?: readonly string[] | null | undefined;
  minValue?: string | null | undefined;
  maxValue?: string | null | undefined;
}
export interface ValidatorFilterInput {
  validator?: readonly string[] | null | undefined;
  status?: readonly string[] | null | undefined;
}
export interface ConsensusFilterInput {
  state?: readonly string[] | null | undefined;
}
export interface NetworkFilterInput {
  peerId?: readonly string[] | null | undefined;
  connected?: boolean | null | undefined;
}
export interface MetricsFilterInput {
  intervalMs?: number | null | undefined;
}

export interface FilterInputs {
  metrics: MetricsFilterInput;
  transactions: TransactionFilterInput;
  validators: ValidatorFilterInput;
  consensus: ConsensusFilterInput;
  network: NetworkFilterInput;
}

const bad = (argument: string, message: string) =>
  new RealtimeError('BAD_REQUEST', `${argument}: ${message}`, { argument });

function checkList(argument: string, values: readonly string[]): void {
  if (values.length > MAX_FILTER_LIST) throw bad(argument, `at most ${MAX_FILTER_LIST} values, got ${values.length}`);
}

function addressSet(argument: string, values: readonly string[] | null | undefined): Set<string> | undefined {
  if (values == null) return undefined;
  checkList(argument, values);
  return new Set(
    values.map((value, i) => {
      if (!/^0x[0-9a-fA-F]{40}$/.test(value)) throw bad(`${argument}[${i}]`, `"${value.slice(0, 80)}" is not a 0x-prefixed 20-byte hex address`);
      return value.toLowerCase();
    }),
  );
}

function enumSet<T extends string>(argument: string, values: readonly string[] | null | undefined, allowed: readonly T[]): Set<T> | undefined {
  if (values == null) return undefined;
  checkList(argument, values);
  return new Set(
    values.map((value, i) => {
      if (!(allowed as readonly string[]).includes(value)) throw bad(`${argument}[${i}]`, `must be one of ${allowed.join(', ')}`);
      return value as T;
    }),
  );
}

function stringSet(argument: string, values: readonly string[] | null | undefined): Set<string> | undefined {
  if (values == null) return undefined;
  checkList(argument, values);
  values.forEach((value, i) => {
    if (value.length === 0 || value.length > 256) throw bad(`${argument}[${i}]`, 'must be 1–256 characters');
  });
  return new Set(values);
}

function bigint(argument: string, value: string | null | undefined): bigint | undefined {
  if (value == null) return undefined;
  if (!/^(0|[1-9][0-9]{0,77})$/.test(value)) throw bad(argument, 'must be a non-negative decimal integer string');
  return BigInt(value);
}

/** A canonical, order-independent key for a filter's constraints. */
function keyOf(parts: Record<string, Set<string> | string | boolean | number | undefined>): string {
  const canonical: Record<string, unknown> = {};
  for (const name of Object.keys(parts).sort()) {
    const value = parts[name];
    if (value === undefined) continue;
    canonical[name] = value instanceof Set ? [...value].sort() : value;
  }
  return JSON.stringify(canonical);
}

function transactionsFilter(input: TransactionFilterInput, argument: string): StreamFilter<'transactions'> | undefined {
  const status = enumSet(`${argument}.status`, input.status, TRANSACTION_STATUSES);
  const from = addressSet(`${argument}.from`, input.from);
  const to = addressSet(`${argument}.to`, input.to);
  const address = addressSet(`${argument}.address`, input.address);
  const minValue = bigint(`${argument}.minValue`, input.minValue);
  const maxValue = bigint(`${argument}.maxValue`, input.maxValue);
  const key = keyOf({ status, from, to, address, minValue: minValue?.toString(), maxValue: maxValue?.toString() });
  if (key === '{}') return undefined;
  return {
    key: `transactions:${key}`,
    matches(tx) {
      if (status && !status.has(tx.status)) return false;
      const txFrom = tx.from.toLowerCase();
      const txTo = tx.to.toLowerCase();
      if (from && !from.has(txFrom)) return false;
      if (to && !to.has(txTo)) return false;
      if (address && !address.has(txFrom) && !address.has(txTo)) return false;
      if (minValue !== undefined || maxValue !== undefined) {
        const value = BigInt(tx.value);
        if (minValue !== undefined && value < minValue) return false;
        if (maxValue !== undefined && value > maxValue) return false;
      }
      return true;
    },
  };
}

function validatorsFilter(input: ValidatorFilterInput, argument: string): StreamFilter<'validators'> | undefined {
  const validator = addressSet(`${argument}.validator`, input.validator);
  const status = enumSet(`${argument}.status`, input.status, VALIDATOR_STATUSES);
  const key = keyOf({ validator, status });
  if (key === '{}') return undefined;
  return {
    key: `validators:${key}`,
    matches: (v) => (!validator || validator.has(v.validator.toLowerCase())) && (!status || status.has(v.status)),
  };
}

function consensusFilter(input: ConsensusFilterInput, argument: string): StreamFilter<'consensus'> | undefined {
  const state = enumSet(`${argument}.state`, input.state, CONSENSUS_STATES);
  const key = keyOf({ state });
  if (key === '{}') return undefined;
  return { key: `consensus:${key}`, matches: (c) => !state || state.has(c.state) };
}

function networkFilter(input: NetworkFilterInput, argument: string): StreamFilter<'network'> | undefined {
  const peerId = stringSet(`${argument}.peerId`, input.peerId);
  const connected = input.connected ?? undefined;
  const key = keyOf({ peerId, connected });
  if (key === '{}') return undefined;
  return {
    key: `network:${key}`,
    matches: (p) => (!peerId || peerId.has(p.peerId)) && (connected === undefined || p.connected === connected),
  };
}

/**
 * Conflates metrics to at most one snapshot per interval, always the newest
 * one available when the interval has passed. Stateful, so the hub keeps one
 * instance per interval (shared by its subscribers) and evaluates history with
 * a fresh copy.
 */
function metricsFilter(input: MetricsFilterInput, argument: string, baseIntervalMs: number): StreamFilter<'metrics'> | undefined {
  const requested = input.intervalMs;
  if (requested == null) return undefined;
  if (!Number.isInteger(requested) || requested <= 0 || requested > MAX_INTERVAL_MS) {
    throw bad(argument, `must be a positive integer of ms up to ${MAX_INTERVAL_MS}`);
  }
  // Never faster than the ticker; a request below the base interval simply gets every snapshot.
  const interval = Math.max(requested, baseIntervalMs);
  if (interval === baseIntervalMs) return undefined;
  // Snapshots come on ticks, so the cadence is the first whole number of ticks at or above the interval; half a
  // tick of slack absorbs timer jitter without ever letting two snapshots through inside one interval.
  const due = Math.ceil(interval / baseIntervalMs) * baseIntervalMs;
  const threshold = due - baseIntervalMs / 2;
  const create = (): StreamFilter<'metrics'> => {
    let lastDelivered = -Infinity;
    return {
      key: `metrics:{"intervalMs":${interval}}`,
      matches(snapshot) {
        const at = Date.parse(snapshot.timestamp);
        if (at - lastDelivered < threshold) return false;
        lastDelivered = at;
        return true;
      },
      forHistory: create,
    };
  };
  return create();
}

/** Checks and canonicalizes one stream's filter input; throws BAD_REQUEST naming the argument. */
export function parseFilter<S extends StreamName>(
  stream: S,
  input: FilterInputs[S] | null | undefined,
  options: { argument?: string; metricsIntervalMs: number },
): StreamFilter<S> | undefined {
  if (input == null) return undefined;
  const argument = options.argument ?? (stream === 'metrics' ? 'intervalMs' : 'filter');
  const build: { [K in StreamName]: (input: FilterInputs[K]) => StreamFilter<K> | undefined } = {
    metrics: (i) => metricsFilter(i, argument, options.metricsIntervalMs),
    transactions: (i) => transactionsFilter(i, argument),
    validators: (i) => validatorsFilter(i, argument),
    consensus: (i) => consensusFilter(i, argument),
    network: (i) => networkFilter(i, argument),
  };
  return (build[stream] as (input: FilterInputs[S]) => StreamFilter<S> | undefined)(input);
}

/** Turns legacy query parameters (`?status=FAILED,SUCCESS&address=0x…`, repeated or comma-separated) into filter input. */
export function filterInputFromQuery<S extends StreamName>(stream: S, query: URLSearchParams): FilterInputs[S] | undefined {
  const list = (name: string): string[] | undefined => {
    const values = query.getAll(name);
    if (values.length === 0) return undefined;
    return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  };
  const one = (name: string) => query.get(name) ?? undefined;
  const inputs: { [K in StreamName]: () => FilterInputs[K] } = {
    metrics: () => {
      const raw = one('intervalMs');
      return raw === undefined ? {} : { intervalMs: /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN };
    },
    transactions: () => ({
      status: list('status'),
      from: list('from'),
      to: list('to'),
      address: list('address'),
      minValue: one('minValue'),
      maxValue: one('maxValue'),
    }),
    validators: () => ({ validator: list('validator'), status: list('status') }),
    consensus: () => ({ state: list('state') }),
    network: () => {
      const connected = one('connected');
      if (connected !== undefined && connected !== 'true' && connected !== 'false') {
        throw bad('connected', 'must be true or false');
      }
      return { peerId: list('peerId'), connected: connected === undefined ? undefined : connected === 'true' };
    },
  };
  return inputs[stream]();
}


/**
 * The benchmark's scenarios (issue 5) and how each server is driven in them.
 * A scenario fixes the workload (stream, event rate, subscribers, selection,
 * filters); every server in it gets exactly that workload.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTRACT_FIELDS } from '../src/domain/index.ts';
import { ChainModel } from '../src/sources/simulator/chain.ts';
import type { ClientKind, ConnectionGroup } from './lib/protocol.ts';

export type ServerKind = 'ours' | 'recipe' | 'floor';
export const SERVER_KINDS: readonly ServerKind[] = ['ours', 'recipe', 'floor'];
export type Transport = 'graphql-ws' | 'sse' | 'legacy';

export interface Scenario {
  name: string;
  transport: Transport;
  stream: 'metrics' | 'transactions';
  connections: number;
  /** METRICS_INTERVAL_MS for every server. */
  intervalMs: number;
  /** SIM_TPS for every server. */
  simTps: number;
  /** Fields inside the subscription's selection set (GraphQL transports). */
  selection: string;
  /** Ten distinct transaction filters over the subscribers. */
  filtered: boolean;
  servers: ServerKind[];
  rampPerSec: number;
  checkpoints: number[];
  settleTimeoutMs: number;
  measureMs: number;
  quietMs: number;
  graceMaxMs: number;
  notes: string[];
}

export const SELECTIONS = {
  minimal: 'timestamp seq',
  dashboard: 'timestamp seq tps errorRate connections',
  full: '__typename timestamp seq cursor tps cpu memory connections errorRate',
} as const;
export const TX_SELECTION = 'timestamp seq txHash from to value status gasUsed';

const SIM_DEFAULTS = { seed: 1, validators: 21, peers: 24 };
const FILTER_GROUPS = 10;

/** The simulator's accounts (deterministic from the seed): one per filter. */
export function filterAccounts(): string[] {
  return new ChainModel(SIM_DEFAULTS).accounts.slice(0, FILTER_GROUPS);
}

/** Whether the schema has issue 4's `transactions(filter: TransactionFilter)` with `address`. */
export function schemaHasTransactionFilter(repoRoot: string): boolean {
  try {
    const sdl = readFileSync(join(repoRoot, 'schema.graphql'), 'utf8');
    const input = /^input TransactionFilter \{$([\s\S]*?)^\}/m.exec(sdl)?.[1] ?? '';
    const start = sdl.search(/^ {2}transactions\($/m);
    const field = start < 0 ? '' : sdl.slice(start, sdl.indexOf('): TransactionEvent!', start));
    return /^\s+address: \[String!\]$/m.test(input) && /^\s+filter: TransactionFilter$/m.test(field);
  } catch {
    return false;
  }
}

const checkpointsFor = (n: number, quick: boolean): number[] =>
  quick
    ? [n]
    : n >= 5000
      ? [1000, Math.round(n / 4), Math.round(n / 2), Math.round((3 * n) / 4), n].filter((v, i, a) => a.indexOf(v) === i)
      : [Math.round(n / 4), Math.round(n / 2), n];

const k = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

export function buildScenarios(options: { quick: boolean; filtersAvailable: boolean }): Scenario[] {
  const { quick, filtersAvailable } = options;
  const base = {
    rampPerSec: 500,
    settleTimeoutMs: quick ? 3000 : 10_000,
    measureMs: quick ? 3000 : 30_000,
    quietMs: quick ? 1000 : 3000,
    graceMaxMs: quick ? 4000 : 30_000,
    filtered: false,
    simTps: 20,
    notes: [] as string[],
  };
  const txNotes = (n: number, tps: number) =>
    filtersAvailable
      ? [`${n} subscribers in ${FILTER_GROUPS} groups, each filtered to one simulator account (\`filter: { address: [...] }\`, ≈1 % of events each).`]
      : [
          `Filters (issue 4) are not in schema.graphql yet: ran ${FILTER_GROUPS} unfiltered subscribers instead of ${n}, ` +
            `so delivered msgs/s stays close to the filtered design (${tps} tx/s ≈ ${2 * tps} events/s each).`,
        ];
  const tx = (n: number, tps: number, extra: Partial<Scenario>): Scenario => ({
    ...base,
    name: `transactions-${k(n)}`,
    transport: 'graphql-ws',
    stream: 'transactions',
    connections: filtersAvailable ? n : FILTER_GROUPS,
    intervalMs: 1000,
    simTps: tps,
    selection: TX_SELECTION,
    filtered: filtersAvailable,
    servers: ['ours', 'recipe', 'floor'],
    checkpoints: checkpointsFor(filtersAvailable ? n : FILTER_GROUPS, quick),
    notes: txNotes(n, tps),
    ...extra,
  });

  if (quick) {
    const q = (extra: Partial<Scenario> & Pick<Scenario, 'name' | 'transport' | 'connections'>): Scenario => ({
      ...base,
      stream: 'metrics',
      intervalMs: 200,
      selection: SELECTIONS.dashboard,
      servers: ['ours', 'recipe', 'floor'],
      checkpoints: checkpointsFor(extra.connections, true),
      ...extra,
    });
    return [
      q({ name: 'graphql-ws', transport: 'graphql-ws', connections: 500 }),
      q({ name: 'legacy', transport: 'legacy', connections: 500 }),
      q({ name: 'sse', transport: 'sse', connections: 200 }),
      tx(200, 200, { name: 'transactions', measureMs: 3000 }),
    ];
  }

  const out: Scenario[] = [];
  for (const n of [1000, 5000, 10_000]) {
    for (const [label, selection] of Object.entries(SELECTIONS)) {
      out.push({
        ...base,
        name: `graphql-ws-${k(n)}-${label}`,
        transport: 'graphql-ws',
        stream: 'metrics',
        connections: n,
        intervalMs: 1000,
        selection,
        servers: ['ours', 'recipe', 'floor'],
        checkpoints: checkpointsFor(n, false),
      });
    }
  }
  out.push({
    ...base,
    name: 'graphql-ws-10k-5hz',
    transport: 'graphql-ws',
    stream: 'metrics',
    connections: 10_000,
    intervalMs: 200,
    selection: SELECTIONS.dashboard,
    servers: ['ours', 'recipe', 'floor'],
    checkpoints: checkpointsFor(10_000, false),
  });
  out.push({
    ...base,
    name: 'legacy-10k',
    transport: 'legacy',
    stream: 'metrics',
    connections: 10_000,
    intervalMs: 1000,
    selection: '',
    servers: ['ours', 'recipe', 'floor'],
    checkpoints: checkpointsFor(10_000, false),
  });
  out.push(tx(1000, 1000, {}));
  out.push({
    ...base,
    name: 'sse-2k',
    transport: 'sse',
    stream: 'metrics',
    connections: 2000,
    intervalMs: 1000,
    selection: SELECTIONS.dashboard,
    servers: ['ours', 'recipe', 'floor'],
    checkpoints: checkpointsFor(2000, false),
  });
  return out;
}

/** Selects scenarios by exact name or name prefix (`graphql-ws-10k` picks the three 10k selections). */
export function pickScenarios(all: Scenario[], names: string[]): Scenario[] {
  if (names.length === 0) return all;
  return all.filter((s) => names.some((n) => s.name === n || s.name.startsWith(`${n}-`) || s.name.startsWith(n)));
}

export interface Drive {
  kind: ClientKind;
  path: string;
  query?: string;
  groups: ConnectionGroup[];
  countSeqGaps: boolean;
  observer?: { groupAddresses: string[][] };
  /** Extra env for this server in this scenario. */
  env: Record<string, string>;
  /** The server does not take part (e.g. the recipe has no legacy endpoint). */
  skip?: string;
}

/** How the load generator talks to `server` in `scenario`, and what the server needs to know. */
export function driveFor(scenario: Scenario, server: ServerKind): Drive {
  const accounts = scenario.filtered ? filterAccounts() : [];
  const groups: ConnectionGroup[] = scenario.filtered
    ? accounts.map((address, i) => ({
        label: `account ${i}`,
        variables: { filter: { address: [address] } },
        search: `address=${address}`,
      }))
    : [{ label: 'all' }];
  const variableDefs = scenario.filtered ? '($filter: TransactionFilter)' : '';
  const args = scenario.filtered ? '(filter: $filter)' : '';
  const query = `subscription Bench${variableDefs} { ${scenario.stream}${args} { ${scenario.selection} } }`;
  const countSeqGaps = !scenario.filtered;
  const observer = scenario.filtered ? { observer: { groupAddresses: accounts.map((a) => [a.toLowerCase()]) } } : {};
  const floorFields =
    scenario.transport === 'legacy'
      ? CONTRACT_FIELDS[scenario.stream].join(',')
      : scenario.selection
          .split(/\s+/)
          .filter((f) => f && !f.startsWith('__'))
          .join(',');

  if (server === 'floor') {
    return {
      kind: scenario.transport === 'sse' ? 'json-sse' : 'json-ws',
      path: scenario.transport === 'sse' ? '/sse' : '/ws',
      groups,
      // The legacy floor mirrors legacy frames exactly (no seq): loss is counted per event instead.
      countSeqGaps: countSeqGaps && floorFields.split(',').includes('seq'),
      ...observer,
      env: { FLOOR_STREAM: scenario.stream, FLOOR_FIELDS: floorFields },
    };
  }
  if (scenario.transport === 'legacy') {
    if (server === 'recipe') return { kind: 'json-ws', path: '', groups, countSeqGaps: false, env: {}, skip: 'no legacy endpoint in the recipe' };
    return { kind: 'json-ws', path: `/ws/${scenario.stream}`, groups, countSeqGaps: false, env: {} };
  }
  return {
    kind: scenario.transport === 'sse' ? 'graphql-sse' : 'graphql-ws',
    path: '/graphql',
    query,
    groups,
    countSeqGaps,
    ...observer,
    env: {},
  };
}

export function describe(scenario: Scenario): string {
  const rate =
    scenario.stream === 'metrics'
      ? `metrics every ${scenario.intervalMs} ms (${(1000 / scenario.intervalMs).toFixed(scenario.intervalMs > 1000 ? 2 : 0)} Hz)`
      : `transactions at SIM_TPS=${scenario.simTps} (PENDING + outcome: ≈${2 * scenario.simTps} events/s)`;
  const selection = scenario.transport === 'legacy' ? 'legacy frames (contract fields)' : `selection \`{ ${scenario.selection} }\``;
  return `${scenario.transport}, ${scenario.connections.toLocaleString('en-US')} subscribers, ${rate}, ${selection}`;
}

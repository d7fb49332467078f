/**
 * The benchmark's scenarios (issue 5) and how each server is driven in them.
 * A scenario fixes the workload (stream, event rate, subscribers, selection,
 * filters); every server in it gets exactly that workload.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { descriptorOf } from '../src/streams/registry.ts';
import { ChainModel } from '../src/sources/simulator/chain.ts';
import type { ClientKind, ConnectionGroup } from './lib/protocol.ts';

/**
 * `before`: our server as built from another checkout of this repository (a
 * previous commit, `--before <dir>`), driven exactly like `ours`. It exists
 * only in runs given `--before`.
 */
export type ServerKind = 'ours' | 'before' | 'recipe' | 'floor';
export const SERVER_KINDS: readonly ServerKind[] = ['ours', 'before', 'recipe', 'floor'];
/** Table columns and report order: ours, then before, then the baselines. */
export const REPORT_ORDER: readonly ServerKind[] = ['ours', 'before', 'recipe', 'floor'];
/** Run order within a round (`--rounds`: floor, before, ours, recipe, then again). */
export const RUN_ORDER: readonly ServerKind[] = ['floor', 'before', 'ours', 'recipe'];
/** `before` takes part wherever `ours` does (right after it in a scenario's list). */
const withBefore = (servers: ServerKind[]): ServerKind[] =>
  servers.includes('ours') && !servers.includes('before') ? servers.flatMap((s) => (s === 'ours' ? ['ours', 'before'] : [s])) : servers;
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
  /**
   * Stalled connections on top of `connections` readers: each subscribes,
   * receives its first event, then never reads again (its TCP socket paused).
   * They never count for latency or loss. A scenario with `stalled > 0` also
   * runs, interleaved, a `stalled: 0` variant (same readers, no stalled
   * connections) for the "p99 with ÷ without" comparison.
   */
  stalled?: number;
  /** How long after the last stall the generator keeps watching for the server to close stalled connections (default 15 s). */
  stalledWatchMs?: number;
  /**
   * Batched delivery (issue 14): every subscriber asks for batches of at most
   * `maxEvents` events, sent at the latest `maxDelayMs` after the first event
   * of a batch (ours: the stream's batch field, or legacy `?batch=&batchMs=`;
   * the floor: its batching mode). Latency and loss are per event inside.
   */
  batch?: { maxEvents: number; maxDelayMs: number };
  notes: string[];
}

export const SELECTIONS = {
  minimal: 'timestamp seq',
  dashboard: 'timestamp seq tps errorRate connections',
  full: '__typename timestamp seq cursor tps cpu memory connections errorRate',
} as const;
export const TX_SELECTION = 'timestamp seq txHash from to value status gasUsed';
/**
 * Batched scenarios: the fields latency, loss and the observer's per-group accounting need and no more, so that
 * ≈400 events/s for each of 1,000 subscribers stays within what one generator core can read.
 */
export const BATCH_SELECTION = 'timestamp seq from to';

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

/** `before`: add the `before` server (a `--before <dir>` checkout) to every scenario `ours` runs in. */
export function buildScenarios(options: { quick: boolean; filtersAvailable: boolean; before?: boolean }): Scenario[] {
  const all = scenarioList(options);
  return options.before ? all.map((s) => ({ ...s, servers: withBefore(s.servers) })) : all;
}

function scenarioList(options: { quick: boolean; filtersAvailable: boolean }): Scenario[] {
  const { quick, filtersAvailable } = options;
  const base = {
    rampPerSec: 500,
    settleTimeoutMs: quick ? 3000 : 10_000,
    // Quick: 2 s windows (each run also spends as long measuring the server's idle CPU).
    measureMs: quick ? 2000 : 30_000,
    quietMs: quick ? 1000 : 3000,
    graceMaxMs: quick ? 4000 : 30_000,
    filtered: false,
    simTps: 20,
    notes: [] as string[],
  };
  const txNotes = (n: number, tps: number) =>
    filtersAvailable
      ? [
          `${n} subscribers in ${FILTER_GROUPS} groups, each filtered to one simulator account (\`filter: { address: [...] }\`, ≈1 % of events each).`,
        ]
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

  /**
   * Readers plus stalled connections on `transactions` at SIM_TPS=500 (≈1,000 events/s).
   * The readers are filtered like transactions-1k (10 groups, one simulator
   * account each, ≈1 % of events): unfiltered, 500 readers would need 500,000
   * deliveries/s, more than any of the three servers (or the generator) has on
   * one core, and the `stalled: 0` comparison would measure saturation. The
   * stalled connections subscribe unfiltered (every event, ≈250 KB/s each), so
   * they fall behind at once, as a stalled dashboard would.
   */
  const stalledScenario = (
    s: Pick<Scenario, 'name' | 'transport' | 'connections' | 'servers'> & { stalled: number; stalledWatchMs?: number },
  ): Scenario => {
    const readers = filtersAvailable ? s.connections : FILTER_GROUPS;
    return {
      ...base,
      ...s,
      stream: 'transactions',
      connections: readers,
      intervalMs: 1000,
      simTps: 500,
      selection: TX_SELECTION,
      filtered: filtersAvailable,
      checkpoints: checkpointsFor(readers, quick),
      notes: [
        ...(filtersAvailable
          ? [`Readers: ${FILTER_GROUPS} groups, each filtered to one simulator account (≈1 % of events, ≈10 events/s per reader).`]
          : [`Filters are not in schema.graphql: ${FILTER_GROUPS} unfiltered readers instead of ${s.connections}.`]),
        'Stalled connections are opened after the readers, unfiltered (every event); each subscribes, receives its first event, then never reads again (its TCP socket is paused). ' +
          'Only the readers count for latency and loss. "stalled connections closed by the server": the server no longer holds the socket (/proc/<pid>/fd); ' +
          'times are from the stall. The `stalled: 0` rows (full runs) are the same readers without stalled connections, run interleaved with the stalled runs. ' +
          'The recipe and the floor have no slow-consumer policy: they never close a stalled connection, its bytes pile up in kernel and process buffers.',
        ...(s.transport === 'legacy'
          ? [
              'Legacy frames carry `seq` and `cursor` here (`?meta=1` on ours, the same fields on the floor) so loss is counted per event at ≈1,000 events/s.',
            ]
          : []),
      ],
    };
  };

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
      tx(200, 200, { name: 'transactions' }),
      stalledScenario({ name: 'stalled', transport: 'graphql-ws', connections: 50, stalled: 5, servers: ['ours'], stalledWatchMs: 9000 }),
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
  out.push({
    ...base,
    name: 'sse-fast-reader',
    transport: 'sse',
    stream: 'transactions',
    connections: 1,
    intervalMs: 1000,
    simTps: 3000,
    selection: TX_SELECTION,
    servers: ['ours', 'recipe', 'floor'],
    checkpoints: [1],
    notes: [
      'One unfiltered subscriber that reads as fast as it can: a fast reader must never be taken for a slow consumer. ' +
        '"closed by server" shows whether the server ended the stream; the floor is its raw SSE path (`GET /sse`).',
    ],
  });
  /**
   * A high-rate chain: SIM_TPS=20000 (≈40,000 events/s), 1,000 subscribers in the ten account filters
   * (≈1 % of events each, ≈400 events/s per subscriber), every one batching at 100 ms. Unfiltered, each
   * subscriber would need the whole stream (≈8 MB/s), 8 GB/s for 1,000: no server or generator here has it.
   */
  if (filtersAvailable) {
    for (const transport of ['graphql-ws', 'legacy'] as const) {
      out.push({
        ...base,
        name: transport === 'legacy' ? 'transactions-batched-1k-legacy' : 'transactions-batched-1k',
        transport,
        stream: 'transactions',
        connections: 1000,
        intervalMs: 1000,
        simTps: 20_000,
        selection: BATCH_SELECTION,
        filtered: true,
        servers: ['ours', 'floor'],
        checkpoints: checkpointsFor(1000, false),
        batch: { maxEvents: 1000, maxDelayMs: 100 },
        notes: [
          `${FILTER_GROUPS} groups of subscribers, each filtered to one simulator account (≈1 % of ≈40,000 events/s), every subscriber batching: ` +
            'at most 1,000 events per message, sent at the latest 100 ms after its first event (ours: ' +
            (transport === 'legacy'
              ? '`/ws/transactions?meta=1&batch=1000&batchMs=100`'
              : '`transactionBatches(batch: { maxEvents: 1000, maxDelayMs: 100 })`') +
            "; the floor: one pre-built JSON array frame per filter group and batch, the same rule). Latency is per event: receive time − the event's timestamp, so it includes up to 100 ms of batching by design; " +
            'delivered msgs/s and CPU per message count events, not messages. The recipe has no batches.',
        ],
      });
    }
  }
  for (const transport of ['graphql-ws', 'legacy'] as const) {
    out.push(
      stalledScenario({
        name: transport === 'legacy' ? 'stalled-clients-legacy' : 'stalled-clients',
        transport,
        connections: 500,
        stalled: 100,
        servers: transport === 'legacy' ? ['ours', 'floor'] : ['ours', 'recipe', 'floor'],
      }),
    );
  }
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

/**
 * How the load generator talks to `server` in `scenario`, and what the server needs to know.
 * `before` is driven exactly like `ours` (same client kind, path, query, env, skip rules).
 */
export function driveFor(scenario: Scenario, kind: ServerKind): Drive {
  const server: Exclude<ServerKind, 'before'> = kind === 'before' ? 'ours' : kind;
  const accounts = scenario.filtered ? filterAccounts() : [];
  const groups: ConnectionGroup[] = scenario.filtered
    ? accounts.map((address, i) => ({
        label: `account ${i}`,
        variables: { filter: { address: [address] } },
        search: `address=${address}`,
      }))
    : [{ label: 'all' }];
  const variableDefs = scenario.filtered ? '($filter: TransactionFilter)' : '';
  const { batch } = scenario;
  const batchField = batch ? descriptorOf(scenario.stream).batches?.field : undefined;
  const query =
    batch && batchField
      ? `subscription Bench${variableDefs} { ${batchField}(${scenario.filtered ? 'filter: $filter, ' : ''}batch: { maxEvents: ${batch.maxEvents}, maxDelayMs: ${batch.maxDelayMs} }) { items { ${scenario.selection} } } }`
      : `subscription Bench${variableDefs} { ${scenario.stream}${scenario.filtered ? '(filter: $filter)' : ''} { ${scenario.selection} } }`;
  const countSeqGaps = !scenario.filtered;
  const observer = scenario.filtered ? { observer: { groupAddresses: accounts.map((a) => [a.toLowerCase()]) } } : {};
  // Legacy frames carry no seq: at transaction rates (many events per ms timestamp) loss needs it, so ask for meta there.
  const legacyMeta = scenario.transport === 'legacy' && scenario.stream === 'transactions';
  const floorFields =
    scenario.transport === 'legacy'
      ? [...descriptorOf(scenario.stream).contractFields, ...(legacyMeta ? ['seq', 'cursor'] : [])].join(',')
      : scenario.selection
          .split(/\s+/)
          .filter((f) => f && !f.startsWith('__'))
          .join(',');

  if (server === 'floor') {
    return {
      kind: scenario.transport === 'sse' ? 'json-sse' : 'json-ws',
      // `batch=` tells the generator that frames are batches (the floor itself ignores the parameter).
      path: `${scenario.transport === 'sse' ? '/sse' : '/ws'}${batch ? `?batch=${batch.maxEvents}` : ''}`,
      groups,
      // The legacy floor mirrors legacy frames exactly (no seq): loss is counted per event instead.
      countSeqGaps: countSeqGaps && floorFields.split(',').includes('seq'),
      ...observer,
      env: {
        FLOOR_STREAM: scenario.stream,
        FLOOR_FIELDS: floorFields,
        ...(batch ? { FLOOR_BATCH_MS: String(batch.maxDelayMs), FLOOR_BATCH_MAX: String(batch.maxEvents) } : {}),
      },
    };
  }
  if (batch && server === 'recipe')
    return { kind: 'graphql-ws', path: '', groups, countSeqGaps: false, env: {}, skip: 'no batches in the recipe' };
  if (scenario.transport === 'legacy') {
    if (server === 'recipe')
      return { kind: 'json-ws', path: '', groups, countSeqGaps: false, env: {}, skip: 'no legacy endpoint in the recipe' };
    const batchParams = batch ? `&batch=${batch.maxEvents}&batchMs=${batch.maxDelayMs}` : '';
    return {
      kind: 'json-ws',
      path: `/ws/${scenario.stream}${legacyMeta ? `?meta=1${batchParams}` : batchParams.replace('&', '?')}`,
      groups,
      countSeqGaps: legacyMeta && countSeqGaps,
      env: {},
    };
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
  const selection =
    scenario.transport === 'legacy'
      ? `legacy frames (contract fields${scenario.stream === 'transactions' ? ' + seq, cursor' : ''})`
      : `selection \`{ ${scenario.selection} }\``;
  const batching = scenario.batch
    ? `, batches of ≤ ${scenario.batch.maxEvents.toLocaleString('en-US')} events or ${scenario.batch.maxDelayMs} ms`
    : '';
  const who = scenario.stalled
    ? `${scenario.connections.toLocaleString('en-US')} reading + ${scenario.stalled.toLocaleString('en-US')} stalled subscribers`
    : `${scenario.connections.toLocaleString('en-US')} subscriber${scenario.connections === 1 ? '' : 's'}`;
  return `${scenario.transport}, ${who}, ${rate}, ${selection}${batching}`;
}

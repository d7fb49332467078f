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
 * `ours-1w`, `ours-2w`: ours with WORKERS=1 / WORKERS=2 as columns of their own
 * (the workers-capacity scenarios), pinned to cores 0 / 0-1 (see serverCores).
 */
export type ServerKind = 'ours' | 'before' | 'recipe' | 'floor' | 'ours-1w' | 'ours-2w';
export const SERVER_KINDS: readonly ServerKind[] = ['ours', 'before', 'recipe', 'floor', 'ours-1w', 'ours-2w'];
/** Table columns and report order: ours, then before, then the baselines. */
export const REPORT_ORDER: readonly ServerKind[] = ['ours', 'ours-1w', 'ours-2w', 'before', 'recipe', 'floor'];
/** Run order within a round (`--rounds`: floor, before, ours, recipe, then again). */
export const RUN_ORDER: readonly ServerKind[] = ['floor', 'before', 'ours', 'ours-1w', 'ours-2w', 'recipe'];

/** WORKERS of an `ours-Nw` server kind (undefined for the others). */
export function workersOfKind(kind: ServerKind): number | undefined {
  const m = /^ours-(\d+)w$/.exec(kind);
  return m ? Number(m[1]) : undefined;
}
/** Which server program a kind runs: every `ours-Nw` is ours. */
export const programOf = (kind: ServerKind): 'ours' | 'before' | 'recipe' | 'floor' =>
  workersOfKind(kind) !== undefined ? 'ours' : (kind as 'ours');

/**
 * Cores for the server (a list for taskset -c) and for the load generators. Default: server on core 0,
 * generators on every other core (on a 2-core machine: core 1, as always). `ours-Nw`: the server tree on
 * cores 0…N−1; the generators on the cores left, or on the last core, shared with a server worker, when N
 * reaches the core count (the report says so).
 */
export function coresFor(kind: ServerKind, nproc: number): { server: number[]; generator: number[]; shared: boolean } {
  const last = Math.max(0, nproc - 1);
  const workers = workersOfKind(kind) ?? 1;
  const server = Array.from({ length: Math.max(1, Math.min(workers, nproc)) }, (_, i) => i);
  // Every core the server does not use (on 2 cores: core 1); none free: the last core, shared.
  const free = Array.from({ length: nproc }, (_, i) => i).filter((c) => !server.includes(c));
  const generator = free.length > 0 ? free : [last];
  return { server, generator, shared: free.length === 0 };
}
/** `before` takes part wherever `ours` does (right after it in a scenario's list). */
const withBefore = (servers: ServerKind[]): ServerKind[] =>
  servers.includes('ours') && !servers.includes('before') ? servers.flatMap((s) => (s === 'ours' ? ['ours', 'before'] : [s])) : servers;
export type Transport = 'graphql-ws' | 'sse' | 'legacy';

/**
 * One transport of a `mix` scenario: its own connections (and selection), spread over its own
 * generator processes. A mix ramps its entries one after another, in order (memory per connection
 * per transport comes from each entry's part of the ramp).
 */
export interface MixEntry {
  transport: Transport;
  connections: number;
  /** GraphQL selection for this entry (default: the scenario's). */
  selection?: string;
  /** Generator processes for this entry (default: the scenario's `generators`, spread over the entries). */
  generators?: number;
  /** Memory checkpoints, in this entry's own connections (default: as for a scenario of its size). */
  checkpoints?: number[];
}

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
  /**
   * Load generator processes (default 1). The connections are split evenly over them; each has its own
   * open-file budget; all run pinned to the generator core(s) and measure the same window; their
   * results merge into one (bench/lib/merge.ts). The report shows their CPU (sum, max per process)
   * and worst event-loop lag.
   */
  generators?: number;
  /**
   * Several transports against one server (e.g. graphql-ws + legacy): `transport`/`connections`/`selection`
   * then describe the first entry only as a fallback; `connections` is the total. Results per transport and in total.
   */
  mix?: MixEntry[];
  /** Worker processes: WORKERS=N for ours (and before), FLOOR_WORKERS=N for the floor (default 1: one process). */
  workers?: number;
  /** Idle CPU window (default: as long as the measurement window). */
  idleMs?: number;
  /**
   * GraphQL transports: every subscriber's document is its own (an alias `op<n>: __typename` added to the
   * innermost selection), so the server renders every event once per subscriber instead of once per group.
   */
  distinctOperations?: boolean;
  notes: string[];
}

/** The entries of a scenario: its mix, or its one transport. */
export function entriesOf(scenario: Scenario): MixEntry[] {
  return scenario.mix ?? [{ transport: scenario.transport, connections: scenario.connections, selection: scenario.selection }];
}

/** A mix entry as a scenario of its own (one transport): what driveFor and the generators need. */
export function entryScenario(scenario: Scenario, entry: MixEntry): Scenario {
  if (!scenario.mix) return scenario;
  const { mix: _, ...rest } = scenario;
  return { ...rest, transport: entry.transport, connections: entry.connections, selection: entry.selection ?? scenario.selection };
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
/** workers-capacity: the fields loss and latency need, for unfiltered transactions. */
export const CAPACITY_SELECTION = 'timestamp seq from to';
/** workers-capacity: subscribers, and the SIM_TPS steps (each a scenario `workers-capacity-<tps>`). */
export const CAPACITY_SUBSCRIBERS = 50;
export const CAPACITY_STEPS: readonly number[] = [150, 250, 350, 450];

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

export const checkpointsFor = (n: number, quick: boolean): number[] =>
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
    // Quick: a 0.5 s idle CPU window (CPU per message is rough in a quick run anyway), so the run stays under 2 minutes.
    ...(quick ? { idleMs: 500 } : {}),
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

  /**
   * A high-rate chain: SIM_TPS=20000 (≈40,000 events/s), 1,000 subscribers in the ten account filters
   * (≈1 % of events each, ≈400 events/s per subscriber), every one batching at 100 ms. Unfiltered, each
   * subscriber would need the whole stream (≈8 MB/s), 8 GB/s for 1,000: no server or generator here has it.
   * ≈400,000 events/s inside the batches, delivered in bursts (a block's outcomes commit at once): one load
   * generator process lagged 186–423 ms. 2 generator processes: with more than one generator core they spread
   * over them; on a 2-core machine both share core 1, where more processes only add overhead (measured with 4:
   * 2.66 µs of generator CPU per event against 2.07 with one, the core saturated): see bench/README.md.
   */
  const batchedScenario = (transport: 'graphql-ws' | 'legacy', extra: Partial<Scenario> & Pick<Scenario, 'name'>): Scenario => {
    const connections = extra.connections ?? 1000;
    const simTps = extra.simTps ?? 20_000;
    return {
      ...base,
      transport,
      stream: 'transactions',
      connections,
      intervalMs: 1000,
      simTps,
      selection: BATCH_SELECTION,
      filtered: true,
      servers: ['ours', 'floor'],
      checkpoints: checkpointsFor(connections, quick),
      batch: { maxEvents: 1000, maxDelayMs: 100 },
      generators: 2,
      notes: [
        `${FILTER_GROUPS} groups of subscribers, each filtered to one simulator account (≈1 % of ≈${(2 * simTps).toLocaleString('en-US')} events/s), every subscriber batching: ` +
          'at most 1,000 events per message, sent at the latest 100 ms after its first event (ours: ' +
          (transport === 'legacy'
            ? '`/ws/transactions?meta=1&batch=1000&batchMs=100`'
            : '`transactionBatches(batch: { maxEvents: 1000, maxDelayMs: 100 })`') +
          "; the floor: one pre-built JSON array frame per filter group and batch, the same rule). Latency is per event: receive time − the event's timestamp, so it includes up to 100 ms of batching by design; " +
          'delivered msgs/s and CPU per message count events, not messages. The recipe has no batches.',
      ],
      ...extra,
    };
  };

  /**
   * 50,000 subscribers on one instance (issue 14): 25,000 graphql-ws (minimal selection, a UUID operation id
   * each) + 25,000 legacy `/ws/metrics`, metrics at 1 Hz. No process may hold more than 20,000 files: ours runs
   * WORKERS=4 and the floor FLOOR_WORKERS=4 (≈12,500 sockets each), the load comes from 4 generator processes
   * (2 per transport). graphql-ws ramps first, then legacy, so each transport's idle RSS slope is its own.
   */
  const density50k = (): Scenario => ({
    ...base,
    name: 'density-50k',
    transport: 'graphql-ws',
    stream: 'metrics',
    connections: 50_000,
    intervalMs: 1000,
    selection: SELECTIONS.minimal,
    servers: ['ours', 'floor'],
    rampPerSec: 1000,
    checkpoints: [],
    settleTimeoutMs: 20_000,
    graceMaxMs: 30_000,
    workers: 4,
    generators: 4,
    mix: [
      { transport: 'graphql-ws', connections: 25_000, selection: SELECTIONS.minimal, generators: 2 },
      { transport: 'legacy', connections: 25_000, generators: 2 },
    ],
    notes: [
      'One server, two transports: 25,000 graphql-ws subscribers (`{ timestamp seq }`, a fresh UUID operation id each) and 25,000 legacy `/ws/metrics` connections, ' +
        "ramped in that order (graphql-ws first, then legacy: the RSS slope of each part of the ramp is that transport's idle memory per connection). " +
        'Ours runs WORKERS=4, the floor FLOOR_WORKERS=4 (its primary makes the events and relays them to 4 workers); 4 load generator processes (2 per transport) ' +
        'share the generator core; no process holds more than ≈12,500 sockets (the machine allows 20,000 files per process). ' +
        "Memory and CPU are summed over the server's process tree; event-loop lag is the worst of its processes.",
    ],
  });

  /**
   * Where one worker falls behind and two do not (issue 14): unfiltered graphql-ws `transactions` subscribers
   * (unbatched), the same workload at rising SIM_TPS, ours with WORKERS=1 (core 0) and WORKERS=2 (cores 0-1, the
   * generator shares core 1). One scenario per step; the report's capacity section finds the highest step each
   * sustains and derives the per-core capacity. `--sim-tps` replaces the steps with one.
   *
   * Every subscriber sends its own operation (distinctOperations): with one shared operation the load generator
   * spends about as much CPU per delivery as the server does (measured: 7.4 vs 8.7 µs), so on a 2-core machine,
   * where WORKERS=2 already shares core 1 with the generator, server + generator would need more than the two
   * cores before one worker even fell behind. With a document per subscriber the server renders every event
   * once per subscriber (≈30 µs per delivery) while the generator's cost stays ≈7 µs: one worker saturates a
   * core with the generator far from the limit, and a second worker has room on the second core.
   */
  const workersCapacity = (): Scenario[] =>
    CAPACITY_STEPS.map((tps) => ({
      ...base,
      name: `workers-capacity-${tps}`,
      transport: 'graphql-ws',
      stream: 'transactions',
      connections: CAPACITY_SUBSCRIBERS,
      intervalMs: 1000,
      simTps: tps,
      selection: CAPACITY_SELECTION,
      servers: ['ours-1w', 'ours-2w'],
      distinctOperations: true,
      checkpoints: checkpointsFor(CAPACITY_SUBSCRIBERS, quick),
      measureMs: 20_000,
      graceMaxMs: 15_000,
      notes: [
        `${CAPACITY_SUBSCRIBERS} unfiltered graphql-ws subscribers to \`transactions\` (every event, unbatched), SIM_TPS=${tps} (≈${(2 * tps * CAPACITY_SUBSCRIBERS).toLocaleString('en-US')} deliveries/s wanted). ` +
          '`ours-1w`: WORKERS=1 pinned to core 0; `ours-2w`: WORKERS=2, the server tree (primary + 2 workers) pinned to cores 0-1, and the load generator, on core 1, shares a core with it. ' +
          "Every subscriber sends its own operation (an alias `opN: __typename` of its own), so the server renders each event once per subscriber: server work per delivery well above the generator's. " +
          "A step is sustained when the run is ok, nothing is lost, the server closes no subscriber (slow consumer), and the window drains: p99 and the last window event within 2 s (the simulator commits a block's outcomes in one burst).",
      ],
    }));

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
      ...(filtersAvailable
        ? [batchedScenario('graphql-ws', { name: 'transactions-batched', connections: 100, simTps: 2000, generators: 1 })]
        : []),
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
  if (filtersAvailable) {
    for (const transport of ['graphql-ws', 'legacy'] as const) {
      out.push(batchedScenario(transport, { name: transport === 'legacy' ? 'transactions-batched-1k-legacy' : 'transactions-batched-1k' }));
    }
  }
  out.push(density50k());
  out.push(...workersCapacity());
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
  const distinct = scenario.distinctOperations ? ', every subscriber its own operation' : '';
  const batching = scenario.batch
    ? `, batches of ≤ ${scenario.batch.maxEvents.toLocaleString('en-US')} events or ${scenario.batch.maxDelayMs} ms`
    : '';
  const who = scenario.stalled
    ? `${scenario.connections.toLocaleString('en-US')} reading + ${scenario.stalled.toLocaleString('en-US')} stalled subscribers`
    : `${scenario.connections.toLocaleString('en-US')} subscriber${scenario.connections === 1 ? '' : 's'}`;
  const processes = [
    scenario.workers && scenario.workers > 1 ? `WORKERS=${scenario.workers} (floor: FLOOR_WORKERS=${scenario.workers})` : '',
    (scenario.generators ?? 1) > 1 ? `${scenario.generators} generator processes` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const tail = processes ? `; ${processes}` : '';
  if (scenario.mix) {
    const parts = scenario.mix.map((e) => {
      const sel = e.transport === 'legacy' ? 'legacy frames' : `selection \`{ ${e.selection ?? scenario.selection} }\``;
      return `${e.connections.toLocaleString('en-US')} ${e.transport} (${sel})`;
    });
    return `mix of ${parts.join(' + ')}, ramped in that order, ${rate}${batching}${tail}`;
  }
  return `${scenario.transport}, ${who}, ${rate}, ${selection}${distinct}${batching}${tail}`;
}

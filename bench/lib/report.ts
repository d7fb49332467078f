/** Tables and BENCHMARKS.md from run results. */
import { describe, REPORT_ORDER, RUN_ORDER, type Scenario, type ServerKind } from '../scenarios.ts';
import { Histogram } from './histogram.ts';
import type { GeneratorResult } from './protocol.ts';
import type { MachineInfo } from './system.ts';

export interface MemoryPoint {
  connections: number;
  rss: number;
  heap: number;
}

/** `--before <dir>`: the other checkout whose src/main.ts ran as the `before` server. */
export interface BeforeInfo {
  dir: string;
  /** Short commit (`git rev-parse --short HEAD`), `*` appended when its src/ had uncommitted changes; `unknown` outside git. */
  commit: string;
  dirty: boolean;
}

/** What the tables need beyond the runs: the before checkout (its column and label), when the run had one. */
export interface ReportContext {
  before?: BeforeInfo;
}

/** A server's name in tables: `before (9f72350)` for the before checkout, else its kind. */
export function serverLabel(server: ServerKind, context: ReportContext = {}): string {
  return server === 'before' ? `before (${context.before?.commit ?? '?'})` : server;
}

/**
 * Table columns: ours, before (only in runs that had `--before`), recipe, floor; `ours-1w`/`ours-2w` only
 * where they ran. With a scenario: only the servers it lists (and before, where it ran).
 */
function reportServers(context: ReportContext, runs: RunResult[] = [], scenario?: Scenario): ServerKind[] {
  return REPORT_ORDER.filter((s) => {
    if (s === 'before') return context.before !== undefined || runs.some((r) => r.server === 'before');
    if (scenario) return scenario.servers.includes(s) || runs.some((r) => r.server === s);
    return !s.startsWith('ours-') || runs.some((r) => r.server === s);
  });
}

export interface RunResult {
  scenario: string;
  server: ServerKind;
  status: 'ok' | 'invalid' | 'failed' | 'skipped';
  reason?: string;
  gen?: GeneratorResult;
  memory: {
    baseRss: number;
    baseHeap: number;
    checkpoints: MemoryPoint[];
    /** Bytes per connection: slope of RSS (heap) over the ramp checkpoints, connections subscribed, between events. */
    idleRssPerConn: number;
    idleHeapPerConn: number;
    /** Highest RSS seen during the measurement window. */
    loadedRss: number;
    loadedRssPerConn: number;
    /** A mix: each transport's idle slope, from its own part of the ramp (transports ramp one after another). */
    byTransport?: Record<string, { idleRssPerConn: number; idleHeapPerConn: number; connections: number }>;
  };
  /**
   * Over the measurement window, the server's whole process tree (a multi-process server: primary + workers):
   * CPU summed (% of one core), event-loop lag the worst of any process's probe; `byProcess` each one's.
   */
  serverStats: {
    cpuPct: number;
    lagP99Ms: number;
    lagMaxMs: number;
    /** Node processes in the server's tree at the window's end (1: a single process). */
    processes?: number;
    /** Processes whose probe answered. */
    probes?: number;
    /** Each process of a multi-process server: CPU over the window, its own lag, its open sockets at the window's end. */
    byProcess?: { pid: number; worker: boolean; cpuPct: number; lagP99Ms: number; lagMaxMs: number; sockets?: number }[];
  } | null;
  /**
   * Server CPU time (user + system, ms, /proc/<pid>/stat, summed over the server's process tree) and wall
   * time (ms): `idle*` over the idle window right after /ready with no connection; `window*` over the
   * measurement window. `root*`: the spawned process alone (the primary of a multi-process server).
   */
  cpu?: {
    idleMs: number;
    idleWallMs: number;
    windowMs: number;
    windowWallMs: number;
    rootIdleMs?: number;
    rootWindowMs?: number;
    processes?: number;
  };
  /**
   * Busy % of the server's and the generators' cores over the window, everything included (noise check),
   * summed over each set's cores; `shared`: the generators run on one of the server's cores (ours-2w).
   */
  cores: { server: number; generator: number; serverCores?: string; generatorCores?: string; shared?: boolean } | null;
  /** A mix: each transport's generators merged (the `gen` field is their total). */
  parts?: Record<string, GeneratorResult>;
  durationMs: number;
  /** 1-based round of this run (`--rounds`: servers interleaved, round after round). */
  round?: number;
  /** Stalled connections in this run; a scenario with stalled connections also runs a `stalled: 0` variant. */
  stalled?: number;
}

export interface Derived {
  open: number;
  target: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  makespanP99: number;
  msgsPerSec: number;
  lossCount: number;
  lossPct: number;
  seqGaps: number;
  idleRssKb: number;
  idleHeapKb: number;
  loadedRssKb: number;
  baseRssMb: number;
  loadedRssMb: number;
  serverCpu: number;
  serverLagP99: number;
  serverLagMax: number;
  genCpu: number;
  genLagP99: number;
  drainMs: number;
  backlogged: boolean;
  /** Share of each pinned core used by other processes during the window (busy − our process), %. */
  otherLoadServerCore: number;
  otherLoadGenCore: number;
  expected: number;
  delivered: number;
  /** (server CPU in the window − idle CPU scaled to the window's length) ÷ deliveries in the window, µs. */
  cpuPerMsgUs: number;
  /** Server CPU with no connection, % of its core (the idle window). */
  idleCpuPct: number;
  /** Generator CPU over the measurement window ÷ deliveries of window events, µs. */
  genCpuPerMsgUs: number;
  /** Distinct events per subscriber (per filter group) per second in the window. */
  eventRate: number;
  /** Load generator processes in the run, and the highest CPU (% of a core) of any one of them. */
  generators: number;
  genCpuMax: number;
  /** Node processes in the server's tree (1: one process) and how many of their probes answered. */
  serverProcesses: number;
  serverProbes: number;
  /** A multi-process server: its primary's (the spawned process's) CPU over the window, % of one core; NaN for one process. */
  primaryCpu: number;
  /** The server's CPU minus its primary's over the window (% of one core): what its workers used; one process: all of it. */
  workersCpu: number;
  /** Reader connections the server ended (closed, completed, errored) after they opened. */
  endedByServer: number;
  endReasons: Record<string, number>;
}

/** Derived numbers across the rounds of one server in one scenario (one round: exactly that round's numbers). */
export interface Aggregate extends Derived {
  /** Rounds whose numbers are used (ok ones; the invalid ones only when none is ok). */
  rounds: number;
  /** min–max across those rounds; the Derived fields hold the medians. */
  range: { p50: [number, number]; p99: [number, number]; p999: [number, number] };
  /** Stalled connections over those rounds (scenarios with stalled connections). */
  stalled?: {
    target: number;
    stalled: number;
    closed: number;
    closedAfterP50: number;
    closedAfterMax: number;
    reasons: Record<string, number>;
  };
  /** A mix: the same, per transport (its generators' results, its own idle RSS slope). */
  parts?: Record<string, Aggregate>;
}

/** One transport of a mix run, as a run of its own (its generators' merged result, its RSS slope). */
export function partRun(run: RunResult, transport: string): RunResult | null {
  const gen = run.parts?.[transport];
  if (!gen) return null;
  const own = run.memory.byTransport?.[transport];
  const { parts: _, ...rest } = run;
  return {
    ...rest,
    gen,
    memory: {
      ...run.memory,
      idleRssPerConn: own?.idleRssPerConn ?? Number.NaN,
      idleHeapPerConn: own?.idleHeapPerConn ?? Number.NaN,
    },
  };
}

export function derive(run: RunResult, groups = 1): Derived | null {
  const g = run.gen;
  if (!g) return null;
  const lat = Histogram.fromJSON(g.latencyUs);
  const mk = Histogram.fromJSON(g.makespanUs);
  const ms = (us: number) => us / 1000;
  const loss = Math.max(0, g.expected - g.delivered);
  const c = run.cpu;
  const netCpuMs = c && c.idleWallMs > 0 ? c.windowMs - c.idleMs * (c.windowWallMs / c.idleWallMs) : Number.NaN;
  const multi = (run.serverStats?.processes ?? 1) > 1;
  // The generators run on one of the server's cores (ours-2w): what neither used of those cores is "other".
  const shared = run.cores?.shared === true;
  const otherServer = shared
    ? (run.cores?.server ?? Number.NaN) - (run.serverStats?.cpuPct ?? Number.NaN) - g.generator.cpuPct
    : (run.cores?.server ?? Number.NaN) - (run.serverStats?.cpuPct ?? Number.NaN);
  const otherGen = shared ? otherServer : (run.cores?.generator ?? Number.NaN) - g.generator.cpuPct;
  return {
    open: g.connections.opened,
    target: g.connections.target,
    p50: ms(lat.percentile(50)),
    p99: ms(lat.percentile(99)),
    p999: ms(lat.percentile(99.9)),
    max: ms(lat.max),
    makespanP99: ms(mk.percentile(99)),
    msgsPerSec: g.delivered / (g.measureMs / 1000),
    lossCount: loss,
    lossPct: g.expected > 0 ? (loss / g.expected) * 100 : Number.NaN,
    seqGaps: g.seqGaps,
    idleRssKb: run.memory.idleRssPerConn / 1024,
    idleHeapKb: run.memory.idleHeapPerConn / 1024,
    loadedRssKb: run.memory.loadedRssPerConn / 1024,
    baseRssMb: run.memory.baseRss / 2 ** 20,
    loadedRssMb: run.memory.loadedRss / 2 ** 20,
    serverCpu: run.serverStats?.cpuPct ?? Number.NaN,
    serverLagP99: run.serverStats?.lagP99Ms ?? Number.NaN,
    serverLagMax: run.serverStats?.lagMaxMs ?? Number.NaN,
    genCpu: g.generator.cpuPct,
    genLagP99: g.generator.lagP99Ms,
    drainMs: g.drainMs,
    backlogged: g.backlogged,
    otherLoadServerCore: Math.max(0, otherServer),
    otherLoadGenCore: Math.max(0, otherGen),
    expected: g.expected,
    delivered: g.delivered,
    cpuPerMsgUs: g.delivered > 0 ? (netCpuMs * 1000) / g.delivered : Number.NaN,
    idleCpuPct: c && c.idleWallMs > 0 ? (c.idleMs / c.idleWallMs) * 100 : Number.NaN,
    genCpuPerMsgUs: g.delivered > 0 && g.generator.cpuMs !== undefined ? (g.generator.cpuMs * 1000) / g.delivered : Number.NaN,
    eventRate: g.measureMs > 0 ? g.events / groups / (g.measureMs / 1000) : Number.NaN,
    endedByServer: g.connections.ended,
    endReasons: g.connections.endReasons,
    generators: g.generators?.length ?? 1,
    genCpuMax: g.generators ? Math.max(...g.generators.map((p) => p.cpuPct)) : g.generator.cpuPct,
    serverProcesses: run.serverStats?.processes ?? 1,
    serverProbes: run.serverStats?.probes ?? Number.NaN,
    primaryCpu: multi && c?.rootWindowMs !== undefined ? (c.rootWindowMs / c.windowWallMs) * 100 : Number.NaN,
    workersCpu:
      multi && c?.rootWindowMs !== undefined
        ? ((c.windowMs - c.rootWindowMs) / c.windowWallMs) * 100
        : (run.serverStats?.cpuPct ?? Number.NaN),
  };
}

const median = (values: number[]): number => {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
};
const extent = (values: number[]): [number, number] => {
  const v = values.filter(Number.isFinite);
  return v.length ? [Math.min(...v), Math.max(...v)] : [Number.NaN, Number.NaN];
};
const percentileOf = (sorted: number[], p: number): number =>
  sorted.length ? (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number) : Number.NaN;

/** The rounds whose numbers count: ok ones, or the invalid ones (flagged in the status) when no round is ok. */
export function usableRounds(runs: RunResult[]): RunResult[] {
  const ok = runs.filter((r) => r.status === 'ok' && r.gen);
  return ok.length > 0 ? ok : runs.filter((r) => r.status === 'invalid' && r.gen);
}

/**
 * One server's rounds in one scenario, combined: medians of every number
 * (latency percentiles, CPU per message, memory, rates), with the min–max
 * range of p50/p99/p99.9; loss, deliveries and server-ended connections summed;
 * the latency max is the highest of any round; stalled-connection closes pooled.
 */
export function aggregate(runs: RunResult[], groups = 1): Aggregate | null {
  const usable = usableRounds(runs);
  const all = usable.map((r) => derive(r, groups)).filter((d): d is Derived => d !== null);
  if (all.length === 0) return null;
  const first = all[0] as Derived;
  const out = { ...first } as Aggregate;
  for (const key of Object.keys(first) as (keyof Derived)[]) {
    if (typeof first[key] === 'number') (out as unknown as Record<string, number>)[key] = median(all.map((d) => d[key] as number));
  }
  const sum = (f: (d: Derived) => number) => all.reduce((a, d) => a + f(d), 0);
  out.lossCount = sum((d) => d.lossCount);
  out.expected = sum((d) => d.expected);
  out.delivered = sum((d) => d.delivered);
  out.lossPct = out.expected > 0 ? (out.lossCount / out.expected) * 100 : Number.NaN;
  out.seqGaps = sum((d) => d.seqGaps);
  out.open = Math.min(...all.map((d) => d.open));
  const maxes = all.map((d) => d.max).filter(Number.isFinite);
  out.max = maxes.length > 0 ? Math.max(...maxes) : Number.NaN;
  out.drainMs = Math.max(...all.map((d) => d.drainMs));
  out.backlogged = all.some((d) => d.backlogged);
  out.endedByServer = sum((d) => d.endedByServer);
  out.endReasons = {};
  for (const d of all) for (const [k, v] of Object.entries(d.endReasons)) out.endReasons[k] = (out.endReasons[k] ?? 0) + v;
  out.rounds = all.length;
  out.range = { p50: extent(all.map((d) => d.p50)), p99: extent(all.map((d) => d.p99)), p999: extent(all.map((d) => d.p999)) };
  const stalled = usable.map((r) => r.gen?.stalled).filter((x) => x !== undefined);
  if (stalled.length > 0) {
    const after = stalled.flatMap((x) => x.closedAfterMs).sort((a, b) => a - b);
    const reasons: Record<string, number> = {};
    for (const x of stalled) for (const [k, v] of Object.entries(x.closeReasons)) reasons[k] = (reasons[k] ?? 0) + v;
    out.stalled = {
      target: stalled.reduce((a, x) => a + x.target, 0),
      stalled: stalled.reduce((a, x) => a + x.stalled, 0),
      closed: stalled.reduce((a, x) => a + x.closedByServer, 0),
      closedAfterP50: percentileOf(after, 50),
      closedAfterMax: after.length ? (after[after.length - 1] as number) : Number.NaN,
      reasons,
    };
  }
  const transports = [...new Set(usable.flatMap((r) => Object.keys(r.parts ?? {})))];
  if (transports.length > 0) {
    out.parts = {};
    for (const t of transports) {
      const a = aggregate(
        usable.map((r) => partRun(r, t)).filter((r): r is RunResult => r !== null),
        groups,
      );
      if (a) out.parts[t] = a;
    }
  }
  return out;
}

const fmt = (v: number, digits = 1): string => {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 10_000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
};
const ratio = (a: number, b: number): string =>
  Number.isFinite(a) && Number.isFinite(b) && a >= 0 && b > 0 ? `${(a / b).toFixed(2)}×` : '';

/** A negative slope means the process gave memory back during the ramp: below the noise, not a measurement. */
const kb = (v: number) => (v < 0 ? `< 0 (noise: ${fmt(v)})` : fmt(v));
/** Likewise CPU per message below zero: the idle window cost more than the loaded one (noise, warm-up). */
const us = (v: number) => (v < 0 ? `< 0 (noise: ${fmt(v, 2)})` : fmt(v, 2));

type Row = { label: string; value: (d: Aggregate) => number; text?: (d: Aggregate) => string; ratio: boolean };

/** A latency percentile: the median across rounds, with the rounds' min–max when there was more than one. */
const latencyText = (key: 'p50' | 'p99' | 'p999') => (d: Aggregate) => {
  const [lo, hi] = d.range[key];
  return d.rounds > 1 ? `${fmt(d[key])} (${fmt(lo)}–${fmt(hi)})` : fmt(d[key]);
};
const reasonsText = (m: Record<string, number>, max = 3) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .slice(0, max)
    .map(([k, v]) => `${v}× ${k.slice(0, 60)}`)
    .join('; ');

const ROWS: Row[] = [
  { label: 'connections open / target', value: (d) => d.open, text: (d) => `${d.open}/${d.target}`, ratio: false },
  { label: 'latency p50 (ms)', value: (d) => d.p50, text: latencyText('p50'), ratio: true },
  { label: 'latency p99 (ms)', value: (d) => d.p99, text: latencyText('p99'), ratio: true },
  { label: 'latency p99.9 (ms)', value: (d) => d.p999, text: latencyText('p999'), ratio: true },
  { label: 'latency max (ms)', value: (d) => d.max, ratio: true },
  { label: 'makespan p99 (ms)', value: (d) => d.makespanP99, ratio: true },
  { label: 'delivered msgs/s', value: (d) => d.msgsPerSec, text: (d) => fmt(d.msgsPerSec, 0), ratio: true },
  {
    label: 'loss (undelivered by window end + grace)',
    value: (d) => d.lossCount,
    text: (d) => `${d.lossCount} (${fmt(d.lossPct, 3)} %)${d.seqGaps > 0 ? `, seq gaps ${d.seqGaps}` : ''}`,
    ratio: false,
  },
  {
    label: 'connections closed by the server',
    value: (d) => d.endedByServer,
    text: (d) => (d.endedByServer === 0 ? '0' : `${d.endedByServer} (${reasonsText(d.endReasons)})`),
    ratio: false,
  },
  {
    label: 'last window event arrived after (ms)',
    value: (d) => d.drainMs,
    text: (d) => `${fmt(d.drainMs, 0)}${d.backlogged ? ' **still delivering**' : ''}`,
    ratio: false,
  },
  { label: 'RSS per conn, idle (KB)', value: (d) => d.idleRssKb, text: (d) => kb(d.idleRssKb), ratio: true },
  { label: 'heap per conn, idle (KB)', value: (d) => d.idleHeapKb, text: (d) => kb(d.idleHeapKb), ratio: true },
  { label: 'RSS per conn, loaded (KB)', value: (d) => d.loadedRssKb, text: (d) => kb(d.loadedRssKb), ratio: true },
  {
    label: 'RSS base → loaded (MB)',
    value: (d) => d.loadedRssMb,
    text: (d) => `${fmt(d.baseRssMb, 0)} → ${fmt(d.loadedRssMb, 0)}`,
    ratio: true,
  },
  { label: 'server CPU (% of its core)', value: (d) => d.serverCpu, text: (d) => fmt(d.serverCpu, 0), ratio: true },
  { label: 'server CPU per delivered msg, idle subtracted (µs)', value: (d) => d.cpuPerMsgUs, text: (d) => us(d.cpuPerMsgUs), ratio: true },
  { label: 'server CPU idle, no connections (% of its core)', value: (d) => d.idleCpuPct, ratio: false },
  {
    label: 'server event-loop lag p99 / max (ms)',
    value: (d) => d.serverLagP99,
    text: (d) => `${fmt(d.serverLagP99)} / ${fmt(d.serverLagMax)}`,
    ratio: true,
  },
  {
    label: 'generator CPU % / lag p99 (ms)',
    value: (d) => d.genCpu,
    text: (d) => `${fmt(d.genCpu, 0)} / ${fmt(d.genLagP99)}`,
    ratio: false,
  },
  { label: 'generator CPU per delivered msg (µs)', value: (d) => d.genCpuPerMsgUs, text: (d) => fmt(d.genCpuPerMsgUs, 2), ratio: false },
  {
    label: 'other processes on server / generator core (%)',
    value: (d) => d.otherLoadServerCore,
    text: (d) => `${fmt(d.otherLoadServerCore, 0)} / ${fmt(d.otherLoadGenCore, 0)}`,
    ratio: false,
  },
];

const STATUS_WORD: Record<RunResult['status'], string> = { ok: 'ok', invalid: '**INVALID**', failed: '**FAILED**', skipped: 'n/a' };

function statusText(runs: RunResult[]): string {
  if (runs.length === 0) return 'not run';
  if (runs.length === 1) {
    const run = runs[0] as RunResult;
    switch (run.status) {
      case 'ok':
        return 'ok';
      case 'skipped':
        return `n/a (${run.reason ?? 'skipped'})`;
      case 'invalid':
        return `**INVALID** (${run.reason ?? ''})`;
      case 'failed':
        return `**FAILED** (${(run.reason ?? '').split('\n')[0]?.replace(/:$/, '').slice(0, 160)})`;
    }
  }
  // Several rounds: how many of each, and why the first bad one was bad.
  const counts = new Map<RunResult['status'], number>();
  for (const r of runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const parts = [...counts].map(([status, n]) => `${STATUS_WORD[status]} ×${n}`);
  const bad = runs.find((r) => r.status !== 'ok');
  const why = bad ? ` (round ${bad.round ?? '?'}: ${(bad.reason ?? '').split('\n')[0]?.replace(/:$/, '').slice(0, 120)})` : '';
  return `${parts.join(', ')}${why}`;
}

/** The runs of the scenario's own configuration, and (stalled scenarios) of its `stalled: 0` variant. */
export function splitVariants(scenario: Scenario, runs: RunResult[]): { main: RunResult[]; base: RunResult[] } {
  const stalled = scenario.stalled ?? 0;
  if (stalled === 0) return { main: runs, base: [] };
  return { main: runs.filter((r) => (r.stalled ?? stalled) !== 0), base: runs.filter((r) => r.stalled === 0) };
}

export function scenarioTable(scenario: Scenario, runs: RunResult[], context: ReportContext = {}): string {
  const servers = reportServers(context, runs, scenario);
  const hasBefore = servers.includes('before');
  const label = (s: ServerKind) => serverLabel(s, context);
  const { main, base } = splitVariants(scenario, runs);
  const runsOf = (list: RunResult[], s: ServerKind) => list.filter((r) => r.server === s).sort((a, b) => (a.round ?? 1) - (b.round ?? 1));
  const groups = scenario.filtered ? 10 : 1;
  // A failed run's partial numbers would read as measurements: show only what went wrong (below the table).
  const derived = new Map(servers.map((s) => [s, aggregate(runsOf(main, s), groups)] as const));
  const derivedBase = new Map(servers.map((s) => [s, aggregate(runsOf(base, s), groups)] as const));
  const rounds = Math.max(0, ...runs.map((r) => r.round ?? 1));
  const lines: string[] = [];
  lines.push(`### ${scenario.name}`);
  lines.push('');
  lines.push(describe(scenario) + '.');
  for (const note of scenario.notes) lines.push(`${note}`);
  if (rounds > 1) {
    lines.push(
      `${rounds} rounds, servers interleaved (${RUN_ORDER.filter((s) => runs.some((r) => r.server === s)).join(', ')}, then again): every number is the median over the ok rounds; latency percentiles show the rounds' min–max in brackets; loss and closes are summed over the rounds; ratios use the medians.`,
    );
  }
  lines.push('');
  // Ratio columns: ours/floor, ours/before (runs with --before), recipe/ours; ours-2w/ours-1w where both ran.
  const ratioDefs: { head: string; num: ServerKind; den: ServerKind }[] = [
    ...(servers.includes('ours') && servers.includes('floor') ? [{ head: 'ours/floor', num: 'ours' as const, den: 'floor' as const }] : []),
    ...(hasBefore ? [{ head: 'ours/before', num: 'ours' as const, den: 'before' as const }] : []),
    ...(servers.includes('recipe') && servers.includes('ours')
      ? [{ head: 'recipe/ours', num: 'recipe' as const, den: 'ours' as const }]
      : []),
    ...(servers.includes('ours-1w') && servers.includes('ours-2w')
      ? [{ head: 'ours-2w/ours-1w', num: 'ours-2w' as const, den: 'ours-1w' as const }]
      : []),
  ];
  const ratioHeads = ratioDefs.map((r) => r.head);
  const noRatios = ratioHeads.map(() => ' |').join('');
  lines.push(`| | ${servers.map(label).join(' | ')} |${ratioHeads.map((h) => ` ${h} |`).join('')}`);
  lines.push(`|---|${[...servers, ...ratioHeads].map(() => '---:').join('|')}|`);
  lines.push(`| status | ${servers.map((s) => statusText(runsOf(main, s))).join(' | ')} |${noRatios}`);
  // The `stalled: 0` comparison rows, when that variant ran (a quick run skips it).
  const compare = (scenario.stalled ?? 0) > 0 && base.length > 0;
  if (compare) lines.push(`| status, stalled: 0 | ${servers.map((s) => statusText(runsOf(base, s))).join(' | ')} |${noRatios}`);
  // Events are produced inside each server (its own ticker/simulator): a blocked server produces fewer.
  const targetRate = scenario.stream === 'metrics' ? 1000 / scenario.intervalMs : Number.NaN;
  const eventRate = (s: ServerKind) => derived.get(s)?.eventRate ?? Number.NaN;
  lines.push(
    `| events/s per subscriber${Number.isFinite(targetRate) ? ` (target ${fmt(targetRate)})` : ''} | ${servers.map((s) => fmt(eventRate(s), 2)).join(' | ')} |${noRatios}`,
  );
  const row = (
    rowLabel: string,
    value: (d: Aggregate) => number,
    text: ((d: Aggregate) => string) | undefined,
    withRatio: boolean,
    from = derived,
  ) => {
    const cells = servers.map((s) => {
      const d = from.get(s);
      if (!d) return '–';
      return text ? text(d) : fmt(value(d));
    });
    const ratios = ratioDefs.map((def) => {
      const n = from.get(def.num);
      const d = from.get(def.den);
      return withRatio && n && d ? ratio(value(n), value(d)) : '';
    });
    lines.push(`| ${rowLabel} | ${cells.join(' | ')} |${ratios.map((x) => ` ${x} |`).join('')}`);
  };
  for (const r of ROWS) {
    row(r.label, r.value, r.text, r.ratio);
    if (compare && r.label === 'latency p99 (ms)') {
      row('readers latency p99, stalled: 0 (ms)', (d) => d.p99, latencyText('p99'), true, derivedBase);
      const withOver = new Map(
        servers.map((s) => {
          const w = derived.get(s);
          const wo = derivedBase.get(s);
          return [s, w && wo ? { ...w, p99: w.p99 / wo.p99 } : null] as const;
        }),
      );
      row(
        'readers p99 with stalled ÷ without',
        (d) => d.p99,
        (d) => (Number.isFinite(d.p99) ? `${d.p99.toFixed(2)}×` : '–'),
        false,
        withOver,
      );
    }
    if (scenario.stalled && r.label === 'connections closed by the server') {
      row(
        'stalled connections closed by the server',
        (d) => d.stalled?.closed ?? Number.NaN,
        (d) => (d.stalled ? `${d.stalled.closed}/${d.stalled.stalled}${d.rounds > 1 ? ` (${d.rounds} rounds)` : ''}` : '–'),
        false,
      );
      row(
        'stalled closed after stall p50 / max (ms)',
        (d) => d.stalled?.closedAfterP50 ?? Number.NaN,
        (d) => (d.stalled && d.stalled.closed > 0 ? `${fmt(d.stalled.closedAfterP50, 0)} / ${fmt(d.stalled.closedAfterMax, 0)}` : '–'),
        false,
      );
    }
    if (compare && r.label === 'server CPU per delivered msg, idle subtracted (µs)') {
      row(
        'server CPU per delivered msg, stalled: 0 (µs)',
        (d) => d.cpuPerMsgUs,
        (d) => us(d.cpuPerMsgUs),
        true,
        derivedBase,
      );
    }
  }
  // Multi-process servers (WORKERS, FLOOR_WORKERS): the tree, its primary, its workers.
  const present = [...derived.values()].filter((d): d is Aggregate => d !== null);
  if (present.some((d) => d.serverProcesses > 1)) {
    row(
      'server processes (probes answered)',
      (d) => d.serverProcesses,
      (d) => `${fmt(d.serverProcesses, 0)} (${fmt(d.serverProbes, 0)})`,
      false,
    );
    row(
      'server primary CPU (% of one core)',
      (d) => d.primaryCpu,
      (d) => fmt(d.primaryCpu, 0),
      true,
    );
    row(
      'server workers CPU (% of one core)',
      (d) => d.workersCpu,
      (d) => fmt(d.workersCpu, 0),
      true,
    );
  }
  // Several generator processes: the busiest one (the sum is in "generator CPU %").
  if (present.some((d) => d.generators > 1)) {
    row(
      'generator processes; CPU max per process (%)',
      (d) => d.genCpuMax,
      (d) => `${fmt(d.generators, 0)}; ${fmt(d.genCpuMax, 0)}`,
      false,
    );
  }
  // A mix: each transport on its own (its generators merged; idle RSS from its part of the ramp).
  const transports = [...new Set(present.flatMap((d) => Object.keys(d.parts ?? {})))];
  for (const t of transports) {
    const partOf = new Map(servers.map((s) => [s, derived.get(s)?.parts?.[t] ?? null] as const));
    row(
      `${t}: connections open / target`,
      (d) => d.open,
      (d) => `${d.open}/${d.target}`,
      false,
      partOf,
    );
    row(`${t}: latency p50 (ms)`, (d) => d.p50, latencyText('p50'), true, partOf);
    row(`${t}: latency p99 (ms)`, (d) => d.p99, latencyText('p99'), true, partOf);
    row(
      `${t}: delivered msgs/s`,
      (d) => d.msgsPerSec,
      (d) => fmt(d.msgsPerSec, 0),
      true,
      partOf,
    );
    row(
      `${t}: loss; closed by the server`,
      (d) => d.lossCount,
      (d) => `${d.lossCount} (${fmt(d.lossPct, 3)} %); ${d.endedByServer}`,
      false,
      partOf,
    );
    row(
      `${t}: RSS per conn, idle (KB)`,
      (d) => d.idleRssKb,
      (d) => kb(d.idleRssKb),
      true,
      partOf,
    );
  }
  if (compare) {
    row(
      'loss, stalled: 0',
      (d) => d.lossCount,
      (d) => `${d.lossCount} (${fmt(d.lossPct, 3)} %)${d.seqGaps > 0 ? `, seq gaps ${d.seqGaps}` : ''}`,
      false,
      derivedBase,
    );
  }
  const extra: string[] = [];
  const sharedCores = runs.find((r) => r.cores?.shared);
  if (sharedCores?.cores) {
    extra.push(
      `- ${[...new Set(runs.filter((r) => r.cores?.shared).map((r) => label(r.server)))].join(', ')}: the server tree ran on cores ${sharedCores.cores.serverCores} and the load generator on core ${sharedCores.cores.generatorCores}, which it **shared with a server worker** (this machine has ${sharedCores.cores.serverCores?.split(',').length ?? '?'} cores): "other processes" there is what neither used.`,
    );
  }
  for (const s of servers) {
    const serverRuns = [...runsOf(main, s), ...runsOf(base, s)];
    const bits: string[] = [];
    for (const run of serverRuns) {
      const label = [rounds > 1 ? `round ${run.round ?? 1}` : '', scenario.stalled && run.stalled === 0 ? 'stalled: 0' : '']
        .filter(Boolean)
        .join(', ');
      const prefix = label ? `${label}: ` : '';
      const g = run.gen;
      if (g) {
        const list = (m: Record<string, number>) =>
          Object.entries(m)
            .map(([k, v]) => `${v}× ${k}`)
            .join('; ');
        if (g.connections.failed > 0)
          bits.push(`${prefix}${g.connections.failed} connections failed (${list(g.connections.failureReasons)})`);
        if (g.connections.ended > 0) bits.push(`${prefix}${g.connections.ended} ended early (${list(g.connections.endReasons)})`);
        if (g.connections.silentAtStart > 0)
          bits.push(`${prefix}${g.connections.silentAtStart} had delivered nothing when measuring started`);
        if (g.badPayloads > 0)
          bits.push(`${prefix}${g.badPayloads} unexpected payloads, e.g. \`${(g.badSample ?? '').replace(/`/g, "'").slice(0, 200)}\``);
        if (g.duplicates > 0) bits.push(`${prefix}${g.duplicates} duplicate/out-of-order events`);
        if (g.aborted) bits.push(`${prefix}aborted: ${g.aborted}`);
        if (!g.aborted && g.observer && (g.observer.gaps > 0 || !g.observer.state.startsWith('live'))) {
          bits.push(`${prefix}observer (unfiltered, for expected counts): ${g.observer.state}, missed ${g.observer.gaps} events itself`);
        }
        if (g.backlogged) bits.push(`${prefix}still delivering window events when the grace period ran out: did not keep up`);
        const st = g.stalled;
        if (st && st.target > 0) {
          const problems = [
            st.failed > 0 ? `${st.failed} failed to open` : '',
            st.stalled < st.opened - st.endedBeforeStall ? `${st.opened - st.endedBeforeStall - st.stalled} never got a first event` : '',
            st.endedBeforeStall > 0 ? `${st.endedBeforeStall} ended before their first event` : '',
            st.note ?? '',
          ].filter(Boolean);
          const closes =
            st.closedByServer > 0 ? `closed ${st.closedByServer}/${st.stalled} (${list(st.closeReasons)})` : `closed none of ${st.stalled}`;
          bits.push(
            `${prefix}stalled connections: ${closes}, watched ${fmt(st.watchedMs / 1000)} s after the last stall${problems.length ? `; ${problems.join('; ')}` : ''}`,
          );
        }
        const procs = run.serverStats?.byProcess;
        if (procs && procs.length > 1) {
          bits.push(
            `${prefix}server processes (CPU % of one core, sockets, lag p99 ms): ` +
              procs
                .map(
                  (p) => `${p.worker ? 'worker' : 'primary'} ${fmt(p.cpuPct, 0)} %, ${fmt(p.sockets ?? Number.NaN, 0)}, ${fmt(p.lagP99Ms)}`,
                )
                .join('; '),
          );
        }
        const d = derive(run, groups);
        const rate = d?.eventRate ?? Number.NaN;
        const windowS = g.measureMs / 1000;
        // One event either side of the window is timing, not a late ticker.
        if (
          (run.status === 'ok' || run.status === 'invalid') &&
          Number.isFinite(targetRate) &&
          rate * windowS < 0.95 * targetRate * windowS - 1
        ) {
          bits.push(
            `${prefix}produced only ${fmt(rate, 2)} of ${fmt(targetRate)} events/s: its own ticker fell behind (event loop blocked), and latency is measured from the late tick, so it understates the delay`,
          );
        }
        if (d && (run.status === 'ok' || run.status === 'invalid') && (d.otherLoadServerCore > 15 || d.otherLoadGenCore > 15)) {
          bits.push(
            `${prefix}noisy: other processes used ${fmt(d.otherLoadServerCore, 0)} % of the server's core and ${fmt(d.otherLoadGenCore, 0)} % of the generator's`,
          );
        }
      }
      if (run.status === 'failed' && run.reason && run.reason.includes('\n')) {
        const lines = run.reason.split('\n').filter((l) => l.trim());
        const error = lines.find((l) => /error|Error|ERR/.test(l)) ?? lines.at(-1) ?? '';
        bits.push(`${prefix}failure detail: \`${error.trim().replace(/`/g, "'").slice(0, 240)}\``);
      }
    }
    if (bits.length) extra.push(`- ${label(s)}: ${bits.join('; ')}`);
  }
  if (extra.length) {
    lines.push('');
    lines.push(...extra);
  }
  lines.push('');
  return lines.join('\n');
}

interface Target {
  scenario: string;
  text: string;
  check(d: Map<ServerKind, Aggregate | null>): { pass: boolean; detail: string } | null;
  /** The target's numbers for ours against the before checkout (runs with `--before`): context, not part of the verdict. */
  versus: { name: string; value: (d: Aggregate) => number; unit: string; ratio: boolean }[];
}

const P99 = { name: 'p99', value: (d: Aggregate) => d.p99, unit: 'ms', ratio: true };
const IDLE_RSS = { name: 'idle RSS/conn', value: (d: Aggregate) => d.idleRssKb, unit: 'KB', ratio: true };
const LOSS = { name: 'loss', value: (d: Aggregate) => d.lossCount, unit: '', ratio: false };

/** "p99 12.3 vs 14.0 ms (0.88×)": ours first, then before, and ours ÷ before. */
function versusText(o: Aggregate, b: Aggregate, parts: Target['versus']): string {
  return parts
    .map((p) => {
      const q = p.ratio ? ratio(p.value(o), p.value(b)) : '';
      return `${p.name} ${fmt(p.value(o), p.unit ? 1 : 0)} vs ${fmt(p.value(b), p.unit ? 1 : 0)}${p.unit ? ` ${p.unit}` : ''}${q ? ` (${q})` : ''}`;
    })
    .join(', ');
}

const TARGETS: Target[] = [
  ...['minimal', 'dashboard', 'full'].map<Target>((sel) => ({
    scenario: `graphql-ws-10k-${sel}`,
    text: `graphql-ws 10k @ 1 Hz (${sel}): p99 ≤ 1.5 × floor and ≤ 100 ms; recipe p99 ≥ 4 × ours`,
    check: (d) => {
      const o = d.get('ours');
      const f = d.get('floor');
      const r = d.get('recipe');
      if (!o || !f) return null;
      const pass = o.p99 <= 1.5 * f.p99 && o.p99 <= 100 && (!r || r.p99 >= 4 * o.p99);
      return {
        pass,
        detail: `ours ${fmt(o.p99)} ms, floor ${fmt(f.p99)} ms (${ratio(o.p99, f.p99)}), recipe ${r ? `${fmt(r.p99)} ms (${ratio(r.p99, o.p99)} ours)` : '–'}`,
      };
    },
    versus: [P99],
  })),
  {
    scenario: 'graphql-ws-10k-5hz',
    text: '10k × 5 events/s: sustained, zero loss, p99 ≤ 2 × floor',
    check: (d) => {
      const o = d.get('ours');
      const f = d.get('floor');
      if (!o || !f) return null;
      return {
        pass: o.lossCount === 0 && o.p99 <= 2 * f.p99,
        detail: `loss ${o.lossCount}, ours p99 ${fmt(o.p99)} ms vs floor ${fmt(f.p99)} ms (${ratio(o.p99, f.p99)})`,
      };
    },
    versus: [P99, LOSS],
  },
  {
    scenario: 'graphql-ws-10k-dashboard',
    text: 'memory: ≤ 12 KB RSS per idle graphql-ws subscriber (slope 1k→10k)',
    check: (d) => {
      const o = d.get('ours');
      if (!o || !Number.isFinite(o.idleRssKb)) return null;
      return { pass: o.idleRssKb <= 12, detail: `${fmt(o.idleRssKb)} KB` };
    },
    versus: [IDLE_RSS],
  },
  {
    scenario: 'legacy-10k',
    text: 'legacy /ws/metrics 10k: p99 ≤ 1.2 × floor; ≤ 8 KB RSS per idle connection',
    check: (d) => {
      const o = d.get('ours');
      const f = d.get('floor');
      if (!o || !f) return null;
      return {
        pass: o.p99 <= 1.2 * f.p99 && o.idleRssKb <= 8,
        detail: `p99 ${fmt(o.p99)} vs ${fmt(f.p99)} ms (${ratio(o.p99, f.p99)}), ${fmt(o.idleRssKb)} KB/conn`,
      };
    },
    versus: [P99, IDLE_RSS],
  },
  {
    scenario: 'sse-2k',
    text: 'SSE 2k: p99 ≤ 100 ms',
    check: (d) => {
      const o = d.get('ours');
      if (!o) return null;
      return { pass: o.p99 <= 100, detail: `p99 ${fmt(o.p99)} ms` };
    },
    versus: [P99],
  },
];

const CPU_PER_MSG = { name: 'CPU/msg', value: (d: Aggregate) => d.cpuPerMsgUs, unit: 'µs', ratio: true };

/** CPU per delivered message against the floor's (issue 14): ours ≤ `limit` × floor. */
const cpuTarget = (scenario: string, what: string, limit: number): Target => ({
  scenario,
  text: `${what}: server CPU per delivered message ≤ ${limit.toFixed(1)} × the floor's (${scenario})`,
  check: (d) => {
    const o = d.get('ours');
    const f = d.get('floor');
    if (!o || !f || !Number.isFinite(o.cpuPerMsgUs) || !Number.isFinite(f.cpuPerMsgUs) || f.cpuPerMsgUs <= 0) return null;
    return {
      pass: o.cpuPerMsgUs <= limit * f.cpuPerMsgUs,
      detail: `ours ${us(o.cpuPerMsgUs)} µs, floor ${us(f.cpuPerMsgUs)} µs (${ratio(o.cpuPerMsgUs, f.cpuPerMsgUs)})`,
    };
  },
  versus: [CPU_PER_MSG],
});

/** Batched delivery at a high rate (issue 14): p99 ≤ 100 ms + the floor's p99, zero loss, sustained. */
const batchedTarget = (scenario: string, what: string): Target => ({
  scenario,
  text: `${what}: batched at 100 ms, p99 ≤ 100 ms + the floor's p99; zero loss; sustained (${scenario})`,
  check: (d) => {
    const o = d.get('ours');
    const f = d.get('floor');
    if (!o || !f) return null;
    const sustained = !o.backlogged && o.endedByServer === 0;
    return {
      pass: o.p99 <= 100 + f.p99 && o.lossCount === 0 && sustained,
      detail:
        `ours p99 ${fmt(o.p99)} ms vs ${fmt(100 + f.p99)} ms (100 + floor ${fmt(f.p99)}), loss ${o.lossCount}, ${fmt(o.msgsPerSec, 0)} events/s delivered` +
        (sustained
          ? ''
          : `, **not sustained** (${o.backlogged ? 'still delivering after the grace period' : `${o.endedByServer} closed by the server`})`),
    };
  },
  versus: [P99, LOSS],
});

/** Issue 14's targets (those judged on one scenario; the workers one is in the capacity section). */
const TARGETS_14: Target[] = [
  cpuTarget('graphql-ws-10k-minimal', 'graphql-ws', 1.0),
  cpuTarget('legacy-10k', 'legacy', 1.0),
  cpuTarget('sse-2k', 'SSE', 1.2),
  {
    scenario: 'density-50k',
    text: '50,000 subscribers (25,000 graphql-ws + 25,000 legacy, 1 event/s): no errors, no loss, p99 ≤ 1.3 × floor; idle ≤ 8 KB per graphql-ws subscriber, ≤ 5 KB per legacy connection; generators not the bottleneck',
    check: (d) => {
      const o = d.get('ours');
      const f = d.get('floor');
      if (!o || !f) return null;
      const gw = o.parts?.['graphql-ws'];
      const lg = o.parts?.['legacy'];
      const errors = o.target - o.open + o.endedByServer;
      const pass =
        errors === 0 && o.lossCount === 0 && o.p99 <= 1.3 * f.p99 && (gw?.idleRssKb ?? Infinity) <= 8 && (lg?.idleRssKb ?? Infinity) <= 5;
      return {
        pass,
        detail:
          `${o.open}/${o.target} open, ${o.endedByServer} closed, loss ${o.lossCount}; p99 ${fmt(o.p99)} vs floor ${fmt(f.p99)} ms (${ratio(o.p99, f.p99)}); ` +
          `idle ${gw ? kb(gw.idleRssKb) : '–'} KB graphql-ws, ${lg ? kb(lg.idleRssKb) : '–'} KB legacy; ` +
          `generators ${fmt(o.generators, 0)}: CPU ${fmt(o.genCpu, 0)} % summed (max ${fmt(o.genCpuMax, 0)} % per process), lag p99 ≤ ${fmt(o.genLagP99)} ms`,
      };
    },
    versus: [P99, LOSS, IDLE_RSS],
  },
  batchedTarget('transactions-batched-1k', 'transactions, 1,000 graphql-ws subscribers at SIM_TPS=20000'),
  batchedTarget('transactions-batched-1k-legacy', 'transactions, 1,000 legacy subscribers at SIM_TPS=20000'),
  batchedTarget('transactions-batched', 'quick: transactions, 100 graphql-ws subscribers at SIM_TPS=2000'),
];

const VERSUS_NOTE =
  'The verdicts judge ours alone; the last column is the same numbers for ours against the before checkout (ok rounds, medians; ratio = ours ÷ before).';

/** ok rounds only, without stalled connections: the numbers a target is judged on. */
function okAggregates(runs: RunResult[], servers: readonly ServerKind[], groups = 1): Map<ServerKind, Aggregate | null> {
  const ok = (s: ServerKind) => runs.filter((x) => x.server === s && x.status === 'ok' && (x.stalled ?? 0) === 0);
  return new Map(servers.map((s) => [s, aggregate(ok(s), groups)]));
}

export function targetsSection(
  results: Map<string, RunResult[]>,
  context: ReportContext = {},
  targets: Target[] = TARGETS,
  title = 'Targets (issue 5)',
  extraRows: string[] = [],
): string {
  const lines: string[] = [];
  const allRuns = [...results.values()].flat();
  const servers = reportServers(context, allRuns);
  const hasBefore = servers.includes('before');
  for (const target of targets) {
    const runs = results.get(target.scenario);
    if (!runs) continue;
    // Medians over the ok rounds only (an invalid round never meets a target).
    const d = okAggregates(runs, servers);
    const outcome = target.check(d);
    const noisy = [...d.values()].some((x) => x && (x.otherLoadServerCore > 15 || x.otherLoadGenCore > 15));
    const verdict = outcome ? (outcome.pass ? 'met' : '**not met**') : 'no valid data';
    const o = d.get('ours');
    const b = d.get('before');
    const versus = hasBefore ? ` ${o && b ? versusText(o, b, target.versus) : '–'} |` : '';
    lines.push(
      `| ${target.text} | ${verdict}${outcome && noisy ? ' (noisy run: cores shared with other processes)' : ''} | ${outcome?.detail ?? ''} |${versus}`,
    );
  }
  lines.push(...extraRows.map((r) => (hasBefore ? `${r} – |` : r)));
  if (lines.length === 0) return '';
  const head = hasBefore
    ? [`| target | result | measured | ours vs ${serverLabel('before', context)} |`, '|---|---|---|---|']
    : ['| target | result | measured |', '|---|---|---|'];
  const note = hasBefore ? [VERSUS_NOTE, ''] : [];
  return [`## ${title}`, '', ...note, ...head, ...lines, ''].join('\n');
}

/**
 * Runs with `--before`: one line per scenario, the before checkout against ours
 * (ok rounds, medians; stalled scenarios: the runs with stalled connections).
 */
export function beforeAfterSection(scenarios: Scenario[], results: Map<string, RunResult[]>, context: ReportContext = {}): string {
  if (!context.before) return '';
  // Negative CPU per message or RSS slope is noise (see the tables): shown as `< 0`, no ratio.
  const cols: { label: string; value: (d: Aggregate) => number; digits: number }[] = [
    { label: 'latency p50 (ms)', value: (d) => d.p50, digits: 1 },
    { label: 'latency p99 (ms)', value: (d) => d.p99, digits: 1 },
    { label: 'latency p99.9 (ms)', value: (d) => d.p999, digits: 1 },
    { label: 'delivered msgs/s', value: (d) => d.msgsPerSec, digits: 0 },
    { label: 'CPU per msg, idle subtracted (µs)', value: (d) => d.cpuPerMsgUs, digits: 2 },
    { label: 'RSS/conn idle (KB)', value: (d) => d.idleRssKb, digits: 1 },
    { label: 'RSS/conn loaded (KB)', value: (d) => d.loadedRssKb, digits: 1 },
  ];
  const show = (v: number, digits: number) => (v < 0 ? '< 0' : fmt(v, digits));
  const lines: string[] = [];
  for (const scenario of scenarios) {
    const runs = results.get(scenario.name);
    if (!runs) continue;
    const { main } = splitVariants(scenario, runs);
    const groups = scenario.filtered ? 10 : 1;
    const okRuns = (server: ServerKind) => main.filter((r) => r.server === server && r.status === 'ok');
    const o = aggregate(okRuns('ours'), groups);
    const b = aggregate(okRuns('before'), groups);
    if (!o && !b) continue;
    const cell = (c: (typeof cols)[number]) => {
      const bv = b ? c.value(b) : Number.NaN;
      const ov = o ? c.value(o) : Number.NaN;
      const q = ratio(ov, bv);
      return `${show(bv, c.digits)} → ${show(ov, c.digits)}${q ? ` (${q})` : ''}`;
    };
    lines.push(`| ${scenario.name} | ${cols.map(cell).join(' | ')} |`);
  }
  if (lines.length === 0) return '';
  return [
    `## Before and after: ${serverLabel('before', context)} → ours`,
    '',
    `Each cell: before → ours (ours ÷ before), medians over the ok rounds (no ok round: –). ${context.before.commit} is \`${context.before.dir}\`; ours is this checkout. The per-scenario tables have the full numbers (column \`ours/before\`).`,
    '',
    `| scenario | ${cols.map((c) => c.label).join(' | ')} |`,
    `|---|${cols.map(() => '---:').join('|')}|`,
    ...lines,
    '',
  ].join('\n');
}

export function machineSection(machine: MachineInfo, command: string, notes: string[]): string {
  return [
    `- command: \`${command}\``,
    `- date: ${machine.date}; commit ${machine.commit}`,
    `- machine: ${machine.nproc} cores (${machine.cpuModel}), ${machine.memTotalGb.toFixed(1)} GB RAM, ${machine.kernel}`,
    `- Node ${machine.node}`,
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

export function methodSection(context: ReportContext = {}): string {
  const before = context.before
    ? `\n- **before** (${context.before.commit}): our server as built from another checkout of this repository (\`--before ${context.before.dir}\`): its \`src/main.ts\`, run with that checkout as working directory and its own node_modules, with the same env, pinning, probe and load as ours (the same clients, paths and queries). Env it does not know is ignored. Ratio \`ours/before\` = ours ÷ before (below 1: ours is lower).`
    : '';
  const order = RUN_ORDER.filter((s) => s !== 'before' || context.before).join(', ');
  return METHOD.replace('{{BEFORE}}', before).replace('{{ORDER}}', order);
}

const METHOD = `## How it is measured

- Each server runs alone as a child process pinned to core 0 (\`taskset -c 0\`); the load generator (bench/load/generator.ts) runs pinned to core 1. Both talk over loopback only.
- **ours**: \`src/main.ts\`. **recipe**: the documented graphql-yoga + graphql-ws recipe (\`createYoga\` + \`useServer\` with \`yoga.getEnveloped\`, yoga's \`createPubSub\`) serving the same schema (bench/baselines/recipe-server.ts). **floor**: a raw \`ws\` server writing one pre-serialized frame per event to every client (bench/baselines/raw-ws-server.ts), with the selection's fields. All of them run the same seeded simulator and metrics ticker from src/sources with the same env, so they publish the same events at the same rate.{{BEFORE}}
- Latency = receive time − the event's \`timestamp\` (ms resolution on both sides), for every event timestamped inside the measurement window, recorded in a log-bucket histogram (≤ 1.6 % bucket error). Makespan = per event, the latest delivery − timestamp. Loss = expected deliveries (events seen in the window × subscribers, using the seq range when every subscriber gets every event) − deliveries received within the window plus a grace period.
- Memory: server RSS from /proc/<pid>/status, heap from a preloaded probe (bench/probe/server-probe.ts, after a forced GC), sampled at ramp checkpoints with all connections subscribed (the ramp pauses there); "idle" per connection = least-squares slope over the checkpoints (runs under 2,000 connections also anchor the fit at the zero-connection sample; a few hundred connections move RSS less than its noise, so quick-run RSS slopes are rough); "loaded" = (peak RSS during the window − RSS before any connection) ÷ connections. Server CPU (% of its core) from /proc/<pid>/stat over the window; event-loop lag from the probe's \`monitorEventLoopDelay\`. "Other processes" = busy share of each pinned core (/proc/stat) minus our process on it: above ~15 % the run shared its cores and its latencies are inflated.
- CPU per delivered message: right after the server is ready, before any connection, the orchestrator reads the server's utime+stime (/proc/<pid>/stat, 10 ms ticks) over an idle window as long as the measurement window (its ticker and simulator run, nobody listens); then over the measurement window. Per message = (window CPU − idle CPU × window length ÷ idle length) ÷ deliveries of window events (readers only). It is the cost of delivering, not of producing, events; deliveries after the window (a backlogged server) are not in the CPU window, so a backlogged server's number is too low. The generator's CPU over the window and grace is shown beside it (% and per message), to show the generator was not the limit.
- Rounds (\`--rounds\`, default 3 for a full run): each scenario runs {{ORDER}}, then again, N times, each round a fresh server process; the table shows medians over the ok rounds, latency percentiles with the rounds' min–max, and ratios of the medians.
- Stalled connections (stalled-clients*): after the readers are open, extra connections subscribe, receive their first event and pause their TCP socket for good (nothing they receive counts). Once all have stalled, the generator finds the server's socket for each (/proc/net/tcp, by port, read once) and the server's file descriptor holding it (/proc/<pid>/fd); every 250 ms it re-reads those links. A stalled connection counts as closed by the server when the server no longer holds its socket (or the client itself sees a close, which a paused client usually cannot); the time is from its stall, ±250 ms. A server that sends a close frame first and cuts the socket later is counted at the cut. The same scenario without the stalled connections (\`stalled: 0\`) runs interleaved with it, for the readers' "p99 with ÷ without".
- A run is INVALID when the generator was the bottleneck: its CPU over the window ≥ 90 % of its core(s) or its event-loop lag p99 above the limit (default 50 ms). Its numbers are shown but are not the server's. The generator's own queueing is part of every latency, equally for every server; compare ratios, not absolutes.
- Multi-process servers (ours with \`WORKERS=N\`, the floor with \`FLOOR_WORKERS=N\`: a node:cluster primary and N workers): CPU, idle CPU and RSS are summed over the server's process tree (the spawned pid and every node process below it, found through the parent pids in /proc); "server primary CPU" is the spawned process alone, "workers CPU" the rest. The probe is loaded into every process (workers inherit the primary's execArgv) and reports to the orchestrator over a unix socket of its own; heaps are summed, the event-loop lag shown is the worst of any process. Summed RSS counts pages the processes share (the node binary) once per process: compare slopes, not bases. Ours always runs with an explicit \`WORKERS\` (1 unless the scenario or the server kind says otherwise; its production default would be one per core). The floor with workers: its primary runs the simulator and ticker and relays each turn's events to every worker over IPC; each worker writes them to its own sockets (the same bytes everywhere, so timestamps and seq agree across workers).
- Several generator processes (\`generators\`, \`mix\`): the connections are split evenly over them (each process has its own open-file limit), all pinned to the generator core(s); they ramp together (a mix: one transport after the other, graphql-ws first), pause together at memory checkpoints, and measure one common window chosen by the orchestrator. Their results merge exactly: latency histograms add up; every generator reports each group's window events, so loss (the union of every generator's and the observer's events × the group's members − deliveries) and makespan are as for one generator. The table shows the generators' CPU summed (the invalidation rule uses the sum) and per process (max), and the worst event-loop lag of any of them. A mix is reported in total and per transport; each transport's idle RSS per connection is the slope over its own part of the ramp.
- workers-capacity: ours as \`ours-1w\` (WORKERS=1, core 0) and \`ours-2w\` (WORKERS=2, primary + 2 workers on cores 0-1, the generator sharing core 1) at rising SIM_TPS; see the capacity section for the criteria and the formula.
`;

export interface RunRecord {
  command: string;
  machine: MachineInfo;
  setupNotes: string[];
  quick: boolean;
  /** A full run: every scenario, every server, default sizes (only these become BENCHMARKS.md). */
  full: boolean;
  /** Interleaved rounds per scenario (absent in records from before --rounds: 1). */
  rounds?: number;
  /** `--before <dir>`: the checkout that ran as the `before` server (absent: no before server). */
  before?: BeforeInfo;
  scenarios: Scenario[];
  results: Record<string, RunResult[]>;
}

/**
 * A workers-capacity step is sustained: every round ok, nothing lost, nobody closed, the window drained:
 * p99 and the last window event within 2 s (a block's outcomes arrive in one burst; a server that falls
 * behind builds a backlog that grows through the 20 s window).
 */
function sustained(runs: RunResult[], a: Aggregate | null): { ok: boolean; why: string } {
  if (runs.length === 0 || !a) return { ok: false, why: 'no result' };
  const bad = runs.find((r) => r.status !== 'ok');
  if (bad) return { ok: false, why: `${bad.status}: ${(bad.reason ?? '').split('\n')[0]?.slice(0, 100) ?? ''}` };
  const why = [
    a.lossCount > 0 ? `loss ${a.lossCount} (${fmt(a.lossPct, 2)} %)` : '',
    a.endedByServer > 0 ? `${a.endedByServer} closed by the server (${reasonsText(a.endReasons, 1)})` : '',
    a.backlogged ? 'still delivering after the grace period' : '',
    a.p99 > 2000 ? `p99 ${fmt(a.p99)} ms` : '',
    a.drainMs > 2000 ? `last window event ${fmt(a.drainMs, 0)} ms late` : '',
  ].filter(Boolean);
  return { ok: why.length === 0, why: why.join(', ') };
}

const CAPACITY_VARIANTS: ServerKind[] = ['ours-1w', 'ours-2w'];

/**
 * The workers-capacity steps (issue 14): per SIM_TPS step, what WORKERS=1 and WORKERS=2 delivered; the
 * highest step each sustained; per-core capacity and the projection to 8 and 16 cores. Also the target
 * row "two workers deliver what one cannot" for the targets table.
 */
export function capacitySection(scenarios: Scenario[], results: Map<string, RunResult[]>): { section: string; targetRow: string | null } {
  const steps = scenarios.filter((s) => s.name.startsWith('workers-capacity-') && results.has(s.name)).sort((a, b) => a.simTps - b.simTps);
  if (steps.length === 0) return { section: '', targetRow: null };
  type Cell = { a: Aggregate | null; runs: RunResult[]; sustained: { ok: boolean; why: string } };
  const table = steps.map((scenario) => {
    const runs = results.get(scenario.name) ?? [];
    const cells = new Map<ServerKind, Cell>();
    for (const v of CAPACITY_VARIANTS) {
      const mine = runs.filter((r) => r.server === v && r.status !== 'skipped');
      const a = aggregate(mine);
      cells.set(v, { a, runs: mine, sustained: sustained(mine, a) });
    }
    return { scenario, cells };
  });
  const cellText = (c: Cell | undefined, primary: boolean) => {
    if (!c?.a) return ['not run', '', '', '', ''];
    const a = c.a;
    return [
      c.sustained.ok ? 'yes' : `**no** (${c.sustained.why})`,
      fmt(a.msgsPerSec, 0),
      fmt(a.p99),
      `${fmt(a.serverCpu, 0)}${primary && Number.isFinite(a.primaryCpu) ? ` (primary ${fmt(a.primaryCpu, 0)})` : ''}`,
      us(a.cpuPerMsgUs),
    ];
  };
  const lines = [
    '## Workers capacity (issue 14)',
    '',
    `Unfiltered graphql-ws \`transactions\` subscribers at rising SIM_TPS (scenarios \`workers-capacity-<SIM_TPS>\`, ${steps[0]?.connections ?? '?'} subscribers each). ` +
      '`ours-1w`: WORKERS=1 on core 0; `ours-2w`: WORKERS=2, the tree (primary + 2 workers) on cores 0-1 — the load generator runs on core 1 too, so the two workers had less than two whole cores. ' +
      'Every subscriber sends its own operation (the server renders every event once per subscriber). ' +
      'Sustained: every round ok (generator not the bottleneck), no loss, no subscriber closed by the server, p99 and the last window event within 2 s. ' +
      'Server CPU is summed over the process tree (% of one core).',
    '',
    '| SIM_TPS | deliveries/s wanted | 1w sustained | 1w delivered/s | 1w p99 (ms) | 1w CPU % | 1w µs/msg | 2w sustained | 2w delivered/s | 2w p99 (ms) | 2w CPU % | 2w µs/msg |',
    '|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|',
  ];
  for (const row of table) {
    const wanted = 2 * row.scenario.simTps * row.scenario.connections;
    lines.push(
      `| ${row.scenario.simTps} | ≈${fmt(wanted, 0)} | ${cellText(row.cells.get('ours-1w'), false).join(' | ')} | ${cellText(row.cells.get('ours-2w'), true).join(' | ')} |`,
    );
  }
  const highest = (v: ServerKind) => [...table].reverse().find((r) => r.cells.get(v)?.sustained.ok);
  const h1 = highest('ours-1w');
  const h2 = highest('ours-2w');
  lines.push('');
  lines.push(
    `Highest step sustained: WORKERS=1 ${h1 ? `SIM_TPS=${h1.scenario.simTps} (${fmt(h1.cells.get('ours-1w')?.a?.msgsPerSec ?? NaN, 0)} msgs/s)` : 'none'}; ` +
      `WORKERS=2 ${h2 ? `SIM_TPS=${h2.scenario.simTps} (${fmt(h2.cells.get('ours-2w')?.a?.msgsPerSec ?? NaN, 0)} msgs/s)` : 'none'}.`,
  );
  // Per-core capacity: deliveries per second per fully used core of workers, at the highest sustained step.
  const perCore = (a: Aggregate | null | undefined) => (a && a.workersCpu > 0 ? a.msgsPerSec / (a.workersCpu / 100) : Number.NaN);
  const a1 = h1?.cells.get('ours-1w')?.a;
  const a2 = h2?.cells.get('ours-2w')?.a;
  const c1 = perCore(a1);
  const c2 = perCore(a2);
  const p = a2 && Number.isFinite(a2.primaryCpu) ? a2.primaryCpu / 100 : Number.NaN;
  const c = Number.isFinite(c2) ? c2 : c1;
  lines.push('');
  lines.push(
    `Per-core capacity C = delivered msgs/s ÷ the workers' CPU (in cores) at the highest sustained step: WORKERS=1 ${fmt(c1, 0)} msgs/s per core; ` +
      `WORKERS=2 ${fmt(c2, 0)} msgs/s per core of workers, its primary using P = ${fmt(p, 2)} cores (sources, sequence numbers, one IPC message per worker per turn).`,
  );
  // The same per-core figure for one shared operation (every subscriber the same document): 1 s of CPU ÷ CPU per message.
  const shared = aggregate((results.get('graphql-ws-10k-minimal') ?? []).filter((r) => r.server === 'ours'));
  if (shared && shared.cpuPerMsgUs > 0) {
    lines.push('');
    lines.push(
      `For comparison, with one shared operation (graphql-ws-10k-minimal, 1 event/s to 10,000 subscribers) ours spends ${us(shared.cpuPerMsgUs)} µs of CPU per delivered message, idle subtracted: ≈${fmt(1e6 / shared.cpuPerMsgUs, 0)} msgs/s per fully used core, to be used in the same formula.`,
    );
  }
  if (Number.isFinite(c)) {
    const project = (n: number, pn: number) => (n - pn) * c;
    const cells = [8, 16].map((n) => {
      if (!Number.isFinite(p)) return `${n} cores: ${fmt(n * c, 0)} msgs/s (no primary share measured)`;
      return `${n} cores: ${fmt(project(n, p * (n / 2)), 0)}–${fmt(project(n, p), 0)} msgs/s`;
    });
    lines.push('');
    lines.push(
      `Projection (N cores, one worker per core): capacity(N) = (N − P(N)) × C, with P(N) between P (the primary's cost does not grow with workers) and P × N ÷ 2 ` +
        `(it grows in proportion to the workers, as its per-worker IPC does): ${cells.join('; ')}. ` +
        "It assumes a worker's cost per delivery stays as measured (no cross-core contention, the same workload per subscriber), and every subscriber's events are spread evenly over the workers.",
    );
  }
  lines.push('');
  // The target: a step WORKERS=2 sustains and WORKERS=1 does not.
  const proof = table.find(
    (r) => r.cells.get('ours-2w')?.sustained.ok && r.cells.get('ours-1w')?.a && !r.cells.get('ours-1w')?.sustained.ok,
  );
  const anyData = table.some((r) => r.cells.get('ours-2w')?.a && r.cells.get('ours-1w')?.a);
  const verdict = proof ? 'met' : anyData ? '**not met**' : 'no valid data';
  const detail = proof
    ? `SIM_TPS=${proof.scenario.simTps}: WORKERS=1 ${proof.cells.get('ours-1w')?.sustained.why ?? ''} at ${fmt(proof.cells.get('ours-1w')?.a?.msgsPerSec ?? NaN, 0)} msgs/s; WORKERS=2 sustained ${fmt(proof.cells.get('ours-2w')?.a?.msgsPerSec ?? NaN, 0)} msgs/s`
    : anyData
      ? `highest sustained: WORKERS=1 ${h1?.scenario.simTps ?? 'none'}, WORKERS=2 ${h2?.scenario.simTps ?? 'none'} (SIM_TPS)`
      : '';
  return {
    section: lines.join('\n'),
    targetRow: `| every core: WORKERS=2 sustains a rate WORKERS=1 cannot (workers-capacity-*) | ${verdict} | ${detail} |`,
  };
}

export function renderMarkdown(record: RunRecord): string {
  const results = new Map(Object.entries(record.results));
  const context: ReportContext = record.before ? { before: record.before } : {};
  const tables = record.scenarios.filter((s) => results.has(s.name)).map((s) => scenarioTable(s, results.get(s.name) ?? [], context));
  const capacity = capacitySection(record.scenarios, results);
  return [
    record.full ? '# Benchmarks' : `# Benchmarks (${record.quick ? 'quick' : 'partial'} run — not the reference numbers)`,
    '',
    'Generated by `npm run bench` (bench/run.ts); do not edit by hand. Re-run on an otherwise idle machine before comparing.',
    '',
    machineSection(record.machine, record.command, record.setupNotes),
    targetsSection(results, context),
    targetsSection(results, context, TARGETS_14, 'Targets (issue 14)', capacity.targetRow ? [capacity.targetRow] : []),
    ...[capacity.section, beforeAfterSection(record.scenarios, results, context)].filter(Boolean),
    '## Scenarios',
    '',
    ...tables,
    methodSection(context),
  ].join('\n');
}

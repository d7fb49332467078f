/** Tables and BENCHMARKS.md from run results. */
import { describe, type Scenario, type ServerKind } from '../scenarios.ts';
import { Histogram } from './histogram.ts';
import type { GeneratorResult } from './protocol.ts';
import type { MachineInfo } from './system.ts';

export interface MemoryPoint {
  connections: number;
  rss: number;
  heap: number;
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
  };
  serverStats: { cpuPct: number; lagP99Ms: number; lagMaxMs: number } | null;
  /** Busy % of the server's and the generator's cores over the window, everything included (noise check). */
  cores: { server: number; generator: number } | null;
  durationMs: number;
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
}

export function derive(run: RunResult): Derived | null {
  const g = run.gen;
  if (!g) return null;
  const lat = Histogram.fromJSON(g.latencyUs);
  const mk = Histogram.fromJSON(g.makespanUs);
  const ms = (us: number) => us / 1000;
  const loss = Math.max(0, g.expected - g.delivered);
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
    otherLoadServerCore: Math.max(0, (run.cores?.server ?? Number.NaN) - (run.serverStats?.cpuPct ?? Number.NaN)),
    otherLoadGenCore: Math.max(0, (run.cores?.generator ?? Number.NaN) - g.generator.cpuPct),
  };
}

const fmt = (v: number, digits = 1): string => {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 10_000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
};
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && a >= 0 && b > 0 ? `${(a / b).toFixed(2)}×` : '');

/** A negative slope means the process gave memory back during the ramp: below the noise, not a measurement. */
const kb = (v: number) => (v < 0 ? `< 0 (noise: ${fmt(v)})` : fmt(v));

type Row = { label: string; value: (d: Derived) => number; text?: (d: Derived) => string; ratio: boolean };
const ROWS: Row[] = [
  { label: 'connections open / target', value: (d) => d.open, text: (d) => `${d.open}/${d.target}`, ratio: false },
  { label: 'latency p50 (ms)', value: (d) => d.p50, ratio: true },
  { label: 'latency p99 (ms)', value: (d) => d.p99, ratio: true },
  { label: 'latency p99.9 (ms)', value: (d) => d.p999, ratio: true },
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
    label: 'last window event arrived after (ms)',
    value: (d) => d.drainMs,
    text: (d) => `${fmt(d.drainMs, 0)}${d.backlogged ? ' **still delivering**' : ''}`,
    ratio: false,
  },
  { label: 'RSS per conn, idle (KB)', value: (d) => d.idleRssKb, text: (d) => kb(d.idleRssKb), ratio: true },
  { label: 'heap per conn, idle (KB)', value: (d) => d.idleHeapKb, text: (d) => kb(d.idleHeapKb), ratio: true },
  { label: 'RSS per conn, loaded (KB)', value: (d) => d.loadedRssKb, text: (d) => kb(d.loadedRssKb), ratio: true },
  { label: 'RSS base → loaded (MB)', value: (d) => d.loadedRssMb, text: (d) => `${fmt(d.baseRssMb, 0)} → ${fmt(d.loadedRssMb, 0)}`, ratio: true },
  { label: 'server CPU (% of its core)', value: (d) => d.serverCpu, text: (d) => fmt(d.serverCpu, 0), ratio: true },
  { label: 'server event-loop lag p99 / max (ms)', value: (d) => d.serverLagP99, text: (d) => `${fmt(d.serverLagP99)} / ${fmt(d.serverLagMax)}`, ratio: true },
  { label: 'generator CPU % / lag p99 (ms)', value: (d) => d.genCpu, text: (d) => `${fmt(d.genCpu, 0)} / ${fmt(d.genLagP99)}`, ratio: false },
  {
    label: 'other processes on server / generator core (%)',
    value: (d) => d.otherLoadServerCore,
    text: (d) => `${fmt(d.otherLoadServerCore, 0)} / ${fmt(d.otherLoadGenCore, 0)}`,
    ratio: false,
  },
];

function statusText(run: RunResult | undefined): string {
  if (!run) return 'not run';
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

export function scenarioTable(scenario: Scenario, runs: RunResult[]): string {
  const by = (s: ServerKind) => runs.find((r) => r.server === s);
  const servers: ServerKind[] = ['ours', 'recipe', 'floor'];
  // A failed run's partial numbers would read as measurements: show only what went wrong (below the table).
  const derived = new Map(
    servers.map((s) => {
      const r = by(s);
      return [s, r && (r.status === 'ok' || r.status === 'invalid') ? derive(r) : null] as const;
    }),
  );
  const lines: string[] = [];
  lines.push(`### ${scenario.name}`);
  lines.push('');
  lines.push(describe(scenario) + '.');
  for (const note of scenario.notes) lines.push(`${note}`);
  lines.push('');
  lines.push('| | ours | recipe | floor | ours/floor | recipe/ours |');
  lines.push('|---|---:|---:|---:|---:|---:|');
  lines.push(`| status | ${servers.map((s) => statusText(by(s))).join(' | ')} | | |`);
  // Events are produced inside each server (its own ticker/simulator): a blocked server produces fewer.
  const groups = scenario.filtered ? 10 : 1;
  const targetRate = scenario.stream === 'metrics' ? 1000 / scenario.intervalMs : Number.NaN;
  const eventRate = (s: ServerKind) => {
    const r = by(s);
    const g = r?.gen;
    return g && g.measureMs > 0 && (r.status === 'ok' || r.status === 'invalid') ? g.events / groups / (g.measureMs / 1000) : Number.NaN;
  };
  lines.push(
    `| events/s per subscriber${Number.isFinite(targetRate) ? ` (target ${fmt(targetRate)})` : ''} | ${servers.map((s) => fmt(eventRate(s), 2)).join(' | ')} | | |`,
  );
  for (const row of ROWS) {
    const cells = servers.map((s) => {
      const d = derived.get(s);
      if (!d) return '–';
      return row.text ? row.text(d) : fmt(row.value(d));
    });
    const o = derived.get('ours');
    const r = derived.get('recipe');
    const f = derived.get('floor');
    const of = row.ratio && o && f ? ratio(row.value(o), row.value(f)) : '';
    const ro = row.ratio && o && r ? ratio(row.value(r), row.value(o)) : '';
    lines.push(`| ${row.label} | ${cells.join(' | ')} | ${of} | ${ro} |`);
  }
  const extra: string[] = [];
  for (const s of servers) {
    const run = by(s);
    if (!run) continue;
    const g = run.gen;
    const bits: string[] = [];
    if (g) {
      const list = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${v}× ${k}`).join('; ');
      if (g.connections.failed > 0) bits.push(`${g.connections.failed} connections failed (${list(g.connections.failureReasons)})`);
      if (g.connections.ended > 0) bits.push(`${g.connections.ended} ended early (${list(g.connections.endReasons)})`);
      if (g.connections.silentAtStart > 0) bits.push(`${g.connections.silentAtStart} had delivered nothing when measuring started`);
      if (g.badPayloads > 0) bits.push(`${g.badPayloads} unexpected payloads, e.g. \`${(g.badSample ?? '').replace(/`/g, "'").slice(0, 200)}\``);
      if (g.duplicates > 0) bits.push(`${g.duplicates} duplicate/out-of-order events`);
      if (g.aborted) bits.push(`aborted: ${g.aborted}`);
      if (!g.aborted && g.observer && (g.observer.gaps > 0 || !g.observer.state.startsWith('live'))) {
        bits.push(`observer (unfiltered, for expected counts): ${g.observer.state}, missed ${g.observer.gaps} events itself`);
      }
      if (g.backlogged) bits.push('still delivering window events when the grace period ran out: did not keep up');
      const rate = eventRate(s);
      const windowS = g.measureMs / 1000;
      // One event either side of the window is timing, not a late ticker.
      if (Number.isFinite(targetRate) && rate * windowS < 0.95 * targetRate * windowS - 1) {
        bits.push(
          `produced only ${fmt(rate, 2)} of ${fmt(targetRate)} events/s: its own ticker fell behind (event loop blocked), and latency is measured from the late tick, so it understates the delay`,
        );
      }
    }
    const d = derived.get(s);
    if (d && (d.otherLoadServerCore > 15 || d.otherLoadGenCore > 15)) {
      bits.push(`noisy: other processes used ${fmt(d.otherLoadServerCore, 0)} % of the server's core and ${fmt(d.otherLoadGenCore, 0)} % of the generator's`);
    }
    if (run.status === 'failed' && run.reason && run.reason.includes('\n')) {
      const lines = run.reason.split('\n').filter((l) => l.trim());
      const error = lines.find((l) => /error|Error|ERR/.test(l)) ?? lines.at(-1) ?? '';
      bits.push(`failure detail: \`${error.trim().replace(/`/g, "'").slice(0, 240)}\``);
    }
    if (bits.length) extra.push(`- ${s}: ${bits.join('; ')}`);
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
  check(d: Map<ServerKind, Derived | null>): { pass: boolean; detail: string } | null;
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
      return { pass, detail: `ours ${fmt(o.p99)} ms, floor ${fmt(f.p99)} ms (${ratio(o.p99, f.p99)}), recipe ${r ? `${fmt(r.p99)} ms (${ratio(r.p99, o.p99)} ours)` : '–'}` };
    },
  })),
  {
    scenario: 'graphql-ws-10k-5hz',
    text: '10k × 5 events/s: sustained, zero loss, p99 ≤ 2 × floor',
    check: (d) => {
      const o = d.get('ours');
      const f = d.get('floor');
      if (!o || !f) return null;
      return { pass: o.lossCount === 0 && o.p99 <= 2 * f.p99, detail: `loss ${o.lossCount}, ours p99 ${fmt(o.p99)} ms vs floor ${fmt(f.p99)} ms (${ratio(o.p99, f.p99)})` };
    },
  },
  {
    scenario: 'graphql-ws-10k-dashboard',
    text: 'memory: ≤ 12 KB RSS per idle graphql-ws subscriber (slope 1k→10k)',
    check: (d) => {
      const o = d.get('ours');
      if (!o || !Number.isFinite(o.idleRssKb)) return null;
      return { pass: o.idleRssKb <= 12, detail: `${fmt(o.idleRssKb)} KB` };
    },
  },
  {
    scenario: 'legacy-10k',
    text: 'legacy /ws/metrics 10k: p99 ≤ 1.2 × floor; ≤ 8 KB RSS per idle connection',
    check: (d) => {
      const o = d.get('ours');
      const f = d.get('floor');
      if (!o || !f) return null;
      return { pass: o.p99 <= 1.2 * f.p99 && o.idleRssKb <= 8, detail: `p99 ${fmt(o.p99)} vs ${fmt(f.p99)} ms (${ratio(o.p99, f.p99)}), ${fmt(o.idleRssKb)} KB/conn` };
    },
  },
  {
    scenario: 'sse-2k',
    text: 'SSE 2k: p99 ≤ 100 ms',
    check: (d) => {
      const o = d.get('ours');
      if (!o) return null;
      return { pass: o.p99 <= 100, detail: `p99 ${fmt(o.p99)} ms` };
    },
  },
];

export function targetsSection(results: Map<string, RunResult[]>): string {
  const lines: string[] = [];
  for (const target of TARGETS) {
    const runs = results.get(target.scenario);
    if (!runs) continue;
    const d = new Map<ServerKind, Derived | null>(
      (['ours', 'recipe', 'floor'] as ServerKind[]).map((s) => {
        const r = runs.find((x) => x.server === s);
        return [s, r && r.status === 'ok' ? derive(r) : null];
      }),
    );
    const outcome = target.check(d);
    const noisy = [...d.values()].some((x) => x && (x.otherLoadServerCore > 15 || x.otherLoadGenCore > 15));
    const verdict = outcome ? (outcome.pass ? 'met' : '**not met**') : 'no valid data';
    lines.push(`| ${target.text} | ${verdict}${outcome && noisy ? ' (noisy run: cores shared with other processes)' : ''} | ${outcome?.detail ?? ''} |`);
  }
  if (lines.length === 0) return '';
  return ['## Targets (issue 5)', '', '| target | result | measured |', '|---|---|---|', ...lines, ''].join('\n');
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

export const METHOD = `## How it is measured

- Each server runs alone as a child process pinned to core 0 (\`taskset -c 0\`); the load generator (bench/load/generator.ts) runs pinned to core 1. Both talk over loopback only.
- **ours**: \`src/main.ts\`. **recipe**: the documented graphql-yoga + graphql-ws recipe (\`createYoga\` + \`useServer\` with \`yoga.getEnveloped\`, yoga's \`createPubSub\`) serving the same schema (bench/baselines/recipe-server.ts). **floor**: a raw \`ws\` server writing one pre-serialized frame per event to every client (bench/baselines/raw-ws-server.ts), with the selection's fields. All three run the same seeded simulator and metrics ticker from src/sources with the same env, so they publish the same events at the same rate.
- Latency = receive time − the event's \`timestamp\` (ms resolution on both sides), for every event timestamped inside the measurement window, recorded in a log-bucket histogram (≤ 1.6 % bucket error). Makespan = per event, the latest delivery − timestamp. Loss = expected deliveries (events seen in the window × subscribers, using the seq range when every subscriber gets every event) − deliveries received within the window plus a grace period.
- Memory: server RSS from /proc/<pid>/status, heap from a preloaded probe (bench/probe/server-probe.ts, after a forced GC), sampled at ramp checkpoints with all connections subscribed (the ramp pauses there); "idle" per connection = least-squares slope over the checkpoints (runs under 2,000 connections also anchor the fit at the zero-connection sample; a few hundred connections move RSS less than its noise, so quick-run RSS slopes are rough); "loaded" = (peak RSS during the window − RSS before any connection) ÷ connections. Server CPU from /proc/<pid>/stat over the window; event-loop lag from the probe's \`monitorEventLoopDelay\`. "Other processes" = busy share of each pinned core (/proc/stat) minus our process on it: above ~15 % the run shared its cores and its latencies are inflated.
- A run is INVALID when the generator was the bottleneck: its CPU over the window ≥ 90 % of its core or its event-loop lag p99 above the limit (default 50 ms). Its numbers are shown but are not the server's. The generator's own queueing is part of every latency, equally for all three servers; compare ratios, not absolutes.
`;

export interface RunRecord {
  command: string;
  machine: MachineInfo;
  setupNotes: string[];
  quick: boolean;
  /** A full run: every scenario, every server, default sizes (only these become BENCHMARKS.md). */
  full: boolean;
  scenarios: Scenario[];
  results: Record<string, RunResult[]>;
}

export function renderMarkdown(record: RunRecord): string {
  const results = new Map(Object.entries(record.results));
  const tables = record.scenarios.filter((s) => results.has(s.name)).map((s) => scenarioTable(s, results.get(s.name) ?? []));
  return [
    record.full ? '# Benchmarks' : `# Benchmarks (${record.quick ? 'quick' : 'partial'} run — not the reference numbers)`,
    '',
    'Generated by `npm run bench` (bench/run.ts); do not edit by hand. Re-run on an otherwise idle machine before comparing.',
    '',
    machineSection(record.machine, record.command, record.setupNotes),
    targetsSection(results),
    '## Scenarios',
    '',
    ...tables,
    METHOD,
  ].join('\n');
}

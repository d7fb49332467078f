/**
 * `npm run bench [-- options]`: the benchmark orchestrator (issue 5).
 *
 * For every scenario and every server (ours, the yoga+graphql-ws recipe, the
 * raw-ws floor, ours with WORKERS=1/2 as ours-1w/ours-2w, and with --before our
 * server from another checkout) it starts the server pinned to core 0 (ours-2w:
 * cores 0-1) and the load generator process(es) pinned to the other core(s),
 * waits for /ready, measures the server's idle CPU, lets the generators ramp
 * (a mix: one transport after the other) and measure one common window, samples
 * the server's memory/CPU/lag (summed over its process tree: a primary and its
 * workers), kills them all, merges the generators' results, and prints a table
 * per scenario. With --rounds N every scenario runs its servers interleaved
 * (floor, before, ours, recipe, then again) N times.
 * A full run writes BENCHMARKS.md; --quick and --scenario runs write
 * bench/results/ only, so full results are never overwritten by partial ones.
 *
 *   --quick                 small N, short windows; the whole run takes under 2 minutes (≈ 3 with --before)
 *   --scenario <name>       run one scenario (exact name or prefix); repeatable
 *   --servers ours,floor    only these servers (ours, recipe, floor; before with --before)
 *   --before <dir>          another checkout of this repo (a previous commit, its own node_modules): adds the
 *                           server kind `before`, its src/main.ts driven exactly like ours (in every scenario ours is in)
 *   --connections <n>       override every scenario's subscriber count
 *   --measure <s>           override the measurement window
 *   --rounds <n>            interleaved rounds per scenario (default 3, 1 with --quick); tables show medians
 *   --stalled <n>           override the stalled-connection count of scenarios that have stalled connections
 *   --sim-tps <n>           override SIM_TPS of every scenario chosen (the workers-capacity steps collapse into one)
 *   --workers <n>           override the scenarios' workers (WORKERS for ours, FLOOR_WORKERS for the floor)
 *   --generators <n>        override the scenarios' load generator processes
 *   --max-gen-lag <ms>      generator event-loop lag p99 above this invalidates a run (default 50)
 *   --server-env K=V        extra env for every server (repeatable), e.g. to lift limits
 *   --rss-cap <MB>          kill a server whose RSS passes this (default 4096)
 *   --out <file>            write the markdown there instead (e.g. a trial full run that must not replace BENCHMARKS.md)
 *   --render <json>         only re-render markdown from a bench/results/*.json (to --out, else stdout)
 *   --list                  print the scenarios and exit
 *   --verbose               print generator progress
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { killAllNow, PullQueue, spawnChild, stopChild, type Child } from './lib/children.ts';
import { mergeParts, mergeTransports } from './lib/merge.ts';
import { ProbeHub } from './lib/probe-hub.ts';
import type { FromGenerator, GeneratorConfig, GeneratorResult, ToGenerator } from './lib/protocol.ts';
import { derive, renderMarkdown, scenarioTable, type BeforeInfo, type MemoryPoint, type RunRecord, type RunResult } from './lib/report.ts';
import { keepSections } from './lib/sections.ts';
import {
  canBindLocal,
  checkoutInfo,
  ephemeralPorts,
  freePort,
  hasCommand,
  linearSlope,
  machineInfo,
  openFilesLimit,
  coreBusyPct,
  countSockets,
  ProcessTree,
  readCoreTimes,
  treeCpuDelta,
  waitReady,
} from './lib/system.ts';
import {
  buildScenarios,
  checkpointsFor,
  coresFor,
  describe,
  driveFor,
  entriesOf,
  entryScenario,
  pickScenarios,
  programOf,
  RUN_ORDER,
  schemaHasTransactionFilter,
  SERVER_KINDS,
  workersOfKind,
  type Scenario,
  type ServerKind,
  type Transport,
} from './scenarios.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GEN_CPU_LIMIT = 90;

// ── Options ─────────────────────────────────────────────────────────────────
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scenario: { type: 'string', multiple: true, default: [] },
    servers: { type: 'string' },
    before: { type: 'string' },
    connections: { type: 'string' },
    measure: { type: 'string' },
    rounds: { type: 'string' },
    stalled: { type: 'string' },
    'max-gen-lag': { type: 'string', default: '50' },
    'server-env': { type: 'string', multiple: true, default: [] },
    'rss-cap': { type: 'string', default: '4096' },
    'sim-tps': { type: 'string' },
    workers: { type: 'string' },
    generators: { type: 'string' },
    out: { type: 'string' },
    render: { type: 'string' },
    list: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});

const num = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name}: expected a positive number, got ${value}`);
    process.exit(2);
  }
  return n;
};
const quick = args.quick ?? false;
const maxGenLagMs = num('max-gen-lag', args['max-gen-lag']) ?? 50;
const rssCap = (num('rss-cap', args['rss-cap']) ?? 4096) * 2 ** 20;
const connectionsOverride = num('connections', args.connections);
const measureOverride = num('measure', args.measure);
const DEFAULT_ROUNDS = quick ? 1 : 3;
const rounds = Math.max(1, Math.round(num('rounds', args.rounds) ?? DEFAULT_ROUNDS));
const stalledOverride = num('stalled', args.stalled);
const simTpsOverride = num('sim-tps', args['sim-tps']);
const workersOverride = num('workers', args.workers);
const generatorsOverride = num('generators', args.generators);

// --before <dir>: another checkout of this repository (a previous commit) with its own node_modules.
let before: BeforeInfo | undefined;
if (args.before !== undefined) {
  const dir = resolve(process.cwd(), args.before);
  const problem = !existsSync(join(dir, 'src/main.ts'))
    ? 'has no src/main.ts (expected a checkout of this repository, e.g. `git worktree add /tmp/before <commit>`)'
    : !existsSync(join(dir, 'node_modules/tsx/package.json'))
      ? 'has no node_modules with tsx (run `npm ci` there)'
      : null;
  if (problem) {
    console.error(`--before: ${dir} ${problem}`);
    process.exit(2);
  }
  const info = checkoutInfo(dir);
  before = { dir, commit: info ? `${info.commit}${info.dirty ? '*' : ''}` : 'unknown', dirty: info?.dirty ?? false };
}
/** Without --before the `before` server does not exist: not selectable, not run, not listed. */
const AVAILABLE: readonly ServerKind[] = SERVER_KINDS.filter((s) => s !== 'before' || before);
const serverFilter = (args.servers ?? AVAILABLE.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as ServerKind[];
// `ours` also selects ours with a given WORKERS (ours-1w, ours-2w: the workers-capacity columns).
if (serverFilter.includes('ours'))
  for (const k of SERVER_KINDS) if (workersOfKind(k) !== undefined && !serverFilter.includes(k)) serverFilter.push(k);
for (const s of serverFilter) {
  if (!SERVER_KINDS.includes(s)) {
    console.error(`--servers: unknown server ${s} (${AVAILABLE.join(', ')}${before ? '' : '; before with --before <dir>'})`);
    process.exit(2);
  }
  if (!AVAILABLE.includes(s)) {
    console.error(`--servers: ${s} needs --before <dir> (another checkout of this repository, with its own node_modules)`);
    process.exit(2);
  }
}
/** The before checkout, when this run has the before server (tables label its column with its commit). */
const beforeRun = before && serverFilter.includes('before') ? before : undefined;
/**
 * Quick runs stay under ~2 minutes: runs that would start later are skipped.
 * `before` adds a run to every quick scenario (≈ 40 s in all), so it gets 160 s (≈ 3 minutes in all).
 */
const QUICK_BUDGET_MS = serverFilter.includes('before') ? 160_000 : 100_000;
const serverEnv: Record<string, string> = {};
for (const kv of args['server-env'] ?? []) {
  const i = kv.indexOf('=');
  if (i <= 0) {
    console.error(`--server-env: expected KEY=VALUE, got ${kv}`);
    process.exit(2);
  }
  serverEnv[kv.slice(0, i)] = kv.slice(i + 1);
}

if (args.render) {
  const record = JSON.parse(readFileSync(args.render, 'utf8')) as RunRecord;
  const markdown = renderMarkdown(record);
  if (args.out) writeFileSync(resolve(process.cwd(), args.out), markdown);
  else process.stdout.write(markdown);
  process.exit(0);
}

// ── Children never outlive us ──────────────────────────────────────────────
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: killing benchmark children and exiting`);
    killAllNow();
    process.exit(130);
  });
}
process.on('uncaughtException', (error) => {
  console.error(error);
  killAllNow();
  process.exit(1);
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (text: string) => process.stderr.write(`${text}\n`);

// ── Preflight ───────────────────────────────────────────────────────────────
const machine = machineInfo(repoRoot);
const setupNotes: string[] = [];
const pin = machine.nproc >= 2 && hasCommand('taskset', ['-c', '0', 'true']);
if (!pin) setupNotes.push('**not pinned**: taskset unavailable or fewer than 2 cores; server and generator share cores');
else
  setupNotes.push(
    `server pinned to core 0, load generator(s) to core${machine.nproc > 2 ? `s 1-${machine.nproc - 1}` : ' 1'} (taskset); ours-Nw: the server tree on cores 0…N−1 (see its table)`,
  );

const filtersAvailable = schemaHasTransactionFilter(repoRoot);
let scenarios = buildScenarios({ quick, filtersAvailable, before: before !== undefined });
if (args.list) {
  for (const s of scenarios) console.log(`${s.name.padEnd(28)} ${describe(s)} [${s.servers.join(', ')}]`);
  process.exit(0);
}
scenarios = pickScenarios(scenarios, args.scenario ?? []);
if (scenarios.length === 0) {
  console.error(`no scenario matches ${(args.scenario ?? []).join(', ')}; --list shows them`);
  process.exit(2);
}
// --sim-tps: one rate for every scenario chosen; the workers-capacity steps collapse into one scenario at that rate.
if (simTpsOverride) {
  let capacity = false;
  scenarios = scenarios.filter((s) => {
    if (!s.name.startsWith('workers-capacity-')) return true;
    if (capacity) return false;
    capacity = true;
    s.name = `workers-capacity-${Math.round(simTpsOverride)}`;
    return true;
  });
}
for (const s of scenarios) {
  if (connectionsOverride) {
    const total = Math.round(connectionsOverride);
    if (s.mix) {
      // A mix keeps its proportions: e.g. --connections 2000 on 25,000 + 25,000 gives 1,000 + 1,000.
      const before = s.mix.reduce((a, e) => a + e.connections, 0);
      s.mix = s.mix.map((e) => {
        const n = Math.max(1, Math.round((total * e.connections) / before));
        return { ...e, connections: n, checkpoints: [Math.round(n / 2), n] };
      });
      s.connections = s.mix.reduce((a, e) => a + e.connections, 0);
    } else {
      s.connections = total;
      s.checkpoints = [Math.round(s.connections / 2), s.connections];
    }
  }
  if (measureOverride) {
    s.measureMs = measureOverride * 1000;
    delete s.idleMs;
  }
  if (stalledOverride && s.stalled) s.stalled = Math.round(stalledOverride);
  if (simTpsOverride) s.simTps = Math.round(simTpsOverride);
  if (workersOverride) s.workers = Math.round(workersOverride);
  if (generatorsOverride) {
    s.generators = Math.round(generatorsOverride);
    if (s.mix) {
      const each = Math.max(1, Math.round(generatorsOverride / s.mix.length));
      s.mix = s.mix.map((e) => ({ ...e, generators: each }));
    }
  }
}

// Files per process: a server holds its connections over its workers, a generator its share.
const perProcessFiles = (s: Scenario) => {
  const server = Math.ceil((s.connections + (s.stalled ?? 0)) / Math.max(1, s.workers ?? 1));
  const generator = Math.max(...generatorPlan(s, 'ours', s.stalled).map((g) => g.connections + (g.stalled ?? 0)));
  // ours-Nw kinds: WORKERS=N spreads the server's sockets too, but never below one worker's share (WORKERS=1).
  return Math.max(server, generator);
};
const maxConnections = Math.max(...scenarios.map((s) => s.connections + (s.stalled ?? 0)));
const files = openFilesLimit();
const needFiles = Math.max(...scenarios.map(perProcessFiles)) + 1024;
let nofile: number | null = null;
if (files.soft < needFiles) {
  if (files.hard >= needFiles && hasCommand('prlimit', [`--nofile=${files.hard}:${files.hard}`, 'true'])) {
    nofile = Number.isFinite(files.hard) ? files.hard : 1_048_576;
    setupNotes.push(`open-files limit raised to ${nofile} for the children (prlimit)`);
  } else {
    setupNotes.push(
      `**open-files limit ${files.soft} (hard ${files.hard}) is below ${needFiles}**: large scenarios will fail to open every connection (raise \`ulimit -n\`)`,
    );
  }
} else setupNotes.push(`open-files limit ${files.soft}`);

// Ephemeral ports are allocated per source address; spread large runs over 127.0.0.x.
const perAddress = Math.min(5000, Math.floor(ephemeralPorts() / 3));
const localAddresses = ['127.0.0.1'];
if (maxConnections > perAddress) {
  const wanted = Math.ceil(maxConnections / perAddress);
  if (await canBindLocal('127.0.0.2')) {
    for (let i = 2; i <= wanted; i++) localAddresses.push(`127.0.0.${i}`);
    setupNotes.push(`connections spread over ${localAddresses.length} source addresses (127.0.0.1–${wanted}), ${perAddress} each`);
  } else setupNotes.push(`**cannot bind 127.0.0.2**: all connections from 127.0.0.1 (${ephemeralPorts()} ephemeral ports)`);
}
if (!filtersAvailable)
  setupNotes.push('transaction filters (issue 4) not in schema.graphql: the transactions scenario runs unfiltered with 10 subscribers');
if (beforeRun) {
  const same = realpathSync(beforeRun.dir) === realpathSync(repoRoot);
  setupNotes.push(
    `**before** = our server at commit ${beforeRun.commit.replace(/\*$/, '')}${beforeRun.dirty ? ' with uncommitted changes in src/ (marked *)' : ''}: \`${beforeRun.dir}/src/main.ts\`, run from that checkout with its own node_modules, ` +
      `driven exactly like ours (same env, pinning, probe, clients)${same ? '; **it is this same checkout** (an A/A comparison)' : ''}`,
  );
  if (filtersAvailable && !schemaHasTransactionFilter(beforeRun.dir)) {
    setupNotes.push('**before has no transaction filters** in its schema.graphql: its filtered transaction scenarios will fail');
  }
}

// ── One server in one scenario ─────────────────────────────────────────────
const nodeBin = process.execPath;
const probeUrl = pathToFileURL(join(repoRoot, 'bench/probe/server-probe.ts')).href;
/**
 * Production profile, but every load comes from 127.0.0.x: per-IP connection
 * caps and rate limits (issue 6) are lifted, anonymous access is allowed.
 * Unknown keys are ignored by loadConfig, so these are safe before the limits exist.
 */
const BENCH_SERVER_ENV: Record<string, string> = {
  NODE_ENV: 'production',
  SOURCES: 'simulator',
  AUTH_ALLOW_ANONYMOUS: 'true',
  MAX_CONNECTIONS_PER_IP: '1000000',
  RATE_LIMIT_PER_IP: '1000000',
  RATE_LIMIT_BURST: '1000000',
};
setupNotes.push(
  `servers run with ${Object.entries(BENCH_SERVER_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')} MAX_CONNECTIONS=max(20000, 2N), LOG_LEVEL=warn (all load comes from 127.0.0.x)`,
);
const ENTRY: Record<'ours' | 'recipe' | 'floor', string> = {
  ours: 'src/main.ts',
  recipe: 'bench/baselines/recipe-server.ts',
  floor: 'bench/baselines/raw-ws-server.ts',
};
/**
 * What to run and from where. `before` runs the other checkout's src/main.ts
 * with that checkout as cwd, so `--import tsx` and every package resolve from
 * its own node_modules; the probe is this checkout's file, by absolute URL.
 * `ours-1w`, `ours-2w` run ours.
 */
function program(server: ServerKind): { entry: string; cwd: string } {
  const kind = programOf(server);
  if (kind !== 'before') return { entry: ENTRY[kind], cwd: repoRoot };
  if (!before) throw new Error('the before server needs --before <dir>');
  return { entry: join(before.dir, 'src/main.ts'), cwd: before.dir };
}

/**
 * Worker processes for this server in this scenario, and the env that asks for them. Ours is always told
 * (WORKERS=1 unless the scenario or the kind says more: in production its default is one per core).
 */
function workersEnv(scenario: Scenario, server: ServerKind): { workers: number; env: Record<string, string> } {
  const kind = programOf(server);
  const workers = workersOfKind(server) ?? scenario.workers ?? 1;
  if (kind === 'ours' || kind === 'before') return { workers, env: { WORKERS: String(workers) } };
  if (kind === 'floor') return { workers, env: workers > 1 ? { FLOOR_WORKERS: String(workers) } : {} };
  return { workers: 1, env: {} };
}

/** One load generator process of a run. */
interface GenSpec {
  /** Its place in the run (0-based). */
  index: number;
  /** The mix entry it drives (0 without a mix): entries ramp one after another. */
  phase: number;
  transport: Transport;
  /** The scenario as this generator's transport sees it (entryScenario). */
  entry: Scenario;
  connections: number;
  /** First connection number in the run's source-address plan. */
  indexOffset: number;
  checkpoints: number[];
  rampPerSec: number;
  /** The entry's first generator carries its observer (filtered scenarios) and any stalled connections. */
  first: boolean;
  stalled?: number;
  /** Several generators on one entry: each reports its groups' events so the merge is exact. */
  shipKeys: boolean;
}

/**
 * How a run's connections are spread over generator processes: per mix entry (or the one transport),
 * `generators` processes with an even share each, numbered consecutively for the source addresses.
 */
function generatorPlan(scenario: Scenario, _server: ServerKind, stalled: number | undefined): GenSpec[] {
  const entries = entriesOf(scenario);
  const total = scenario.generators ?? 1;
  const plan: GenSpec[] = [];
  let offset = 0;
  entries.forEach((e, phase) => {
    const entry = entryScenario(scenario, e);
    const wanted = e.generators ?? (scenario.mix ? Math.max(1, Math.round(total / entries.length)) : total);
    const k = Math.max(1, Math.min(wanted, e.connections));
    const checkpoints = scenario.mix ? (e.checkpoints ?? checkpointsFor(e.connections, quick)) : scenario.checkpoints;
    for (let j = 0; j < k; j++) {
      const n = Math.floor(e.connections / k) + (j < e.connections % k ? 1 : 0);
      const first = j === 0;
      const withStalled = first && phase === 0 && stalled !== undefined;
      plan.push({
        index: plan.length,
        phase,
        transport: e.transport,
        entry,
        connections: n,
        indexOffset: offset,
        checkpoints: checkpoints.map((c) => Math.min(n, Math.max(1, Math.round((c * n) / e.connections)))),
        rampPerSec: Math.max(1, scenario.rampPerSec / k),
        first,
        ...(withStalled ? { stalled } : {}),
        shipKeys: k > 1,
      });
      offset += n + (withStalled ? (stalled ?? 0) + 1 : 0) + 1;
    }
  });
  return plan;
}

/** A message from one of the run's generators. */
interface GenMessage {
  gen: number;
  message: FromGenerator | null;
}

/** Every generator's IPC messages in one queue, tagged with the generator's index (a null message: that generator exited). */
class Mailbox extends PullQueue<GenMessage> {
  constructor(children: Child[]) {
    super();
    children.forEach((child, gen) => {
      child.proc.on('message', (raw: unknown) => {
        if (isGenMessage(raw)) this.push({ gen, message: raw });
      });
      void child.exited.then(() => this.push({ gen, message: null }));
    });
  }
}

const isGenMessage = (m: unknown): m is FromGenerator =>
  typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';

const emptyMemory = (): RunResult['memory'] => ({
  baseRss: Number.NaN,
  baseHeap: Number.NaN,
  checkpoints: [],
  idleRssPerConn: Number.NaN,
  idleHeapPerConn: Number.NaN,
  loadedRss: Number.NaN,
  loadedRssPerConn: Number.NaN,
});

/** Bytes per connection: least-squares slope of `key` over the points (small runs: anchored at `base`, zero connections). */
function memorySlope(points: { x: number; rss: number; heap: number }[], key: 'rss' | 'heap', base: { rss: number; heap: number }): number {
  const usable = points.filter((p) => Number.isFinite(p[key]) && p.x > 0);
  // Small runs: a few hundred connections move RSS less than its noise, so anchor the fit at zero connections.
  if (usable.every((p) => p.x < 2000) && Number.isFinite(base[key])) usable.unshift({ x: 0, ...base });
  const fitted = linearSlope(usable.map((p) => ({ x: p.x, y: p[key] })));
  if (Number.isFinite(fitted)) return fitted;
  const last = usable.at(-1);
  return last && last.x > 0 ? (last[key] - base[key]) / last.x : Number.NaN;
}

/**
 * One server in one scenario: a fresh server process (tree) and its generators.
 * `stalled`: stalled connections for this run (scenarios with stalled
 * connections run once with them and once with 0); undefined elsewhere.
 */
async function runOne(scenario: Scenario, server: ServerKind, round: number, stalled: number | undefined): Promise<RunResult> {
  const started = Date.now();
  const memory = emptyMemory();
  const result: RunResult = {
    scenario: scenario.name,
    server,
    status: 'failed',
    memory,
    serverStats: null,
    cores: null,
    durationMs: 0,
    round,
    ...(stalled !== undefined ? { stalled } : {}),
  };
  const plan = generatorPlan(scenario, server, stalled);
  const drives = plan.map((g) => driveFor(g.entry, server));
  const skip = drives.find((d) => d.skip)?.skip;
  if (skip) return { ...result, status: 'skipped', reason: skip };
  const mixed = scenario.mix !== undefined;

  const port = await freePort();
  const idleMs = scenario.idleMs ?? scenario.measureMs;
  // Entries ramp one after another; the generators of one entry together.
  const phaseList = entriesOf(scenario).map((_, phase) => plan.filter((g) => g.phase === phase));
  const rampMs = phaseList.reduce(
    (a, gs) => a + Math.max(0, ...gs.map((g) => ((g.connections + (g.stalled ?? 0)) / g.rampPerSec) * 1000)),
    0,
  );
  const stalledWatchMs = scenario.stalledWatchMs ?? 15_000;
  const checkpointCount = phaseList.reduce((a, gs) => a + (gs[0]?.checkpoints.length ?? 0), 0);
  const genDeadlineMs =
    rampMs * 2 +
    checkpointCount * 15_000 +
    scenario.settleTimeoutMs * (stalled ? 2 : 1) +
    scenario.measureMs +
    scenario.graceMaxMs +
    (stalled ? stalledWatchMs : 0) +
    30_000 +
    (plan.length > 1 ? 15_000 : 0);
  // The idle CPU window comes before the generators start.
  const runDeadline = Date.now() + 30_000 + idleMs + genDeadlineMs + 15_000;

  const cores = pin ? coresFor(server, machine.nproc) : null;
  const { workers, env: workerEnv } = workersEnv(scenario, server);
  const hub = await ProbeHub.open();
  const { entry, cwd } = program(server);
  // A mix on the floor: each transport's sockets ask for their own projection (`?fields=`), one server env.
  const floorEnv = drives[0]?.env ?? {};
  const serverChild = spawnChild({
    name: server,
    cpu: cores ? cores.server.join(',') : null,
    nofile,
    argv: [nodeBin, '--expose-gc', '--import', 'tsx', '--import', probeUrl, entry],
    env: {
      ...process.env,
      ...BENCH_SERVER_ENV,
      MAX_CONNECTIONS: String(Math.max(20_000, 2 * (scenario.connections + (stalled ?? 0)))),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      METRICS_INTERVAL_MS: String(scenario.intervalMs),
      SIM_TPS: String(scenario.simTps),
      SHUTDOWN_TIMEOUT_MS: '1000',
      BENCH_PROBE_SOCKET: hub.path,
      ...floorEnv,
      ...workerEnv,
      ...serverEnv,
    },
    cwd,
  });
  const tree = new ProcessTree(serverChild.pid);
  // Started together: the generators load on their core while the server boots.
  const gens = plan.map((g) =>
    spawnChild({
      name: plan.length > 1 ? `generator ${g.index + 1}` : 'generator',
      cpu: cores ? cores.generator.join(',') : null,
      nofile,
      argv: [nodeBin, '--max-semi-space-size=32', '--import', 'tsx', 'bench/load/generator.ts'],
      env: { ...process.env, NODE_ENV: 'production' },
      cwd: repoRoot,
    }),
  );
  const mailbox = new Mailbox(gens);
  const probeTimeout = quick ? 3000 : 8000;
  const toGen = (gen: number, message: ToGenerator) => {
    const child = gens[gen];
    if (child && child.isAlive() && child.proc.connected) child.proc.send(message);
  };
  const toAll = (message: ToGenerator) => gens.forEach((_, i) => toGen(i, message));

  let measuring = false;
  let serverTrouble: string | null = null;
  const watchdog = setInterval(() => {
    if (!serverChild.isAlive()) {
      serverTrouble ??= `server exited during the run:\n${serverChild.tail().slice(-1500)}`;
      toAll({ type: 'abort', reason: 'server exited' });
      return;
    }
    const rss = tree.rss();
    if (measuring && !(rss <= memory.loadedRss)) memory.loadedRss = rss;
    if (rss > rssCap) {
      serverTrouble ??= `server RSS ${(rss / 2 ** 20).toFixed(0)} MB passed the cap (${(rssCap / 2 ** 20).toFixed(0)} MB); killed`;
      toAll({ type: 'abort', reason: 'server RSS cap' });
      void stopChild(serverChild, 0);
    }
  }, 500);

  const parts: (GeneratorResult | null)[] = plan.map(() => null);
  const state = plan.map(() => ({ hello: false, ramped: -1, settled: false, done: false, checkpoint: null as number | null, opened: 0 }));
  /** Memory points with the connections of each transport at that moment (a mix ramps one after the other). */
  const points: (MemoryPoint & { byTransport: Record<string, number> })[] = [];
  const openedBy = () => {
    const by: Record<string, number> = {};
    plan.forEach((g, i) => {
      const s = state[i];
      if (s) by[g.transport] = (by[g.transport] ?? 0) + s.opened;
    });
    return by;
  };

  /** Handles one message; returns false when the run must stop (a fatal error is thrown). */
  const handle = async (m: GenMessage, phase: number): Promise<void> => {
    const s = state[m.gen];
    const g = plan[m.gen];
    if (!s || !g) return;
    const message = m.message;
    if (message === null) {
      if (!s.done) throw new Error(`load generator ${m.gen + 1} exited without a result:\n${gens[m.gen]?.tail().slice(-1500) ?? ''}`);
      return;
    }
    switch (message.type) {
      case 'hello':
        s.hello = true;
        return;
      case 'progress':
        if (args.verbose) log(`    ${server}${plan.length > 1 ? ` gen ${m.gen + 1}` : ''}: ${message.text}`);
        return;
      case 'checkpoint': {
        s.checkpoint = message.connections;
        s.opened = message.connections;
        // Every generator of this phase at its checkpoint: one memory sample for them all.
        const phaseGens = plan.map((p, i) => ({ p, s: state[i] })).filter((x) => x.p.phase === phase && !x.s?.done);
        if (phaseGens.some((x) => x.s?.checkpoint === null)) return;
        await sleep(250);
        const sample = await hub.sample(true, probeTimeout);
        const byTransport = openedBy();
        const point = {
          connections: Object.values(byTransport).reduce((a, n) => a + n, 0),
          rss: tree.rss(true),
          heap: sample?.heapUsed ?? Number.NaN,
          byTransport,
        };
        points.push(point);
        memory.checkpoints.push(point);
        if (args.verbose)
          log(
            `    ${server}: checkpoint ${point.connections} conns${
              mixed
                ? ` (${Object.entries(byTransport)
                    .map(([t, n]) => `${t} ${n}`)
                    .join(', ')})`
                : ''
            }, RSS ${(point.rss / 2 ** 20).toFixed(1)} MB, heap ${(point.heap / 2 ** 20).toFixed(1)} MB${sample && sample.processes.length > 1 ? ` (${sample.processes.length} processes)` : ''}`,
          );
        for (const x of phaseGens) {
          if (x.s) x.s.checkpoint = null;
          toGen(x.p.index, { type: 'continue' });
        }
        return;
      }
      case 'ramped':
        s.ramped = message.connections;
        s.opened = message.connections;
        return;
      case 'settled':
        s.settled = true;
        return;
      case 'measure-start':
      case 'measure-end':
        return;
      case 'result':
        parts[m.gen] = message.result;
        s.done = true;
        if (message.result.aborted) {
          // One generator gave up: the others have nothing left to measure.
          toAll({ type: 'abort', reason: `generator ${m.gen + 1}: ${message.result.aborted}` });
        }
        return;
      case 'fatal':
        throw new Error(`load generator ${m.gen + 1} failed: ${message.error}`);
    }
  };
  /** Processes messages until `until()` holds (or every generator is done). */
  const pump = async (until: () => boolean, phase: number) => {
    for (let i = 0; i < 1_000_000 && !until(); i++) {
      const remaining = runDeadline - Date.now();
      if (remaining <= 0) throw new Error('run timed out');
      if (serverTrouble) throw new Error(serverTrouble);
      const m = await mailbox.next(Math.min(remaining, 1000));
      if (m) await handle(m, phase);
      if (state.every((s) => s.done)) return;
    }
  };

  try {
    await waitReady(port, serverChild, 30_000);
    await pump(() => state.every((s) => s.hello), 0);
    if (!state.every((s) => s.hello)) throw new Error(`load generator did not start:\n${gens[0]?.tail() ?? ''}`);
    // Workers answer /ready before the primary has seen them all listen: give a tree a moment to settle.
    if (workers > 1) {
      for (let i = 0; i < 50 && tree.pids(true).length < workers + 1; i++) await sleep(100);
      for (let i = 0; i < 50 && hub.processes < tree.pids(true).length; i++) await sleep(100);
    }
    // Two GCs apart: the first one after start-up still returns pages, which would read as negative per-connection RSS.
    await hub.sample(true, probeTimeout);
    await sleep(300);
    const base = await hub.sample(true, probeTimeout);
    memory.baseRss = tree.rss(true);
    memory.baseHeap = base?.heapUsed ?? Number.NaN;

    // Idle CPU: no connection yet (the server's ticker and simulator run, nobody listens); the whole tree.
    const idleFrom = { cpu: tree.cpu(), at: performance.now() };
    for (let waited = 0; waited < idleMs && serverChild.isAlive() && !serverTrouble; waited += 100) await sleep(100);
    if (!serverChild.isAlive() || serverTrouble) throw new Error(serverTrouble ?? 'server exited during the idle CPU window');
    const idle = treeCpuDelta(serverChild.pid, idleFrom.cpu, tree.cpu());
    result.cpu = {
      idleMs: idle.total,
      idleWallMs: performance.now() - idleFrom.at,
      windowMs: Number.NaN,
      windowWallMs: Number.NaN,
      rootIdleMs: idle.root,
      processes: idle.processes,
    };
    if (args.verbose)
      log(
        `    ${server}: idle CPU ${((result.cpu.idleMs / result.cpu.idleWallMs) * 100).toFixed(1)} % over ${(result.cpu.idleWallMs / 1000).toFixed(1)} s (${idle.processes} process${idle.processes === 1 ? '' : 'es'})`,
      );

    const configFor = (g: GenSpec): GeneratorConfig => {
      const drive = drives[g.index] as (typeof drives)[number];
      // A mix on the floor: this transport's projection travels in the path (?fields=), not in the server's env.
      const fields = mixed && programOf(server) === 'floor' ? drive.env['FLOOR_FIELDS'] : undefined;
      const path = fields ? `${drive.path}${drive.path.includes('?') ? '&' : '?'}fields=${fields}` : drive.path;
      return {
        kind: drive.kind,
        host: '127.0.0.1',
        port,
        path,
        stream: scenario.stream,
        ...(drive.query !== undefined ? { query: drive.query } : {}),
        groups: drive.groups,
        connections: g.connections,
        rampPerSec: g.rampPerSec,
        maxInflight: plan.length > 1 ? Math.max(50, Math.round(200 / plan.filter((p) => p.phase === g.phase).length)) : 200,
        checkpoints: g.checkpoints,
        settleTimeoutMs: scenario.settleTimeoutMs,
        measureMs: scenario.measureMs,
        quietMs: scenario.quietMs,
        graceMaxMs: scenario.graceMaxMs,
        localAddresses,
        perAddress,
        countSeqGaps: drive.countSeqGaps,
        ...(drive.observer && g.first ? { observer: drive.observer } : {}),
        ...(g.stalled !== undefined ? { stalled: g.stalled, stalledWatchMs, serverPid: serverChild.pid } : {}),
        deadlineMs: genDeadlineMs,
        indexOffset: g.indexOffset,
        sync: true,
        shipKeys: g.shipKeys,
        ...(scenario.distinctOperations ? { distinctOperations: true } : {}),
      };
    };

    // Ramp: one mix entry after another (all generators of an entry together).
    const phases = entriesOf(scenario).length;
    for (let phase = 0; phase < phases; phase++) {
      const mine = plan.filter((g) => g.phase === phase);
      for (const g of mine) toGen(g.index, { type: 'start', config: configFor(g) });
      await pump(() => mine.every((g) => (state[g.index]?.ramped ?? -1) >= 0 || state[g.index]?.done), phase);
    }
    await pump(() => state.every((s) => s.settled || s.done), phases - 1);
    if (state.some((s) => s.done && !s.settled)) throw new Error('a load generator stopped before measuring');

    // One window for every generator, from a moment they all know.
    const startAt = Date.now() + (quick ? 100 : 300);
    toAll({ type: 'measure', startAt });
    await sleep(Math.max(0, startAt - Date.now()));
    hub.resetLag();
    const coresStart = readCoreTimes();
    const cpuStart = { cpu: tree.cpu(), at: performance.now() };
    memory.loadedRss = tree.rss(true);
    measuring = true;
    for (let i = 0; i < 100_000 && Date.now() < startAt + scenario.measureMs; i++) {
      if (serverTrouble) throw new Error(serverTrouble);
      await sleep(Math.min(100, Math.max(1, startAt + scenario.measureMs - Date.now())));
    }
    measuring = false;
    const wallMs = performance.now() - cpuStart.at;
    const cpuEnd = tree.cpu();
    const window = treeCpuDelta(serverChild.pid, cpuStart.cpu, cpuEnd);
    if (result.cpu) {
      result.cpu.windowMs = window.total;
      result.cpu.windowWallMs = wallMs;
      result.cpu.rootWindowMs = window.root;
      result.cpu.processes = window.processes;
    }
    const coresEnd = readCoreTimes();
    const s = await hub.sample(false, probeTimeout);
    const sampled = s !== null && s.lag.samples > 0;
    result.serverStats = {
      cpuPct: (window.total / wallMs) * 100,
      lagP99Ms: sampled ? s.lag.p99Ms : Number.NaN,
      lagMaxMs: sampled ? s.lag.maxMs : Number.NaN,
      processes: window.processes,
      probes: s?.processes.length ?? 0,
      ...(s && s.processes.length > 1
        ? {
            byProcess: s.processes.map((p) => ({
              pid: p.pid ?? 0,
              worker: p.worker ?? false,
              cpuPct: (((cpuEnd.get(p.pid ?? 0) ?? Number.NaN) - (cpuStart.cpu.get(p.pid ?? 0) ?? 0)) / wallMs) * 100,
              lagP99Ms: p.lag.p99Ms,
              lagMaxMs: p.lag.maxMs,
              // How the connections spread over the workers (each process has its own open-file limit).
              sockets: countSockets(p.pid ?? 0),
            })),
          }
        : {}),
    };
    if (cores) {
      const busy = (list: number[]) => list.reduce((a, c) => a + coreBusyPct(coresStart, coresEnd, c), 0);
      result.cores = {
        server: busy(cores.server),
        generator: busy(cores.generator),
        serverCores: cores.server.join(','),
        generatorCores: cores.generator.join(','),
        shared: cores.shared,
      };
    }
    await pump(() => state.every((x) => x.done), phases - 1);
  } catch (error) {
    result.reason = error instanceof Error ? error.message : String(error);
  } finally {
    // A server that crashed explains everything the generators saw: report its output.
    if (!serverChild.isAlive() && !serverTrouble) {
      await serverChild.drained();
      serverTrouble = result.reason?.includes('exited before it was ready')
        ? result.reason
        : `server exited during the run:\n${serverChild.tail().slice(-1500)}`;
    }
    clearInterval(watchdog);
    // Nothing is left to measure: no graceful drain needed (it would only cost time).
    await Promise.all([...gens.map((g) => stopChild(g, 500)), stopChild(serverChild, 0)]);
    hub.close();
  }

  // Merge the generators: per transport, then the total.
  const byTransport: Record<string, GeneratorResult> = {};
  const got = plan.map((g, i) => ({ g, r: parts[i] })).filter((x): x is { g: GenSpec; r: GeneratorResult } => x.r !== null);
  if (got.length === plan.length && got.length > 0) {
    for (const t of [...new Set(plan.map((g) => g.transport))]) {
      const mine = got.filter((x) => x.g.transport === t);
      byTransport[t] = mergeParts(
        mine.map((x) => ({ transport: t, result: x.r })),
        drives[mine[0]?.g.index ?? 0]?.countSeqGaps ?? false,
      );
    }
    result.gen = mergeTransports(byTransport);
    if (mixed) result.parts = byTransport;
  } else if (got.length > 0) {
    // Some generator never reported: what the others saw, marked.
    result.gen = mergeTransports(
      Object.fromEntries(got.map((x) => [`${x.g.transport} ${x.g.index}`, mergeParts([{ transport: x.g.transport, result: x.r }], false)])),
    );
    result.reason ??= `${plan.length - got.length} of ${plan.length} load generators reported nothing`;
  }

  // Memory per connection: the whole ramp, and (a mix) each transport's part of it.
  const opened = result.gen?.connections.opened ?? 0;
  const baseMem = { rss: memory.baseRss, heap: memory.baseHeap };
  const all = points.map((p) => ({ x: p.connections, rss: p.rss, heap: p.heap }));
  memory.idleRssPerConn = memorySlope(all, 'rss', baseMem);
  memory.idleHeapPerConn = memorySlope(all, 'heap', baseMem);
  if (mixed) {
    memory.byTransport = {};
    let anchor = baseMem;
    const entries = entriesOf(scenario);
    entries.forEach((e, phase) => {
      // Points taken while this entry ramped (entries ramp in order: the later ones had not started).
      const phasePoints = points.filter(
        (p) => (p.byTransport[e.transport] ?? 0) > 0 && entries.slice(phase + 1).every((x) => (p.byTransport[x.transport] ?? 0) === 0),
      );
      const xy = phasePoints.map((p) => ({ x: p.byTransport[e.transport] ?? 0, rss: p.rss, heap: p.heap }));
      (memory.byTransport as NonNullable<typeof memory.byTransport>)[e.transport] = {
        idleRssPerConn: memorySlope(xy, 'rss', anchor),
        idleHeapPerConn: memorySlope(xy, 'heap', anchor),
        connections: e.connections,
      };
      const last = phasePoints.at(-1);
      if (last) anchor = { rss: last.rss, heap: last.heap };
    });
  }
  memory.loadedRssPerConn = opened > 0 ? (memory.loadedRss - memory.baseRss) / opened : Number.NaN;
  result.durationMs = Date.now() - started;

  // Verdict.
  const g = result.gen;
  const genLimit = GEN_CPU_LIMIT * (cores ? cores.generator.length : 1);
  if (serverTrouble) {
    result.status = 'failed';
    result.reason = serverTrouble;
  } else if (!g || got.length < plan.length) {
    result.status = 'failed';
    result.reason ??= 'no result';
  } else if (g.aborted) {
    result.status = 'failed';
    result.reason = g.aborted;
  } else if (g.connections.opened === 0) {
    result.status = 'failed';
    result.reason = 'no connection opened';
  } else if (g.generator.cpuPct >= genLimit || g.generator.lagP99Ms > maxGenLagMs) {
    result.status = 'invalid';
    const cause =
      g.generator.cpuPct >= genLimit
        ? `saturated generator${plan.length > 1 ? 's' : ''}`
        : 'generator core contended (low CPU, high lag: other processes?)';
    const procs = plan.length > 1 ? ` (${plan.length} processes, CPU summed, worst lag)` : '';
    result.reason = `${cause}: CPU ${g.generator.cpuPct.toFixed(0)} %, event-loop lag p99 ${g.generator.lagP99Ms.toFixed(1)} ms > ${maxGenLagMs} ms${procs}`;
  } else {
    result.status = 'ok';
  }
  return result;
}

function oneLine(run: RunResult): string {
  const variant = [rounds > 1 ? `r${run.round ?? 1}` : '', run.stalled !== undefined ? `stalled ${run.stalled}` : '']
    .filter(Boolean)
    .join(' ');
  const head = `  ${run.server.padEnd(7)} ${variant ? `${variant} ` : ''}${run.status.padEnd(7)}`;
  const d = derive(run);
  const secs = `(${(run.durationMs / 1000).toFixed(1)} s)`;
  const detail = (reason: string) => {
    const lines = reason.split('\n').filter((l) => l.trim());
    return [
      lines[0] ?? '',
      ...lines
        .slice(1)
        .slice(-8)
        .map((l) => `         | ${l}`),
    ].join('\n');
  };
  if (!d || run.status === 'failed') return `${head} ${detail(run.reason ?? '')} ${secs}`;
  const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
  const st = run.gen?.stalled;
  const stalledText =
    st && st.target > 0
      ? `, stalled ${st.stalled}/${st.target} closed ${st.closedByServer}` +
        (st.closedByServer > 0
          ? ` after ${f(st.closedAfterMs[Math.floor((st.closedAfterMs.length - 1) / 2)] ?? Number.NaN, 0)}–${f(st.closedAfterMs.at(-1) ?? Number.NaN, 0)} ms`
          : '')
      : '';
  const ended = d.endedByServer > 0 ? `, ${d.endedByServer} closed by server (${Object.keys(d.endReasons)[0] ?? ''})` : '';
  return (
    `${head} ${d.open}/${d.target} p50 ${f(d.p50)} p99 ${f(d.p99)} p99.9 ${f(d.p999)} max ${f(d.max)} ms, makespan p99 ${f(d.makespanP99)} ms, ` +
    `${f(d.msgsPerSec, 0)} msg/s, loss ${d.lossCount}${ended}${stalledText}, RSS/conn ${f(d.idleRssKb)} KB idle, ` +
    `srv cpu ${f(d.serverCpu, 0)}% (idle ${f(d.idleCpuPct)}%) ${f(d.cpuPerMsgUs, 2)} µs/msg lag p99 ${f(d.serverLagP99)} ms, ` +
    `gen cpu ${f(d.genCpu, 0)}% ${f(d.genCpuPerMsgUs, 2)} µs/msg lag p99 ${f(d.genLagP99)} ms` +
    (d.generators > 1 ? ` (${d.generators} generators, max ${f(d.genCpuMax, 0)}% each)` : '') +
    (d.serverProcesses > 1
      ? `, server ${d.serverProcesses} processes (primary ${f(d.primaryCpu, 0)}%, probes ${d.serverProbes}; workers cpu%/sockets ${(
          run.serverStats?.byProcess ?? []
        )
          .filter((p) => p.worker)
          .map((p) => `${f(p.cpuPct, 0)}/${f(p.sockets ?? Number.NaN, 0)}`)
          .join(' ')})`
      : '') +
    ` ${secs}` +
    (run.parts
      ? Object.entries(run.parts)
          .map(([t, gen]) => {
            const p = derive({ ...run, gen });
            const rss = run.memory.byTransport?.[t]?.idleRssPerConn;
            return p
              ? `\n           ${t.padEnd(10)} ${p.open}/${p.target} p50 ${f(p.p50)} p99 ${f(p.p99)} ms, ${f(p.msgsPerSec, 0)} msg/s, loss ${p.lossCount}, RSS/conn ${f((rss ?? Number.NaN) / 1024)} KB idle`
              : '';
          })
          .join('')
      : '') +
    (run.status !== 'ok' && run.reason ? `\n         ${run.reason.split('\n')[0]}` : '')
  );
}

// ── Main ───────────────────────────────────────────────────────────────────
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
log(`${command}: ${scenarios.length} scenario(s), ${rounds} round(s) each, on ${machine.nproc} cores, Node ${machine.node}`);
for (const note of setupNotes) log(`  ${note}`);

const begun = Date.now();
const results = new Map<string, RunResult[]>();
/** Interleaved: floor, before, ours, recipe, then again; a stalled scenario alternates which of its two variants goes first. */
const ORDER: readonly ServerKind[] = RUN_ORDER;
for (const scenario of scenarios) {
  log(`\n▶ ${scenario.name}: ${describe(scenario)}`);
  const runs: RunResult[] = [];
  const servers = ORDER.filter((s) => scenario.servers.includes(s) && serverFilter.includes(s));
  // Quick: the stalled check only (its 2 s window cannot say anything about p99 with ÷ without).
  const variants: (number | undefined)[] = scenario.stalled ? (quick ? [scenario.stalled] : [scenario.stalled, 0]) : [undefined];
  for (let round = 1; round <= rounds; round++) {
    for (const server of servers) {
      for (const stalled of round % 2 === 1 ? variants : [...variants].reverse()) {
        if (quick && Date.now() - begun > QUICK_BUDGET_MS) {
          runs.push({
            scenario: scenario.name,
            server,
            status: 'skipped',
            reason: 'quick time budget used up',
            memory: {
              baseRss: NaN,
              baseHeap: NaN,
              checkpoints: [],
              idleRssPerConn: NaN,
              idleHeapPerConn: NaN,
              loadedRss: NaN,
              loadedRssPerConn: NaN,
            },
            serverStats: null,
            cores: null,
            durationMs: 0,
            round,
            ...(stalled !== undefined ? { stalled } : {}),
          });
          log(`  ${server.padEnd(6)} skipped (quick time budget used up)`);
          continue;
        }
        // A server that cannot take part (e.g. no legacy endpoint) is reported once, not every round.
        const skip = driveFor(scenario, server).skip;
        if (skip && round > 1) continue;
        const run = await runOne(scenario, server, round, stalled);
        runs.push(run);
        log(oneLine(run));
      }
    }
  }
  results.set(scenario.name, runs);
  const table = scenarioTable(scenario, runs, { ...(beforeRun ? { before: beforeRun } : {}) });
  console.log(`\n${table}`);
}

// ── Write results ──────────────────────────────────────────────────────────
const full =
  !quick &&
  (args.scenario ?? []).length === 0 &&
  !args.servers &&
  !connectionsOverride &&
  !measureOverride &&
  !stalledOverride &&
  !simTpsOverride &&
  !workersOverride &&
  !generatorsOverride &&
  rounds >= DEFAULT_ROUNDS;
const resultsDir = join(repoRoot, 'bench/results');
mkdirSync(resultsDir, { recursive: true });
const stamp = machine.date.replace(/[:.]/g, '-');
const record: RunRecord = {
  command,
  machine,
  setupNotes,
  quick,
  full,
  rounds,
  ...(beforeRun ? { before: beforeRun } : {}),
  scenarios,
  results: Object.fromEntries(results),
};
const jsonPath = join(resultsDir, `${quick ? 'quick' : 'run'}-${stamp}.json`);
writeFileSync(jsonPath, JSON.stringify(record, null, 2));
const markdown = renderMarkdown(record);
const target = args.out
  ? resolve(process.cwd(), args.out)
  : full
    ? join(repoRoot, 'BENCHMARKS.md')
    : join(resultsDir, quick ? 'quick.md' : 'partial.md');
// Sections other benchmarks wrote into BENCHMARKS.md (bench:encoding's binary-frames table) survive this rewrite.
writeFileSync(target, existsSync(target) ? keepSections(readFileSync(target, 'utf8'), markdown) : markdown);
log(
  `\nwrote ${target.replace(`${repoRoot}/`, '')} (raw: ${jsonPath.replace(`${repoRoot}/`, '')}) in ${((Date.now() - begun) / 1000).toFixed(0)} s`,
);

/**
 * `npm run bench [-- options]`: the benchmark orchestrator (issue 5).
 *
 * For every scenario and every server (ours, the yoga+graphql-ws recipe, the
 * raw-ws floor, and with --before our server from another checkout) it starts
 * the server pinned to core 0 and the load generator pinned to core 1, waits
 * for /ready, measures the server's idle CPU, lets the generator ramp and
 * measure, samples the server's memory/CPU/lag, kills both, and prints a table
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
import { Inbox, killAllNow, spawnChild, stopChild, type Child } from './lib/children.ts';
import type { FromGenerator, FromProbe, GeneratorConfig, ProbeSample, ToGenerator, ToProbe } from './lib/protocol.ts';
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
  readCoreTimes,
  readCpuMs,
  readRss,
  waitReady,
} from './lib/system.ts';
import {
  buildScenarios,
  describe,
  driveFor,
  pickScenarios,
  RUN_ORDER,
  schemaHasTransactionFilter,
  SERVER_KINDS,
  type Scenario,
  type ServerKind,
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
else setupNotes.push('server pinned to core 0, load generator to core 1 (taskset)');

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
for (const s of scenarios) {
  if (connectionsOverride) {
    s.connections = Math.round(connectionsOverride);
    s.checkpoints = [Math.round(s.connections / 2), s.connections];
  }
  if (measureOverride) s.measureMs = measureOverride * 1000;
  if (stalledOverride && s.stalled) s.stalled = Math.round(stalledOverride);
}

const maxConnections = Math.max(...scenarios.map((s) => s.connections));
const files = openFilesLimit();
const needFiles = maxConnections + 1024;
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
const ENTRY: Record<Exclude<ServerKind, 'before'>, string> = {
  ours: 'src/main.ts',
  recipe: 'bench/baselines/recipe-server.ts',
  floor: 'bench/baselines/raw-ws-server.ts',
};
/**
 * What to run and from where. `before` runs the other checkout's src/main.ts
 * with that checkout as cwd, so `--import tsx` and every package resolve from
 * its own node_modules; the probe is this checkout's file, by absolute URL.
 */
function program(server: ServerKind): { entry: string; cwd: string } {
  if (server !== 'before') return { entry: ENTRY[server], cwd: repoRoot };
  if (!before) throw new Error('the before server needs --before <dir>');
  return { entry: join(before.dir, 'src/main.ts'), cwd: before.dir };
}

function probeClient(child: Child) {
  let nextId = 1;
  const waiting = new Map<number, (s: ProbeSample | null) => void>();
  child.proc.on('message', (raw: unknown) => {
    const message = raw as FromProbe;
    if (message?.type !== 'probe:sample') return;
    waiting.get(message.id)?.(message.sample);
    waiting.delete(message.id);
  });
  const send = (message: ToProbe) => {
    if (child.isAlive() && child.proc.connected) child.proc.send(message);
  };
  return {
    resetLag: () => send({ type: 'probe:reset-lag' }),
    sample(gc: boolean, timeoutMs = quick ? 3000 : 8000): Promise<ProbeSample | null> {
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve(null);
        }, timeoutMs);
        timer.unref();
        waiting.set(id, (s) => {
          clearTimeout(timer);
          resolve(s);
        });
        send({ type: 'probe:sample', id, gc });
      });
    },
  };
}

const isGenMessage = (m: unknown): m is FromGenerator =>
  typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';

/**
 * One server in one scenario: a fresh server process and generator.
 * `stalled`: stalled connections for this run (scenarios with stalled
 * connections run once with them and once with 0); undefined elsewhere.
 */
async function runOne(scenario: Scenario, server: ServerKind, round: number, stalled: number | undefined): Promise<RunResult> {
  const started = Date.now();
  const memory: RunResult['memory'] = {
    baseRss: Number.NaN,
    baseHeap: Number.NaN,
    checkpoints: [],
    idleRssPerConn: Number.NaN,
    idleHeapPerConn: Number.NaN,
    loadedRss: Number.NaN,
    loadedRssPerConn: Number.NaN,
  };
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
  const drive = driveFor(scenario, server);
  if (drive.skip) return { ...result, status: 'skipped', reason: drive.skip };

  const port = await freePort();
  const rampMs = ((scenario.connections + (stalled ?? 0)) / scenario.rampPerSec) * 1000;
  const stalledWatchMs = scenario.stalledWatchMs ?? 15_000;
  const genDeadlineMs =
    rampMs * 2 +
    scenario.checkpoints.length * 15_000 +
    scenario.settleTimeoutMs * (stalled ? 2 : 1) +
    scenario.measureMs +
    scenario.graceMaxMs +
    (stalled ? stalledWatchMs : 0) +
    30_000;
  // The idle CPU window (as long as the measurement window) comes before the generator starts.
  const runDeadline = Date.now() + 30_000 + scenario.measureMs + genDeadlineMs + 15_000;

  const { entry, cwd } = program(server);
  const serverChild = spawnChild({
    name: server,
    cpu: pin ? 0 : null,
    nofile,
    argv: [nodeBin, '--expose-gc', '--import', 'tsx', '--import', probeUrl, entry],
    env: {
      ...process.env,
      ...BENCH_SERVER_ENV,
      MAX_CONNECTIONS: String(Math.max(20_000, 2 * scenario.connections)),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      METRICS_INTERVAL_MS: String(scenario.intervalMs),
      SIM_TPS: String(scenario.simTps),
      SHUTDOWN_TIMEOUT_MS: '1000',
      ...drive.env,
      ...serverEnv,
    },
    cwd,
  });
  // Started together: the generator loads on its own core while the server boots.
  const genChild = spawnChild({
    name: 'generator',
    cpu: pin ? 1 : null,
    nofile,
    argv: [nodeBin, '--max-semi-space-size=32', '--import', 'tsx', 'bench/load/generator.ts'],
    env: { ...process.env, NODE_ENV: 'production' },
    cwd: repoRoot,
  });
  const inbox = new Inbox<FromGenerator>(genChild, isGenMessage);
  const probe = probeClient(serverChild);
  const toGen = (message: ToGenerator) => {
    if (genChild.isAlive() && genChild.proc.connected) genChild.proc.send(message);
  };

  let measuring = false;
  let serverTrouble: string | null = null;
  const watchdog = setInterval(() => {
    if (!serverChild.isAlive()) {
      serverTrouble ??= `server exited during the run:\n${serverChild.tail().slice(-1500)}`;
      toGen({ type: 'abort', reason: 'server exited' });
      return;
    }
    const rss = readRss(serverChild.pid);
    if (measuring && !(rss <= memory.loadedRss)) memory.loadedRss = rss;
    if (rss > rssCap) {
      serverTrouble ??= `server RSS ${(rss / 2 ** 20).toFixed(0)} MB passed the cap (${(rssCap / 2 ** 20).toFixed(0)} MB); killed`;
      toGen({ type: 'abort', reason: 'server RSS cap' });
      void stopChild(serverChild, 0);
    }
  }, 500);

  try {
    const hello = inbox.next(30_000);
    await waitReady(port, serverChild, 30_000);
    const first = await hello;
    if (first?.type !== 'hello') throw new Error(`load generator did not start:\n${genChild.tail()}`);
    // Two GCs apart: the first one after start-up still returns pages, which would read as negative per-connection RSS.
    await probe.sample(true);
    await sleep(300);
    const base = await probe.sample(true);
    memory.baseRss = readRss(serverChild.pid);
    memory.baseHeap = base?.heapUsed ?? Number.NaN;

    // Idle CPU: as long as the measurement window, no connection yet (the server's ticker and simulator run, nobody listens).
    const idleFrom = { ms: readCpuMs(serverChild.pid), at: performance.now() };
    for (let waited = 0; waited < scenario.measureMs && serverChild.isAlive() && !serverTrouble; waited += 100) await sleep(100);
    if (!serverChild.isAlive() || serverTrouble) throw new Error(serverTrouble ?? 'server exited during the idle CPU window');
    result.cpu = {
      idleMs: readCpuMs(serverChild.pid) - idleFrom.ms,
      idleWallMs: performance.now() - idleFrom.at,
      windowMs: Number.NaN,
      windowWallMs: Number.NaN,
    };
    if (args.verbose)
      log(
        `    ${server}: idle CPU ${((result.cpu.idleMs / result.cpu.idleWallMs) * 100).toFixed(1)} % over ${(result.cpu.idleWallMs / 1000).toFixed(1)} s`,
      );

    const config: GeneratorConfig = {
      kind: drive.kind,
      host: '127.0.0.1',
      port,
      path: drive.path,
      stream: scenario.stream,
      ...(drive.query !== undefined ? { query: drive.query } : {}),
      groups: drive.groups,
      connections: scenario.connections,
      rampPerSec: scenario.rampPerSec,
      maxInflight: 200,
      checkpoints: scenario.checkpoints,
      settleTimeoutMs: scenario.settleTimeoutMs,
      measureMs: scenario.measureMs,
      quietMs: scenario.quietMs,
      graceMaxMs: scenario.graceMaxMs,
      localAddresses,
      perAddress,
      countSeqGaps: drive.countSeqGaps,
      ...(drive.observer ? { observer: drive.observer } : {}),
      ...(stalled !== undefined ? { stalled, stalledWatchMs, serverPid: serverChild.pid } : {}),
      deadlineMs: genDeadlineMs,
    };
    toGen({ type: 'start', config });

    let cpuStart: { ms: number; at: number } | null = null;
    let coresStart: ReturnType<typeof readCoreTimes> | null = null;
    for (let i = 0; i < 100_000; i++) {
      const remaining = runDeadline - Date.now();
      if (remaining <= 0) throw new Error('run timed out');
      const message = await inbox.next(Math.min(remaining, 60_000));
      if (!message) {
        if (!genChild.isAlive()) throw new Error(`load generator exited without a result:\n${genChild.tail().slice(-1500)}`);
        continue;
      }
      if (message.type === 'progress') {
        if (args.verbose) log(`    ${server}: ${message.text}`);
      } else if (message.type === 'checkpoint') {
        await sleep(250);
        const s = await probe.sample(true);
        const point: MemoryPoint = { connections: message.connections, rss: readRss(serverChild.pid), heap: s?.heapUsed ?? Number.NaN };
        memory.checkpoints.push(point);
        if (args.verbose)
          log(
            `    ${server}: checkpoint ${point.connections} conns, RSS ${(point.rss / 2 ** 20).toFixed(1)} MB, heap ${(point.heap / 2 ** 20).toFixed(1)} MB`,
          );
        toGen({ type: 'continue' });
      } else if (message.type === 'measure-start') {
        probe.resetLag();
        coresStart = readCoreTimes();
        cpuStart = { ms: readCpuMs(serverChild.pid), at: performance.now() };
        memory.loadedRss = readRss(serverChild.pid);
        measuring = true;
      } else if (message.type === 'measure-end') {
        measuring = false;
        if (coresStart && pin) {
          const now = readCoreTimes();
          result.cores = { server: coreBusyPct(coresStart, now, 0), generator: coreBusyPct(coresStart, now, 1) };
        }
        const cpuMs = readCpuMs(serverChild.pid);
        const wallMs = cpuStart ? performance.now() - cpuStart.at : Number.NaN;
        if (result.cpu && cpuStart) {
          result.cpu.windowMs = cpuMs - cpuStart.ms;
          result.cpu.windowWallMs = wallMs;
        }
        const s = await probe.sample(false);
        if (s && cpuStart) {
          const sampled = s.lag.samples > 0;
          result.serverStats = {
            cpuPct: ((cpuMs - cpuStart.ms) / wallMs) * 100,
            lagP99Ms: sampled ? s.lag.p99Ms : Number.NaN,
            lagMaxMs: sampled ? s.lag.maxMs : Number.NaN,
          };
        }
      } else if (message.type === 'result') {
        result.gen = message.result;
        break;
      } else if (message.type === 'fatal') {
        throw new Error(`load generator failed: ${message.error}`);
      }
    }
  } catch (error) {
    result.reason = error instanceof Error ? error.message : String(error);
  } finally {
    // A server that crashed explains everything the generator saw: report its output.
    if (!serverChild.isAlive() && !serverTrouble) {
      await serverChild.drained();
      serverTrouble = result.reason?.includes('exited before it was ready')
        ? result.reason
        : `server exited during the run:\n${serverChild.tail().slice(-1500)}`;
    }
    clearInterval(watchdog);
    // Nothing is left to measure: no graceful drain needed (it would only cost time).
    await Promise.all([stopChild(genChild, 500), stopChild(serverChild, 0)]);
  }

  // Memory per connection.
  const points = memory.checkpoints.filter((p) => Number.isFinite(p.rss));
  const opened = result.gen?.connections.opened ?? 0;
  const slope = (key: 'rss' | 'heap', base: number) => {
    const usable = points.filter((p) => Number.isFinite(p[key]) && p.connections > 0);
    // Small runs: a few hundred connections move RSS less than its noise, so anchor the fit at zero connections.
    if (usable.every((p) => p.connections < 2000) && Number.isFinite(base)) usable.unshift({ connections: 0, rss: base, heap: base });
    const fitted = linearSlope(usable.map((p) => ({ x: p.connections, y: p[key] })));
    if (Number.isFinite(fitted)) return fitted;
    const last = usable.at(-1);
    return last ? (last[key] - base) / last.connections : Number.NaN;
  };
  memory.idleRssPerConn = slope('rss', memory.baseRss);
  memory.idleHeapPerConn = slope('heap', memory.baseHeap);
  memory.loadedRssPerConn = opened > 0 ? (memory.loadedRss - memory.baseRss) / opened : Number.NaN;
  result.durationMs = Date.now() - started;

  // Verdict.
  const g = result.gen;
  if (serverTrouble) {
    result.status = 'failed';
    result.reason = serverTrouble;
  } else if (!g) {
    result.status = 'failed';
    result.reason ??= 'no result';
  } else if (g.aborted) {
    result.status = 'failed';
    result.reason = g.aborted;
  } else if (g.connections.opened === 0) {
    result.status = 'failed';
    result.reason = 'no connection opened';
  } else if (g.generator.cpuPct >= GEN_CPU_LIMIT || g.generator.lagP99Ms > maxGenLagMs) {
    result.status = 'invalid';
    const cause =
      g.generator.cpuPct >= GEN_CPU_LIMIT ? 'saturated generator' : 'generator core contended (low CPU, high lag: other processes?)';
    result.reason = `${cause}: CPU ${g.generator.cpuPct.toFixed(0)} %, event-loop lag p99 ${g.generator.lagP99Ms.toFixed(1)} ms > ${maxGenLagMs} ms`;
  } else {
    result.status = 'ok';
  }
  return result;
}

function oneLine(run: RunResult): string {
  const variant = [rounds > 1 ? `r${run.round ?? 1}` : '', run.stalled !== undefined ? `stalled ${run.stalled}` : '']
    .filter(Boolean)
    .join(' ');
  const head = `  ${run.server.padEnd(6)} ${variant ? `${variant} ` : ''}${run.status.padEnd(7)}`;
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
    `gen cpu ${f(d.genCpu, 0)}% ${f(d.genCpuPerMsgUs, 2)} µs/msg lag p99 ${f(d.genLagP99)} ms ${secs}` +
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

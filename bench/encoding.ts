/**
 * `npm run bench:encoding` — what binary legacy frames save and cost:
 * `/ws/<stream>` as JSON text (the original platform's frames) against
 * `?encoding=msgpack`, each with permessage-deflate off and on (on: every
 * frame compressed, WS_DEFLATE_THRESHOLD_BYTES=0, the client offering it).
 *
 * Per variant, on a fresh server pinned to core 0 with the client (its own
 * process, bench/load/encoding-client.ts) on core 1:
 * - bytes per event of every stream: the frame payload and what crossed the
 *   socket (TCP bytes read, WebSocket framing and compression included), from
 *   `?replay=` of the retained history, averaged over up to 200 events;
 * - server CPU per delivered message: `transactions` to CONNECTIONS readers
 *   at SIM_TPS, server CPU time (/proc, user + system) over the window ÷
 *   messages the readers received.
 * Variants run in interleaved rounds (default 3) so machine drift hits each
 * alike; the table shows the median round. Writes bench/results/encoding.md and
 * the "Binary frames" section of BENCHMARKS.md (kept by full `npm run bench` runs).
 *
 * Options: --rounds N, --connections N, --measure <s>, --tps N.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Inbox, killAllNow, spawnChild, stopChild } from './lib/children.ts';
import { replaceSection } from './lib/sections.ts';
import { freePort, machineInfo, readCpuMs, waitReady } from './lib/system.ts';
import type { ClientReport, ClientRequest } from './load/encoding-client.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '25' },
    measure: { type: 'string', default: '15' },
    tps: { type: 'string', default: '200' },
  },
});
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const MEASURE_MS = Number(values.measure) * 1000;
const SIM_TPS = Number(values.tps);
const STREAMS = ['metrics', 'transactions', 'validators', 'consensus', 'network', 'blocks'] as const;

interface Variant {
  name: string;
  encoding: 'json' | 'msgpack';
  deflate: boolean;
}
const VARIANTS: Variant[] = [
  { name: 'JSON', encoding: 'json', deflate: false },
  { name: 'MessagePack', encoding: 'msgpack', deflate: false },
  { name: 'JSON + deflate', encoding: 'json', deflate: true },
  { name: 'MessagePack + deflate', encoding: 'msgpack', deflate: true },
];

interface RoundResult {
  variant: string;
  sizes: ClientReport['sizes'];
  messages: number;
  serverCpuMs: number;
  cpuUsPerMessage: number;
}

process.on('exit', killAllNow);
process.on('SIGINT', () => process.exit(130));

async function runVariant(variant: Variant): Promise<RoundResult> {
  const port = await freePort();
  const server = spawnChild({
    name: `server (${variant.name})`,
    cpu: 0,
    nofile: 20_000,
    argv: [process.execPath, '--import', 'tsx', 'src/main.ts'],
    cwd: repoRoot,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SOURCES: 'simulator',
      SIM_TPS: String(SIM_TPS),
      AUTH_ALLOW_ANONYMOUS: 'true',
      MAX_CONNECTIONS_PER_IP: '100000',
      RATE_LIMIT_PER_IP: '100000',
      RATE_LIMIT_BURST: '100000',
      WS_PERMESSAGE_DEFLATE: String(variant.deflate),
      WS_DEFLATE_THRESHOLD_BYTES: '0',
      // One process: CPU is read from the spawned pid (production would default to one worker per core).
      WORKERS: '1',
    },
  });
  const client = spawnChild({
    name: 'encoding client',
    cpu: 1,
    nofile: 20_000,
    argv: [process.execPath, '--import', 'tsx', 'bench/load/encoding-client.ts'],
    cwd: repoRoot,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  try {
    await waitReady(port, server, 60_000);
    // Let the chain fill its history (replay for the size table) and the server warm up.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const inbox = new Inbox<ClientReport | { type: 'live' }>(
      client,
      (m): m is ClientReport | { type: 'live' } => typeof m === 'object' && m !== null && 'type' in m,
    );
    const request: ClientRequest = {
      type: 'start',
      port,
      encoding: variant.encoding,
      deflate: variant.deflate,
      connections: CONNECTIONS,
      streams: [...STREAMS],
    };
    client.proc.send(request);
    const live = await inbox.next(60_000);
    if (live?.type !== 'live') throw new Error(`client did not connect:\n${client.tail()}`);
    const cpuBefore = readCpuMs(server.pid);
    client.proc.send({ type: 'measure', ms: MEASURE_MS });
    const report = await inbox.next(MEASURE_MS + 60_000);
    const cpuAfter = readCpuMs(server.pid);
    if (report?.type !== 'report') throw new Error(`client gave no report:\n${client.tail()}`);
    const serverCpuMs = cpuAfter - cpuBefore;
    return {
      variant: variant.name,
      sizes: report.sizes,
      messages: report.messages,
      serverCpuMs,
      cpuUsPerMessage: (serverCpuMs * 1000) / Math.max(1, report.messages),
    };
  } finally {
    await stopChild(client);
    await stopChild(server);
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
};

const results = new Map<string, RoundResult[]>();
for (let round = 1; round <= ROUNDS; round++) {
  for (const variant of VARIANTS) {
    process.stdout.write(`round ${round}/${ROUNDS} ${variant.name}… `);
    const result = await runVariant(variant);
    results.set(variant.name, [...(results.get(variant.name) ?? []), result]);
    console.log(`${result.messages} messages, ${result.cpuUsPerMessage.toFixed(2)} µs server CPU per message`);
  }
}

const machine = machineInfo(repoRoot);
const command = `npm run bench:encoding -- --rounds ${ROUNDS} --connections ${CONNECTIONS} --measure ${MEASURE_MS / 1000} --tps ${SIM_TPS}`;
const jsonOf = (name: string, stream: string) => {
  const runs = results.get(name) ?? [];
  return {
    payload: median(runs.map((r) => r.sizes[stream]?.payload ?? Number.NaN)),
    wire: median(runs.map((r) => r.sizes[stream]?.wire ?? Number.NaN)),
  };
};
const json = (stream: string) => jsonOf('JSON', stream);
const pct = (value: number, base: number) => {
  const change = Math.round((value / base - 1) * 100);
  return change === 0 ? '±0 %' : `${change > 0 ? '+' : '−'}${Math.abs(change)} %`;
};

const lines: string[] = [];
lines.push('## Binary frames: JSON vs MessagePack on `/ws/<stream>`', '');
lines.push(
  `\`${command}\` — ${new Date().toISOString().slice(0, 10)}, ${machine.cpuModel} (${machine.nproc} cores), Node ${process.version}, commit ${machine.commit}. ` +
    `Server pinned to core 0, client to core 1; a fresh server per variant, ${ROUNDS} interleaved rounds, median shown. ` +
    '"+ deflate": permessage-deflate negotiated and every frame compressed (`WS_PERMESSAGE_DEFLATE=true WS_DEFLATE_THRESHOLD_BYTES=0`).',
  '',
);
lines.push(
  '**Bytes per event** — payload (the frame’s content) / on the wire (TCP bytes the client read: WebSocket framing and compression included):',
  '',
);
lines.push(`| stream | ${VARIANTS.map((v) => v.name).join(' | ')} |`, `|---|${VARIANTS.map(() => '---|').join('')}`);
for (const stream of STREAMS) {
  const base = json(stream);
  const cells = VARIANTS.map((v) => {
    const { payload, wire } = jsonOf(v.name, stream);
    if (!Number.isFinite(wire)) return 'no events retained';
    const saving = v.name === 'JSON' ? '' : ` (${pct(wire, base.wire)})`;
    return `${payload.toFixed(0)} / ${wire.toFixed(0)}${saving}`;
  });
  lines.push(`| \`${stream}\` | ${cells.join(' | ')} |`);
}
lines.push(
  '',
  `**Server CPU per delivered message** — \`transactions\` to ${CONNECTIONS} readers at SIM_TPS=${SIM_TPS} (≈ ${(2 * SIM_TPS * CONNECTIONS).toLocaleString('en-US')} messages/s), ${MEASURE_MS / 1000} s window. ` +
    "The server's own work (the simulator, the ticker) is spread over the messages too, the same in every variant:",
  '',
);
lines.push('| variant | µs CPU / message (median) | rounds | messages (median) |', '|---|---|---|---|');
const baseCpu = median((results.get('JSON') ?? []).map((r) => r.cpuUsPerMessage));
for (const variant of VARIANTS) {
  const runs = results.get(variant.name) ?? [];
  const cpu = median(runs.map((r) => r.cpuUsPerMessage));
  lines.push(
    `| ${variant.name} | **${cpu.toFixed(2)}**${variant.name === 'JSON' ? '' : ` (${pct(cpu, baseCpu)})`} | ${runs.map((r) => r.cpuUsPerMessage.toFixed(2)).join(', ')} | ${median(runs.map((r) => r.messages)).toLocaleString('en-US')} |`,
  );
}
lines.push('');
const section = lines.join('\n');

mkdirSync(join(repoRoot, 'bench/results'), { recursive: true });
writeFileSync(join(repoRoot, 'bench/results/encoding.md'), `${section}\n`);
const benchmarks = join(repoRoot, 'BENCHMARKS.md');
const current = existsSync(benchmarks) ? readFileSync(benchmarks, 'utf8') : '# Benchmarks\n';
writeFileSync(benchmarks, replaceSection(current, 'binary-frames', section));
console.log(`\n${section}\nwritten to bench/results/encoding.md and BENCHMARKS.md`);
process.exit(0);

/**
 * The load generator: one process (pinned to its own core by bench/run.ts),
 * driven over IPC. It opens N connections at a fixed ramp rate, pauses at
 * checkpoints so the orchestrator can sample server memory, waits until every
 * connection delivers, then measures for a fixed window and reports:
 * latency (receive time − event timestamp), per-event makespan, delivered
 * msgs/s, loss, and its own CPU and event-loop lag (a saturated generator
 * invalidates the run). Every loop is bounded by a count and a deadline.
 */
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Histogram } from '../lib/histogram.ts';
import type { FromGenerator, GeneratorConfig, GeneratorResult, ToGenerator } from '../lib/protocol.ts';
import { extractFromBuffer, extractFromString } from './extract.ts';

const SAMPLE_EVERY = 1009; // fully JSON.parse roughly one frame in a thousand, to catch wrong payloads
const EARLY_FAILURES = 20;

interface Conn {
  index: number;
  group: number;
  state: 'connecting' | 'live' | 'failed' | 'ended';
  received: number;
  lastSeq: number;
  close(): void;
}

interface EventStat {
  count: number;
  maxLatMs: number;
}

function send(message: FromGenerator): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let continueWaiter: (() => void) | null = null;
let abortReason: string | null = null;

async function run(config: GeneratorConfig): Promise<GeneratorResult> {
  const started = Date.now();
  const deadline = started + config.deadlineMs;
  const conns: Conn[] = [];
  const failureReasons: Record<string, number> = {};
  const endReasons: Record<string, number> = {};
  let inflight = 0;
  let opened = 0;
  let failed = 0;
  let ended = 0;

  // Measurement state.
  let measuring = false;
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  const latency = new Histogram();
  const groupEvents: Map<number, EventStat>[] = config.groups.map(() => new Map());
  const groupSeqRange = config.groups.map(() => ({ min: Number.POSITIVE_INFINITY, max: -1 }));
  let delivered = 0;
  let seqGaps = 0;
  let duplicates = 0;
  let badPayloads = 0;
  let badSample: string | undefined;
  let receivedTotal = 0;
  let sampleCountdown = SAMPLE_EVERY;
  let lastWindowDeliveryAt = 0;
  const OBSERVER = -1;
  const expectedByGroup: Set<number>[] = config.groups.map(() => new Set());
  const observerStats = { events: 0, gaps: 0, lastSeq: -1, state: 'not opened' };

  const bump = (map: Record<string, number>, key: string) => {
    const k = key.slice(0, 160);
    map[k] = (map[k] ?? 0) + 1;
  };
  const noteBad = (text: string) => {
    badPayloads++;
    badSample ??= text.slice(0, 400);
  };

  const validate = (text: string) => {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      let event: unknown = parsed;
      if (config.kind === 'graphql-ws') {
        if (parsed.type !== 'next') return noteBad(text);
        event = parsed.payload;
      }
      if (config.kind === 'graphql-ws' || config.kind === 'graphql-sse') {
        const result = event as { data?: Record<string, unknown> | null; errors?: unknown };
        if (result.errors) return noteBad(text);
        event = result.data?.[config.stream];
      }
      if (typeof (event as { timestamp?: unknown } | undefined)?.timestamp !== 'string') noteBad(text);
    } catch {
      noteBad(text);
    }
  };

  /** The observer: which groups should get this event (by address), parsed in full — it sees every event once. */
  const observe = (tsMs: number, seq: number, raw: () => string) => {
    if (seq >= 0) {
      if (observerStats.lastSeq >= 0 && seq > observerStats.lastSeq + 1 && measuring) observerStats.gaps += seq - observerStats.lastSeq - 1;
      if (seq > observerStats.lastSeq) observerStats.lastSeq = seq;
    }
    if (!measuring || tsMs < windowStart || tsMs >= windowEnd || seq < 0 || !config.observer) return;
    let event: { from?: unknown; to?: unknown } | undefined;
    try {
      const parsed = JSON.parse(raw()) as Record<string, unknown>;
      const result = (config.kind === 'graphql-ws' ? parsed.payload : parsed) as { data?: Record<string, unknown> };
      event = (config.kind === 'graphql-ws' || config.kind === 'graphql-sse' ? result?.data?.[config.stream] : parsed) as typeof event;
    } catch {
      return;
    }
    observerStats.events++;
    const from = String(event?.from ?? '').toLowerCase();
    const to = String(event?.to ?? '').toLowerCase();
    config.observer.groupAddresses.forEach((addresses, g) => {
      if (addresses.includes(from) || addresses.includes(to)) expectedByGroup[g]?.add(seq);
    });
  };

  const onEvent = (conn: Conn, tsMs: number, seq: number, raw: () => string) => {
    const first = conn.received === 0;
    conn.received++;
    if (conn.group === OBSERVER) return observe(tsMs, seq, raw);
    receivedTotal++;
    if (first || --sampleCountdown <= 0) {
      if (!first) sampleCountdown = SAMPLE_EVERY;
      validate(raw());
    }
    const previous = conn.lastSeq;
    if (seq >= 0) {
      if (seq <= previous) duplicates += measuring && tsMs >= windowStart && tsMs < windowEnd ? 1 : 0;
      else conn.lastSeq = seq;
    }
    if (!measuring || tsMs < windowStart || tsMs >= windowEnd) return;
    const now = Date.now();
    const latMs = now - tsMs;
    lastWindowDeliveryAt = now;
    latency.record(latMs * 1000);
    delivered++;
    if (config.countSeqGaps && seq >= 0 && previous >= 0 && seq > previous + 1) seqGaps += seq - previous - 1;
    const events = groupEvents[conn.group] as Map<number, EventStat>;
    const key = seq >= 0 ? seq : tsMs;
    const stat = events.get(key);
    if (stat) {
      stat.count++;
      if (latMs > stat.maxLatMs) stat.maxLatMs = latMs;
    } else events.set(key, { count: 1, maxLatMs: latMs });
    if (seq >= 0) {
      const range = groupSeqRange[conn.group] as { min: number; max: number };
      if (seq < range.min) range.min = seq;
      if (seq > range.max) range.max = seq;
    }
  };

  const becameLive = (conn: Conn) => {
    if (conn.state !== 'connecting') return;
    conn.state = 'live';
    inflight--;
    if (conn.group === OBSERVER) observerStats.state = 'live';
    else opened++;
  };
  const fail = (conn: Conn, reason: string) => {
    if (conn.group === OBSERVER) {
      if (conn.state === 'connecting') inflight--;
      if (conn.state === 'connecting' || conn.state === 'live') observerStats.state = `${conn.state === 'live' ? 'ended' : 'failed'}: ${reason}`;
      conn.state = conn.state === 'connecting' ? 'failed' : 'ended';
      return;
    }
    if (conn.state === 'connecting') {
      conn.state = 'failed';
      failed++;
      inflight--;
      bump(failureReasons, reason);
    } else if (conn.state === 'live') {
      conn.state = 'ended';
      ended++;
      bump(endReasons, reason);
    }
  };

  const localAddressFor = (index: number) =>
    config.localAddresses[Math.min(config.localAddresses.length - 1, Math.floor(index / config.perAddress))];

  const openWebSocket = (conn: Conn, graphql: boolean) => {
    const group = config.groups[conn.group];
    const search = !graphql && group?.search ? `?${group.search}` : '';
    const url = `ws://${config.host}:${config.port}${config.path}${search}`;
    const localAddress = localAddressFor(conn.index);
    const ws = new WebSocket(url, graphql ? 'graphql-transport-ws' : [], {
      // BENCH_CLIENT_DEFLATE=1 offers permessage-deflate, to measure what the server's compression costs.
      perMessageDeflate: process.env['BENCH_CLIENT_DEFLATE'] === '1',
      skipUTF8Validation: true,
      handshakeTimeout: 15_000,
      maxPayload: 64 * 1024 * 1024,
      ...(localAddress && localAddress !== '127.0.0.1' ? { localAddress } : {}),
    });
    conn.close = () => ws.terminate();
    let acked = false;
    const control = (data: Buffer) => {
      const text = data.toString('utf8');
      let message: { type?: string; payload?: unknown };
      try {
        message = JSON.parse(text) as typeof message;
      } catch {
        return noteBad(text);
      }
      switch (message.type) {
        case 'connection_ack': {
          if (acked) return;
          acked = true;
          const subscribe = {
            id: '1',
            type: 'subscribe',
            payload: { query: config.query, ...(group?.variables ? { variables: group.variables } : {}) },
          };
          ws.send(JSON.stringify(subscribe));
          becameLive(conn);
          return;
        }
        case 'ping':
          ws.send('{"type":"pong"}');
          return;
        case 'pong':
          return;
        case 'error':
          fail(conn, `graphql-ws error: ${JSON.stringify(message.payload)}`);
          ws.close();
          return;
        case 'complete':
          fail(conn, 'graphql-ws complete');
          ws.close();
          return;
        default:
          noteBad(text);
      }
    };
    ws.on('open', () => {
      if (graphql) ws.send('{"type":"connection_init","payload":{}}');
      else becameLive(conn);
    });
    ws.on('message', (data: Buffer) => {
      const extracted = extractFromBuffer(data);
      if (extracted) onEvent(conn, extracted.tsMs, extracted.seq, () => data.toString('utf8'));
      else if (graphql) control(data);
      else noteBad(data.toString('utf8'));
    });
    ws.on('error', (error: Error) => fail(conn, error.message));
    ws.on('close', (code: number) => fail(conn, `closed ${code}`));
  };

  const openSse = (conn: Conn, graphql: boolean) => {
    const group = config.groups[conn.group];
    const localAddress = localAddressFor(conn.index);
    const body = graphql
      ? JSON.stringify({ query: config.query, ...(group?.variables ? { variables: group.variables } : {}) })
      : undefined;
    const request = http.request({
      host: config.host,
      port: config.port,
      path: `${config.path}${!graphql && group?.search ? `?${group.search}` : ''}`,
      method: graphql ? 'POST' : 'GET',
      agent: false,
      timeout: 15_000,
      headers: {
        accept: 'text/event-stream',
        ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
      },
      ...(localAddress && localAddress !== '127.0.0.1' ? { localAddress } : {}),
    });
    conn.close = () => request.destroy();
    request.on('timeout', () => {
      if (conn.state === 'connecting') request.destroy(new Error('SSE response timeout'));
    });
    request.on('error', (error) => fail(conn, error.message));
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        fail(conn, `HTTP ${response.statusCode}`);
        response.resume();
        request.destroy();
        return;
      }
      request.setTimeout(0);
      becameLive(conn);
      response.setEncoding('latin1');
      let pending = '';
      response.on('data', (chunk: string) => {
        pending = pending.length === 0 ? chunk : pending + chunk;
        let start = 0;
        for (let guard = 0; guard < 1_000_000; guard++) {
          const end = pending.indexOf('\n\n', start);
          if (end < 0) break;
          const block = pending.slice(start, end);
          start = end + 2;
          if (block.startsWith(':') || block.startsWith('event: complete')) continue;
          const extracted = extractFromString(block);
          if (extracted)
            onEvent(conn, extracted.tsMs, extracted.seq, () => {
              const line = block.split('\n').find((l) => l.startsWith('data:')) ?? block;
              return Buffer.from(line.slice(5).trim(), 'latin1').toString('utf8');
            });
          else if (block.includes('data:')) noteBad(block);
        }
        pending = start >= pending.length ? '' : pending.slice(start);
      });
      response.on('end', () => fail(conn, 'SSE stream ended'));
      response.on('error', (error) => fail(conn, error.message));
    });
    if (body !== undefined) request.end(body);
    else request.end();
  };

  const open = (index: number, group = index % Math.max(1, config.groups.length)) => {
    const conn: Conn = {
      index,
      group,
      state: 'connecting',
      received: 0,
      lastSeq: -1,
      close: () => {},
    };
    conns.push(conn);
    inflight++;
    try {
      switch (config.kind) {
        case 'graphql-ws':
          return openWebSocket(conn, true);
        case 'json-ws':
          return openWebSocket(conn, false);
        case 'graphql-sse':
          return openSse(conn, true);
        case 'json-sse':
          return openSse(conn, false);
      }
    } catch (error) {
      fail(conn, error instanceof Error ? error.message : String(error));
    }
  };

  const topReason = (map: Record<string, number>) =>
    Object.entries(map).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'unknown';

  const waitFor = async (predicate: () => boolean, timeoutMs: number, stepMs = 20) => {
    const until = Math.min(deadline, Date.now() + timeoutMs);
    for (let i = 0; i < 1_000_000 && !predicate() && Date.now() < until && !abortReason; i++) await sleep(stepMs);
    return predicate();
  };

  const result = (aborted?: string): GeneratorResult => {
    const makespan = new Histogram();
    let expected = 0;
    let events = 0;
    config.groups.forEach((_, g) => {
      const members = conns.filter((c) => c.group === g && (c.state === 'live' || c.state === 'ended')).length;
      const stats = groupEvents[g] as Map<number, EventStat>;
      for (const stat of stats.values()) makespan.record(stat.maxLatMs * 1000);
      let count = stats.size;
      // Filtered: the events the observer saw for this group, plus any a member got that the observer missed.
      if (config.observer) {
        const union = new Set(expectedByGroup[g]);
        for (const key of stats.keys()) union.add(key);
        count = union.size;
      }
      // Every connection sees every event: the seq range also counts events nobody received.
      const range = groupSeqRange[g] as { min: number; max: number };
      if (config.countSeqGaps && range.max >= range.min) count = Math.max(count, range.max - range.min + 1);
      events += count;
      expected += count * members;
    });
    const silentAtStart = conns.filter((c) => c.state !== 'failed' && c.received === 0).length;
    return {
      connections: { target: config.connections, opened, failed, ended, silentAtStart, failureReasons, endReasons },
      ...(aborted ? { aborted } : {}),
      settleMs: 0,
      measureMs: config.measureMs,
      drainMs: 0,
      backlogged: false,
      latencyUs: latency.toJSON(),
      makespanUs: makespan.toJSON(),
      events,
      expected,
      delivered,
      seqGaps,
      ...(config.observer ? { observer: { events: observerStats.events, gaps: observerStats.gaps, state: observerStats.state } } : {}),
      duplicates,
      badPayloads,
      ...(badSample !== undefined ? { badSample } : {}),
      receivedTotal,
      generator: { cpuPct: 0, lagP50Ms: 0, lagP99Ms: 0, lagMaxMs: 0, rssMb: process.memoryUsage.rss() / 2 ** 20 },
    };
  };

  // ── Ramp ──────────────────────────────────────────────────────────────────
  const tickMs = 20;
  const perTick = Math.max(1, Math.ceil((config.rampPerSec * tickMs) / 1000));
  const checkpoints = [...config.checkpoints].filter((c) => c > 0 && c <= config.connections).sort((a, b) => a - b);
  let next = 0;
  let lastProgress = Date.now();
  for (let tick = 0; next < config.connections; tick++) {
    if (abortReason) return result(abortReason);
    if (Date.now() > deadline) return result(`ramp did not finish before the deadline (${opened}/${config.connections} open)`);
    const stopAt = Math.min(config.connections, checkpoints[0] ?? config.connections);
    for (let budget = perTick; budget > 0 && next < stopAt && inflight < config.maxInflight; budget--) open(next++);
    if (opened === 0 && failed >= Math.min(EARLY_FAILURES, config.connections)) {
      return result(`every connection failed: ${topReason(failureReasons)}`);
    }
    const checkpoint = checkpoints[0];
    if (checkpoint !== undefined && next >= checkpoint) {
      checkpoints.shift();
      await waitFor(() => inflight === 0, 30_000);
      const waiting = new Promise<void>((resolve) => {
        continueWaiter = resolve;
      });
      await send({ type: 'checkpoint', connections: opened });
      await Promise.race([waiting, sleep(30_000)]);
      continueWaiter = null;
    }
    if (Date.now() - lastProgress > 1000) {
      lastProgress = Date.now();
      void send({ type: 'progress', text: `ramp ${opened} open, ${failed} failed, ${inflight} in flight` });
    }
    await sleep(tickMs);
  }
  await waitFor(() => inflight === 0, 30_000);
  if (opened === 0) return result(`no connection opened: ${topReason(failureReasons)}`);

  if (config.observer) {
    open(config.connections, OBSERVER);
    await waitFor(() => inflight === 0, 15_000);
  }

  // ── Settle: every live connection has delivered at least one event ────────
  const settleStart = Date.now();
  await waitFor(() => conns.every((c) => c.state !== 'live' || c.received > 0), config.settleTimeoutMs, 50);
  const settleMs = Date.now() - settleStart;
  if (abortReason) return result(abortReason);

  // ── Measure ───────────────────────────────────────────────────────────────
  const lag = monitorEventLoopDelay({ resolution: 10 });
  await send({ type: 'measure-start' });
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  lag.enable();
  windowStart = Date.now();
  windowEnd = windowStart + config.measureMs;
  measuring = true;
  await waitFor(() => false, config.measureMs, 100);
  void send({ type: 'measure-end' });
  // Late deliveries of window events still count (as latency, not loss) until the server goes quiet.
  const quiet = () => Date.now() - Math.max(lastWindowDeliveryAt, windowEnd) >= config.quietMs;
  const drained = await waitFor(quiet, config.graceMaxMs, 50);
  measuring = false;
  const drainMs = Math.max(0, lastWindowDeliveryAt - windowEnd);
  lag.disable();
  const cpu = process.cpuUsage(cpuStart);
  const wallMs = performance.now() - wallStart;

  const out = result(abortReason ?? (Date.now() > deadline ? 'measurement passed the deadline' : undefined));
  out.settleMs = settleMs;
  out.drainMs = drainMs;
  out.backlogged = !drained;
  out.generator.cpuPct = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
  out.generator.lagP50Ms = lag.percentile(50) / 1e6;
  out.generator.lagP99Ms = lag.percentile(99) / 1e6;
  out.generator.lagMaxMs = lag.max / 1e6;
  for (const conn of conns) conn.close();
  return out;
}

process.on('message', (raw: unknown) => {
  const message = raw as ToGenerator;
  if (message?.type === 'continue') continueWaiter?.();
  else if (message?.type === 'abort') abortReason = message.reason;
  else if (message?.type === 'start') {
    run(message.config).then(
      async (result) => {
        await send({ type: 'result', result });
        process.exit(0);
      },
      async (error: unknown) => {
        await send({ type: 'fatal', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
        process.exit(1);
      },
    );
  }
});
// Without the orchestrator there is nobody to report to.
process.on('disconnect', () => process.exit(2));
if (!process.send) {
  console.error('bench/load/generator.ts is started by bench/run.ts (it needs an IPC channel)');
  process.exit(2);
}
void send({ type: 'hello' });

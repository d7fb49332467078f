/**
 * The load generator: one process (pinned to its own core by bench/run.ts),
 * driven over IPC. It opens N connections at a fixed ramp rate, pauses at
 * checkpoints so the orchestrator can sample server memory, waits until every
 * connection delivers, then measures for a fixed window and reports:
 * latency (receive time − event timestamp), per-event makespan, delivered
 * msgs/s, loss, and its own CPU and event-loop lag (a saturated generator
 * invalidates the run). Every loop is bounded by a count and a deadline.
 *
 * Batched subscriptions (a GraphQL `…Batches` field, or `batch=` in the path:
 * legacy `?batch=`, the floor's batching mode) deliver many events per
 * message: every event inside counts on its own — latency is receive time −
 * that event's timestamp, loss and duplicates are per event.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Histogram } from '../lib/histogram.ts';
import type { FromGenerator, GeneratorConfig, GeneratorResult, GroupDetail, StalledResult, ToGenerator } from '../lib/protocol.ts';
import { extractEachFromBuffer, extractEachFromString, extractFromBuffer, extractFromString } from './extract.ts';

const SAMPLE_EVERY = 1009; // fully JSON.parse roughly one frame in a thousand, to catch wrong payloads
const EARLY_FAILURES = 20;
/** How often the server's file descriptors of the stalled connections are checked. */
const STALL_SCAN_MS = 250;

interface Conn {
  index: number;
  group: number;
  state: 'connecting' | 'live' | 'failed' | 'ended';
  received: number;
  lastSeq: number;
  close(): void;
  /** A stalled connection (see GeneratorConfig.stalled): never a reader. */
  stalled?: {
    /** Stops reading for good: pauses the TCP socket. */
    pause(): void;
    /** This connection as the server's socket sees its peer, `/proc/net/tcp` style (`0100007F:1F90`). */
    peerKey?: string;
    /** The server's file descriptor for this connection and what it links to (`socket:[inode]`), once mapped. */
    serverFd?: { path: string; link: string };
    stalledAt?: number;
    closedAt?: number;
  };
}

/** /proc/net/tcp addresses: IPv4 bytes in host (little-endian) order, port big-endian, both upper-case hex. */
const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
const procAddress = (ip: string, port: number) =>
  `${ip
    .split('.')
    .map((b) => hex(Number(b), 2))
    .reverse()
    .join('')}:${hex(port, 4)}`;
const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

/**
 * The server's sockets for connections to `serverAddress` (`ip:port` in /proc
 * form), keyed by their peer; null when /proc/net/tcp cannot be read. Read
 * once, not polled: on a machine with many sockets one read takes tens of ms.
 */
function serverSockets(serverAddress: string): Map<string, { state: string; inode: string }> | null {
  let text: string;
  try {
    text = readFileSync('/proc/net/tcp', 'latin1');
  } catch {
    return null;
  }
  const out = new Map<string, { state: string; inode: string }>();
  const needle = ` ${serverAddress} `;
  let start = text.indexOf('\n') + 1;
  for (let guard = 0; guard < 10_000_000 && start > 0 && start < text.length; guard++) {
    const end = text.indexOf('\n', start);
    const line = text.slice(start, end < 0 ? text.length : end);
    start = end < 0 ? text.length : end + 1;
    if (!line.includes(needle)) continue;
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    const f = line.trim().split(/\s+/);
    if (f[1] !== serverAddress || f[2] === undefined) continue;
    out.set(f[2], { state: f[3] ?? '', inode: f[9] ?? '' });
  }
  return out;
}

function send(message: FromGenerator): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let continueWaiter: (() => void) | null = null;
/** Sync mode: the orchestrator's common window start (epoch ms), once it sent it. */
let measureAt: number | null = null;
let abortReason: string | null = null;

/** The batch field a GraphQL subscription selects (`transactionBatches`), if it selects one. */
function batchFieldOf(query: string | undefined): string | undefined {
  return query ? /[{\s](\w+Batches)\s*[({]/.exec(query)?.[1] : undefined;
}

async function run(config: GeneratorConfig): Promise<GeneratorResult> {
  const started = Date.now();
  const batchField = batchFieldOf(config.query);
  const batched = batchField !== undefined || /[?&]batch=/.test(config.path);
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
  /** Per group: window event (seq, or timestamp without one) → its latest delivery's latency (ms). No object per event. */
  const groupEvents: Map<number, number>[] = config.groups.map(() => new Map());
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
  const STALLED_GROUP = -2;
  const expectedByGroup: Set<number>[] = config.groups.map(() => new Set());
  const observerStats = { events: 0, gaps: 0, lastSeq: -1, state: 'not opened' };
  const stalledStats: StalledResult = {
    target: config.stalled ?? 0,
    opened: 0,
    failed: 0,
    stalled: 0,
    endedBeforeStall: 0,
    closedByServer: 0,
    closedAfterMs: [],
    closeReasons: {},
    watchedMs: 0,
  };
  let lastStallAt = 0;
  /** Set once the result is taken: closes after that are the generator's own. */
  let finished = false;
  const stalledConns: Conn[] = [];
  const serverAddress = procAddress(config.host, config.port);
  let scanTimer: NodeJS.Timeout | undefined;
  /**
   * Once every stalled connection has stalled: finds the server's socket for
   * each (its inode, from /proc/net/tcp by the connection's port) and the
   * server's file descriptor holding it (/proc/<serverPid>/fd). From then on
   * checkStalled() only reads those few links: a stalled connection counts as
   * closed by the server when the server no longer holds its socket.
   */
  const mapStalled = () => {
    const sockets = serverSockets(serverAddress);
    if (!sockets || (sockets.size === 0 && opened > 0)) {
      stalledStats.note ??= `server sockets of ${config.host}:${config.port} not visible in /proc/net/tcp: only closes the client itself saw are counted`;
      return;
    }
    const wanted = new Map<string, Conn>();
    for (const conn of stalledConns) {
      const s = conn.stalled;
      if (!s || conn.state !== 'live' || s.stalledAt === undefined || s.closedAt !== undefined || !s.peerKey) continue;
      const entry = sockets.get(s.peerKey);
      if (!entry) stalledClosed(conn, 'server socket gone');
      else if (entry.state !== '01') stalledClosed(conn, `server socket ${TCP_STATES[entry.state] ?? entry.state}`);
      else if (entry.inode === '0') stalledClosed(conn, 'server socket orphaned');
      else wanted.set(`socket:[${entry.inode}]`, conn);
    }
    if (wanted.size === 0) return;
    const dir = `/proc/${config.serverPid ?? 0}/fd`;
    let fds: string[] = [];
    try {
      fds = config.serverPid ? readdirSync(dir) : [];
    } catch {
      /* below */
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`${dir}/${fd}`);
      } catch {
        continue;
      }
      const conn = wanted.get(link);
      if (conn?.stalled) conn.stalled.serverFd = { path: `${dir}/${fd}`, link };
    }
    const unmapped = [...wanted.values()].filter((c) => !c.stalled?.serverFd).length;
    if (unmapped > 0)
      stalledStats.note ??= `${unmapped} stalled connections not found among the server's file descriptors (${dir}): their closes are seen only by the client`;
  };
  const checkStalled = () => {
    for (const conn of stalledConns) {
      const s = conn.stalled;
      if (!s?.serverFd || conn.state !== 'live' || s.closedAt !== undefined) continue;
      let link = '';
      try {
        link = readlinkSync(s.serverFd.path);
      } catch {
        /* closed */
      }
      if (link !== s.serverFd.link) stalledClosed(conn, 'server closed its socket');
    }
  };

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
        event = result.data?.[batchField ?? config.stream];
      }
      if (batched) {
        // A batch: its events (a GraphQL batch's `items`, a JSON array frame), never empty.
        const items = Array.isArray(event) ? event : (event as { items?: unknown } | undefined)?.items;
        if (!Array.isArray(items) || items.length === 0) return noteBad(text);
        event = items[0];
      }
      if (typeof (event as { timestamp?: unknown } | undefined)?.timestamp !== 'string') noteBad(text);
    } catch {
      noteBad(text);
    }
  };

  /** The events of a frame, parsed in full: one event, or a batch's events. */
  const eventsOf = (raw: string): { from?: unknown; to?: unknown; seq?: unknown }[] => {
    try {
      const parsed = JSON.parse(raw) as Record<string, unknown>;
      const result = (config.kind === 'graphql-ws' ? parsed.payload : parsed) as { data?: Record<string, unknown> };
      const event = (
        config.kind === 'graphql-ws' || config.kind === 'graphql-sse' ? result?.data?.[batchField ?? config.stream] : parsed
      ) as { items?: unknown } | unknown[] | undefined;
      if (!batched) return event ? [event as { from?: unknown; to?: unknown }] : [];
      const items = Array.isArray(event) ? event : event?.items;
      return Array.isArray(items) ? (items as { from?: unknown; to?: unknown; seq?: unknown }[]) : [];
    } catch {
      return [];
    }
  };
  /** A batch frame the observer got: parsed once, each of its events observed. */
  let observerFrame: { raw: string; bySeq: Map<unknown, ReturnType<typeof eventsOf>[number]> } | undefined;
  /** The observer: which groups should get this event (by address), parsed in full — it sees every event once. */
  const observe = (tsMs: number, seq: number, raw: () => string) => {
    if (seq >= 0) {
      if (observerStats.lastSeq >= 0 && seq > observerStats.lastSeq + 1 && measuring) observerStats.gaps += seq - observerStats.lastSeq - 1;
      if (seq > observerStats.lastSeq) observerStats.lastSeq = seq;
    }
    if (!measuring || tsMs < windowStart || tsMs >= windowEnd || seq < 0 || !config.observer) return;
    let event: { from?: unknown; to?: unknown } | undefined;
    if (batched) {
      const text = raw();
      if (observerFrame?.raw !== text) observerFrame = { raw: text, bySeq: new Map(eventsOf(text).map((e) => [e.seq, e])) };
      event = observerFrame.bySeq.get(seq);
    } else {
      event = eventsOf(raw())[0];
    }
    if (!event) return;
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
    if (conn.stalled) {
      if (first && conn.state === 'live') {
        conn.stalled.pause();
        conn.stalled.stalledAt = lastStallAt = Date.now();
        stalledStats.stalled++;
      }
      return;
    }
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
    const events = groupEvents[conn.group] as Map<number, number>;
    const key = seq >= 0 ? seq : tsMs;
    const seen = events.get(key);
    if (seen === undefined || latMs > seen) events.set(key, latMs);
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
    if (conn.stalled) stalledStats.opened++;
    else if (conn.group === OBSERVER) observerStats.state = 'live';
    else opened++;
  };
  /** A stalled connection was seen closed (by the server: the generator never closes one before the end). */
  const stalledClosed = (conn: Conn, how: string) => {
    const s = conn.stalled;
    if (!s || s.stalledAt === undefined || s.closedAt !== undefined || finished) return;
    s.closedAt = Date.now();
    stalledStats.closedByServer++;
    stalledStats.closedAfterMs.push(s.closedAt - s.stalledAt);
    bump(stalledStats.closeReasons, how);
  };
  const fail = (conn: Conn, reason: string) => {
    if (conn.stalled) {
      if (conn.state === 'connecting') {
        conn.state = 'failed';
        inflight--;
        stalledStats.failed++;
        stalledStats.note ??= `a stalled connection failed to open: ${reason.slice(0, 160)}`;
      } else if (conn.state === 'live') {
        conn.state = 'ended';
        if (conn.stalled.stalledAt === undefined) stalledStats.endedBeforeStall++;
        else stalledClosed(conn, `client saw: ${reason}`);
      }
      return;
    }
    if (conn.group === OBSERVER) {
      if (conn.state === 'connecting') inflight--;
      if (conn.state === 'connecting' || conn.state === 'live')
        observerStats.state = `${conn.state === 'live' ? 'ended' : 'failed'}: ${reason}`;
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

  /**
   * `distinctOperations`: every subscriber's document differs (a `__typename` under an alias of its own in
   * the innermost selection), so a server can share no rendering between two subscribers.
   */
  const innermost = config.query ? config.query.lastIndexOf('{') : -1;
  const queryFor = (index: number): string | undefined =>
    config.distinctOperations && config.query && innermost >= 0
      ? `${config.query.slice(0, innermost + 1)} op${index + (config.indexOffset ?? 0)}: __typename${config.query.slice(innermost + 1)}`
      : config.query;
  /** Several generators share the source addresses: each numbers its connections from its own offset. */
  const localAddressFor = (index: number) =>
    config.localAddresses[Math.min(config.localAddresses.length - 1, Math.floor((index + (config.indexOffset ?? 0)) / config.perAddress))];

  const openWebSocket = (conn: Conn, graphql: boolean) => {
    const group = config.groups[conn.group];
    const search = !graphql && group?.search ? `${config.path.includes('?') ? '&' : '?'}${group.search}` : '';
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
    // ws's own socket: pausing it stops reading, so the kernel buffers fill and the server sees a stalled reader.
    const socketOf = () => (ws as unknown as { _socket?: Socket })._socket;
    if (conn.stalled) conn.stalled.pause = () => socketOf()?.pause();
    // A unique operation id per subscriber, as real graphql-ws clients use (a shared constant could flatter per-id caches).
    const operationId = randomUUID();
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
            id: operationId,
            type: 'subscribe',
            payload: { query: queryFor(conn.index), ...(group?.variables ? { variables: group.variables } : {}) },
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
      const socket = socketOf();
      if (conn.stalled && socket?.localAddress && socket.localPort) {
        conn.stalled.peerKey = procAddress(socket.localAddress.replace(/^::ffff:/, ''), socket.localPort);
      }
      if (graphql) ws.send('{"type":"connection_init","payload":{}}');
      else becameLive(conn);
    });
    ws.on('message', (data: Buffer) => {
      if (batched) {
        // Decoded once per frame, however many of its events ask (the observer and the sampler do).
        let text: string | undefined;
        const raw = () => (text ??= data.toString('utf8'));
        if (extractEachFromBuffer(data, (tsMs, seq) => onEvent(conn, tsMs, seq, raw)) > 0) return;
      } else {
        const extracted = extractFromBuffer(data);
        if (extracted) return onEvent(conn, extracted.tsMs, extracted.seq, () => data.toString('utf8'));
      }
      if (graphql) control(data);
      else noteBad(data.toString('utf8'));
    });
    ws.on('error', (error: Error) => fail(conn, error.message));
    ws.on('close', (code: number) => fail(conn, `closed ${code}`));
  };

  const openSse = (conn: Conn, graphql: boolean) => {
    const group = config.groups[conn.group];
    const localAddress = localAddressFor(conn.index);
    const body = graphql
      ? JSON.stringify({ query: queryFor(conn.index), ...(group?.variables ? { variables: group.variables } : {}) })
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
      if (conn.stalled) {
        const socket = response.socket;
        conn.stalled.pause = () => {
          response.pause();
          socket.pause();
        };
        if (socket.localAddress && socket.localPort) {
          conn.stalled.peerKey = procAddress(socket.localAddress.replace(/^::ffff:/, ''), socket.localPort);
        }
      }
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
          let data: string | undefined;
          const raw = () => {
            const line = block.split('\n').find((l) => l.startsWith('data:')) ?? block;
            return (data ??= Buffer.from(line.slice(5).trim(), 'latin1').toString('utf8'));
          };
          if (batched) {
            if (extractEachFromString(block, (tsMs, seq) => onEvent(conn, tsMs, seq, raw)) > 0) continue;
          } else {
            const extracted = extractFromString(block);
            if (extracted) {
              onEvent(conn, extracted.tsMs, extracted.seq, raw);
              continue;
            }
          }
          if (block.includes('data:')) noteBad(block);
        }
        pending = start >= pending.length ? '' : pending.slice(start);
      });
      response.on('end', () => fail(conn, 'SSE stream ended'));
      response.on('error', (error) => fail(conn, error.message));
    });
    if (body !== undefined) request.end(body);
    else request.end();
  };

  const open = (index: number, group = index % Math.max(1, config.groups.length), stalled = false) => {
    const conn: Conn = {
      index,
      group,
      state: 'connecting',
      received: 0,
      lastSeq: -1,
      close: () => {},
      ...(stalled ? { stalled: { pause: () => {} } } : {}),
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

  const topReason = (map: Record<string, number>) => Object.entries(map).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'unknown';

  const waitFor = async (predicate: () => boolean, timeoutMs: number, stepMs = 20) => {
    const until = Math.min(deadline, Date.now() + timeoutMs);
    for (let i = 0; i < 1_000_000 && !predicate() && Date.now() < until && !abortReason; i++) await sleep(stepMs);
    return predicate();
  };

  const result = (aborted?: string): GeneratorResult => {
    const makespan = new Histogram();
    let expected = 0;
    let events = 0;
    const detail: GroupDetail[] = [];
    config.groups.forEach((_, g) => {
      const members = conns.filter((c) => !c.stalled && c.group === g && (c.state === 'live' || c.state === 'ended')).length;
      const stats = groupEvents[g] as Map<number, number>;
      for (const maxLatMs of stats.values()) makespan.record(maxLatMs * 1000);
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
      if (config.shipKeys) {
        detail.push({
          members,
          keys: [...stats.keys()],
          maxLatMs: [...stats.values()],
          observed: config.observer ? [...(expectedByGroup[g] ?? [])] : [],
          range: [range.min, range.max],
        });
      }
    });
    const silentAtStart = conns.filter((c) => !c.stalled && c.state !== 'failed' && c.received === 0).length;
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
      ...(config.shipKeys ? { groupDetail: detail } : {}),
      duplicates,
      badPayloads,
      ...(badSample !== undefined ? { badSample } : {}),
      receivedTotal,
      ...(config.stalled !== undefined
        ? {
            stalled: {
              ...stalledStats,
              closedAfterMs: [...stalledStats.closedAfterMs].sort((a, b) => a - b),
              closeReasons: { ...stalledStats.closeReasons },
              watchedMs: lastStallAt > 0 ? Date.now() - lastStallAt : 0,
            },
          }
        : {}),
      generator: { cpuPct: 0, cpuMs: 0, wallMs: 0, lagP50Ms: 0, lagP99Ms: 0, lagMaxMs: 0, rssMb: process.memoryUsage.rss() / 2 ** 20 },
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
      // Sync: the orchestrator waits for every generator of this phase to reach the checkpoint (they ramp together).
      await Promise.race([waiting, sleep(config.sync ? 90_000 : 30_000)]);
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

  // ── Stalled connections: after the readers (and their memory checkpoints), at the same ramp rate ──
  if (config.stalled) {
    let opening = 0;
    for (let tick = 0; opening < config.stalled; tick++) {
      if (abortReason) return result(abortReason);
      if (Date.now() > deadline) return result(`stalled connections did not open before the deadline`);
      for (let budget = perTick; budget > 0 && opening < config.stalled && inflight < config.maxInflight; budget--) {
        // No group: a stalled connection subscribes without a filter (every event), so it falls behind at once.
        open(config.connections + 1 + opening, STALLED_GROUP, true);
        stalledConns.push(conns[conns.length - 1] as Conn);
        opening++;
      }
      await sleep(tickMs);
    }
    await waitFor(() => inflight === 0, 30_000);
    // Each stalls at its first event.
    await waitFor(() => stalledConns.every((c) => c.state !== 'live' || c.stalled?.stalledAt !== undefined), config.settleTimeoutMs, 20);
    mapStalled();
    scanTimer = setInterval(checkStalled, STALL_SCAN_MS);
    void send({ type: 'progress', text: `stalled ${stalledStats.stalled}/${config.stalled} (${stalledStats.failed} failed)` });
  }

  if (config.observer) {
    open(config.connections, OBSERVER);
    await waitFor(() => inflight === 0, 15_000);
  }

  // Several generators (sync): the orchestrator starts the next ones (a mix ramps one transport after another).
  if (config.sync) await send({ type: 'ramped', connections: opened });

  // ── Settle: every live connection has delivered at least one event ────────
  const settleStart = Date.now();
  await waitFor(() => conns.every((c) => c.state !== 'live' || c.received > 0), config.settleTimeoutMs, 50);
  const settleMs = Date.now() - settleStart;
  if (abortReason) return result(abortReason);

  // Sync: every generator measures the same window, from the time the orchestrator picks once all have settled.
  if (config.sync) {
    await send({ type: 'settled' });
    await waitFor(() => measureAt !== null, Math.max(0, deadline - Date.now()), 10);
    if (abortReason) return result(abortReason);
    if (measureAt === null) return result('no common measurement window before the deadline');
    // Count from now: an event stamped at or after the window start that arrives before this process wakes at
    // the start (a late timer) still counts; earlier ones are outside the window by their timestamp.
    windowStart = measureAt;
    windowEnd = windowStart + config.measureMs;
    measuring = true;
    if (measureAt > Date.now()) await sleep(measureAt - Date.now());
  }

  // ── Measure ───────────────────────────────────────────────────────────────
  const lag = monitorEventLoopDelay({ resolution: 10 });
  await send({ type: 'measure-start' });
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  lag.enable();
  if (!config.sync) {
    windowStart = Date.now();
    windowEnd = windowStart + config.measureMs;
    measuring = true;
  }
  await waitFor(() => Date.now() >= windowEnd, config.measureMs + 1000, 50);
  void send({ type: 'measure-end' });
  const windowCpu = process.cpuUsage(cpuStart);
  const windowWallMs = performance.now() - wallStart;
  // Late deliveries of window events still count (as latency, not loss) until the server goes quiet.
  const quiet = () => Date.now() - Math.max(lastWindowDeliveryAt, windowEnd) >= config.quietMs;
  const drained = await waitFor(quiet, config.graceMaxMs, 50);
  measuring = false;
  const drainMs = Math.max(0, lastWindowDeliveryAt - windowEnd);
  lag.disable();
  const cpu = process.cpuUsage(cpuStart);
  const wallMs = performance.now() - wallStart;

  // Stalled connections: give the server time to notice them (a server without a slow-consumer policy never does).
  if (config.stalled) {
    const pending = () =>
      stalledConns.some((c) => c.state === 'live' && c.stalled?.stalledAt !== undefined && c.stalled.closedAt === undefined);
    const watchMs = config.stalledWatchMs ?? 15_000;
    await waitFor(() => !pending() || Date.now() - lastStallAt >= watchMs, Math.max(0, lastStallAt + watchMs - Date.now()), 100);
    checkStalled();
  }
  clearInterval(scanTimer);

  const out = result(abortReason ?? (Date.now() > deadline ? 'measurement passed the deadline' : undefined));
  finished = true;
  out.settleMs = settleMs;
  out.drainMs = drainMs;
  out.backlogged = !drained;
  out.generator.cpuPct = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
  out.generator.cpuMs = (windowCpu.user + windowCpu.system) / 1000;
  out.generator.wallMs = windowWallMs;
  out.generator.lagP50Ms = lag.percentile(50) / 1e6;
  out.generator.lagP99Ms = lag.percentile(99) / 1e6;
  out.generator.lagMaxMs = lag.max / 1e6;
  for (const conn of conns) conn.close();
  return out;
}

process.on('message', (raw: unknown) => {
  const message = raw as ToGenerator;
  if (message?.type === 'continue') continueWaiter?.();
  else if (message?.type === 'measure') measureAt = message.startAt;
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

/**
 * The floor: a raw `ws` server that serializes each event once and writes the
 * same bytes to every client — no GraphQL, no per-client work beyond the write.
 * Also serves the same pre-serialized frame as SSE (`GET /sse`) as the SSE floor.
 *
 * Env: everything ours reads (PORT, HOST, METRICS_INTERVAL_MS, SIM_*), plus
 *   FLOOR_STREAM  the stream to broadcast (default metrics)
 *   FLOOR_FIELDS  comma-separated fields per frame (default: the contract's fields + seq)
 *   FLOOR_BATCH_MS, FLOOR_BATCH_MAX  batching mode (both > 0): each filter group collects its
 *                 events and sends one pre-built JSON array frame to every socket when it holds
 *                 FLOOR_BATCH_MAX of them or FLOOR_BATCH_MS after the first — the floor of
 *                 batched delivery (one timer, one frame per group and batch, one write per socket)
 *   FLOOR_WORKERS  processes serving the port (default 1). With N > 1 it is a node:cluster tree like
 *                 ours with WORKERS=N: the primary runs the workload (simulator, ticker) and relays every
 *                 event to every worker (one IPC message per worker per event-loop turn, V8 serialization),
 *                 each worker writes it to its own sockets — the same per-socket work with N processes, so
 *                 the floor can hold more sockets than one process has files for. Every worker sends the
 *                 same bytes for an event (one producer: the same timestamp and seq everywhere, which the
 *                 generator's loss accounting needs; workers each running their own seeded simulator would
 *                 tick at different moments and stamp different timestamps).
 * A client may pass `?address=0x…,0x…` and/or `?status=A,B` (transactions): the
 * floor then evaluates each distinct filter once per event, like an engine would.
 * `?fields=a,b,c` gives a socket its own projection (a `mix` scenario: graphql-ws-like
 * and legacy-like clients on one floor); each distinct projection is built once per event.
 */
import cluster from 'node:cluster';
import { createServer, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { descriptorOf, isStreamName, type StreamName } from '../../src/streams/registry.ts';
import type { StreamItem } from '../../src/streams/index.ts';
import { answerOps, createWorkload } from './workload.ts';

const streamName = process.env.FLOOR_STREAM ?? 'metrics';
if (!isStreamName(streamName)) throw new Error(`FLOOR_STREAM: unknown stream ${streamName}`);
const stream: StreamName = streamName;
const parseFields = (list: string) =>
  list
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
const fields = parseFields(process.env.FLOOR_FIELDS ?? [...descriptorOf(stream).contractFields, 'seq'].join(','));
const defaultFieldsKey = fields.join(',');
const floorWorkers = Math.max(1, Math.floor(Number(process.env.FLOOR_WORKERS ?? 1)) || 1);

const batchMs = Number(process.env.FLOOR_BATCH_MS ?? 0);
const batchMax = Number(process.env.FLOOR_BATCH_MAX ?? 0);
const batching = batchMs > 0 && batchMax > 0;

interface Group {
  match: ((item: Record<string, unknown>) => boolean) | null;
  /** This group's projection (`?fields=`), or the default one. */
  fields: string[];
  fieldsKey: string;
  sockets: Set<WebSocket>;
  sse: Set<ServerResponse>;
  /** Batching mode: the projected events since the last frame, and the timer the first of them started. */
  pending: string[];
  timer: NodeJS.Timeout | undefined;
}
const groups = new Map<string, Group>();

function groupFor(search: string): Group {
  const params = new URLSearchParams(search);
  const addresses = (params.get('address') ?? '').toLowerCase().split(',').filter(Boolean);
  const statuses = (params.get('status') ?? '').split(',').filter(Boolean);
  const own = params.get('fields');
  const groupFields = own ? parseFields(own) : fields;
  const fieldsKey = groupFields.join(',');
  const key = `${addresses.join(',')}|${statuses.join(',')}|${fieldsKey}`;
  let group = groups.get(key);
  if (!group) {
    const match =
      addresses.length === 0 && statuses.length === 0
        ? null
        : (item: Record<string, unknown>) =>
            (addresses.length === 0 ||
              addresses.includes(String(item.from).toLowerCase()) ||
              addresses.includes(String(item.to).toLowerCase())) &&
            (statuses.length === 0 || statuses.includes(String(item.status)));
    group = { match, fields: groupFields, fieldsKey, sockets: new Set(), sse: new Set(), pending: [], timer: undefined };
    groups.set(key, group);
  }
  return group;
}

const sseFrameOf = (frame: Buffer) => Buffer.concat([Buffer.from('data: '), frame, Buffer.from('\n\n')]);

function project(item: StreamItem, which: string[]): string {
  const source = item as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of which) out[f] = source[f];
  return JSON.stringify(out);
}

/** Relayed from the primary (FLOOR_WORKERS > 1): the events of one event-loop turn, in order. */
interface Relay {
  floor: 'events';
  items: StreamItem[];
}
const isRelay = (m: unknown): m is Relay => (m as { floor?: unknown } | null)?.floor === 'events';

if (floorWorkers > 1 && cluster.isPrimary) await runPrimary();
else await serve();

/** FLOOR_WORKERS > 1: the primary makes the events and relays them; it holds no client socket. */
async function runPrimary(): Promise<void> {
  cluster.setupPrimary({ serialization: 'advanced' });
  const counts = new Map<number, number>();
  const workload = createWorkload({ connections: () => [...counts.values()].reduce((a, n) => a + n, 0) });
  let stopping = false;
  const workers = Array.from({ length: floorWorkers }, () => cluster.fork());
  for (const worker of workers) {
    worker.on('message', (m: unknown) => {
      const clients = (m as { floorClients?: unknown } | null)?.floorClients;
      if (typeof clients === 'number') counts.set(worker.id, clients);
    });
  }
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`floor worker ${worker.process.pid} exited (${signal ?? code}): the floor cannot serve its sockets`);
    process.exit(1);
  });
  // One IPC message per worker per turn, however many events the turn produced.
  let outbox: StreamItem[] = [];
  const flush = () => {
    const items = outbox;
    outbox = [];
    const message: Relay = { floor: 'events', items };
    for (const worker of workers) if (worker.isConnected()) worker.send(message);
  };
  await Promise.all(workers.map((w) => new Promise<void>((resolve) => w.once('listening', () => resolve()))));
  await workload.start((s, item) => {
    if (s !== stream) return;
    if (outbox.push(item) === 1) setImmediate(flush);
  });
  const stop = () => {
    stopping = true;
    void workload.stop();
    for (const worker of workers) worker.process.kill('SIGTERM');
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** One process serving sockets: alone (it runs the workload itself) or a worker fed by the primary. */
async function serve(): Promise<void> {
  let clients = 0;
  let ready = false;
  const worker = cluster.isWorker;

  const server = createServer((req, res) => {
    if (answerOps(req.url, ready, res)) return;
    const [path, search = ''] = (req.url ?? '/').split('?', 2) as [string, string?];
    if (req.method === 'GET' && path === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(':\n\n');
      const group = groupFor(search);
      group.sse.add(res);
      clients++;
      res.on('close', () => {
        if (group.sse.delete(res)) clients--;
      });
      return;
    }
    res.writeHead(404).end();
  });
  server.requestTimeout = 0;

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const search = (req.url ?? '/').split('?', 2)[1] ?? '';
    wss.handleUpgrade(req, socket, head, (ws) => {
      const group = groupFor(search);
      group.sockets.add(ws);
      clients++;
      ws.on('error', () => ws.terminate());
      ws.on('close', () => {
        if (group.sockets.delete(ws)) clients--;
      });
    });
  });

  /** Batching mode: one array frame of the group's pending events to every socket. */
  function flush(group: Group): void {
    clearTimeout(group.timer);
    group.timer = undefined;
    if (group.pending.length === 0) return;
    const frame = Buffer.from(`[${group.pending.join(',')}]`);
    group.pending = [];
    for (const ws of group.sockets) ws.send(frame, { binary: false });
    if (group.sse.size > 0) {
      const sseFrame = sseFrameOf(frame);
      for (const res of group.sse) res.write(sseFrame);
    }
  }

  const onItem = (item: StreamItem) => {
    // Each distinct projection is serialized once per event (one, unless sockets asked for `?fields=`).
    let json: string | undefined;
    let others: Map<string, string> | undefined;
    const jsonFor = (group: Group) => {
      if (group.fieldsKey === defaultFieldsKey) return (json ??= project(item, fields));
      others ??= new Map();
      let text = others.get(group.fieldsKey);
      if (text === undefined) others.set(group.fieldsKey, (text = project(item, group.fields)));
      return text;
    };
    if (batching) {
      for (const group of groups.values()) {
        if (group.match && !group.match(item as unknown as Record<string, unknown>)) continue;
        if (group.sockets.size === 0 && group.sse.size === 0) continue;
        group.pending.push(jsonFor(group));
        if (group.pending.length >= batchMax) flush(group);
        else if (group.pending.length === 1) group.timer = setTimeout(flush, batchMs, group);
      }
      return;
    }
    let frame: Buffer | undefined;
    let sseFrame: Buffer | undefined;
    let frames: Map<string, { frame: Buffer; sse?: Buffer }> | undefined;
    for (const group of groups.values()) {
      if (group.match && !group.match(item as unknown as Record<string, unknown>)) continue;
      if (group.sockets.size === 0 && group.sse.size === 0) continue;
      if (group.fieldsKey === defaultFieldsKey) {
        frame ??= Buffer.from(jsonFor(group));
        for (const ws of group.sockets) ws.send(frame, { binary: false });
        if (group.sse.size > 0) {
          sseFrame ??= sseFrameOf(frame);
          for (const res of group.sse) res.write(sseFrame);
        }
        continue;
      }
      frames ??= new Map();
      let own = frames.get(group.fieldsKey);
      if (!own) frames.set(group.fieldsKey, (own = { frame: Buffer.from(jsonFor(group)) }));
      for (const ws of group.sockets) ws.send(own.frame, { binary: false });
      if (group.sse.size > 0) {
        own.sse ??= sseFrameOf(own.frame);
        for (const res of group.sse) res.write(own.sse);
      }
    }
  };

  const port = Number(process.env.PORT ?? 4000);
  const host = process.env.HOST ?? '0.0.0.0';
  let workload: ReturnType<typeof createWorkload> | undefined;
  if (worker) {
    process.on('message', (m: unknown) => {
      if (isRelay(m)) for (const item of m.items) onItem(item);
    });
    // The primary's metrics ticker reports the instance's connections: every worker's, added up.
    setInterval(() => process.send?.({ floorClients: clients }), 500).unref();
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
  } else {
    workload = createWorkload({ connections: () => clients });
    await new Promise<void>((resolve) => server.listen(workload?.config.port ?? port, workload?.config.host ?? host, resolve));
    await workload.start((s, item) => {
      if (s === stream) onItem(item);
    });
  }
  ready = true;

  const stop = () => {
    ready = false;
    void workload?.stop();
    server.closeAllConnections();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

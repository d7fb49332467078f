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
 * A client may pass `?address=0x…,0x…` and/or `?status=A,B` (transactions): the
 * floor then evaluates each distinct filter once per event, like an engine would.
 */
import { createServer, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { descriptorOf, isStreamName, type StreamName } from '../../src/streams/registry.ts';
import type { StreamItem } from '../../src/streams/index.ts';
import { answerOps, createWorkload } from './workload.ts';

const streamName = process.env.FLOOR_STREAM ?? 'metrics';
if (!isStreamName(streamName)) throw new Error(`FLOOR_STREAM: unknown stream ${streamName}`);
const stream: StreamName = streamName;
const fields = (process.env.FLOOR_FIELDS ?? [...descriptorOf(stream).contractFields, 'seq'].join(','))
  .split(',')
  .map((f) => f.trim())
  .filter(Boolean);

const batchMs = Number(process.env.FLOOR_BATCH_MS ?? 0);
const batchMax = Number(process.env.FLOOR_BATCH_MAX ?? 0);
const batching = batchMs > 0 && batchMax > 0;

interface Group {
  match: ((item: Record<string, unknown>) => boolean) | null;
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
  const key = `${addresses.join(',')}|${statuses.join(',')}`;
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
    group = { match, sockets: new Set(), sse: new Set(), pending: [], timer: undefined };
    groups.set(key, group);
  }
  return group;
}

let clients = 0;
let ready = false;
const workload = createWorkload({ connections: () => clients });

function project(item: StreamItem): string {
  const source = item as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f] = source[f];
  return JSON.stringify(out);
}

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
    const sseFrame = Buffer.concat([Buffer.from('data: '), frame, Buffer.from('\n\n')]);
    for (const res of group.sse) res.write(sseFrame);
  }
}

await new Promise<void>((resolve) => server.listen(workload.config.port, workload.config.host, resolve));
await workload.start((s, item) => {
  if (s !== stream) return;
  if (batching) {
    let json: string | undefined;
    for (const group of groups.values()) {
      if (group.match && !group.match(item as unknown as Record<string, unknown>)) continue;
      if (group.sockets.size === 0 && group.sse.size === 0) continue;
      group.pending.push((json ??= project(item)));
      if (group.pending.length >= batchMax) flush(group);
      else if (group.pending.length === 1) group.timer = setTimeout(flush, batchMs, group);
    }
    return;
  }
  let frame: Buffer | undefined;
  let sseFrame: Buffer | undefined;
  for (const group of groups.values()) {
    if (group.match && !group.match(item as unknown as Record<string, unknown>)) continue;
    frame ??= Buffer.from(project(item));
    for (const ws of group.sockets) ws.send(frame, { binary: false });
    if (group.sse.size > 0) {
      sseFrame ??= Buffer.concat([Buffer.from('data: '), frame, Buffer.from('\n\n')]);
      for (const res of group.sse) res.write(sseFrame);
    }
  }
});
ready = true;

const stop = () => {
  ready = false;
  void workload.stop();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

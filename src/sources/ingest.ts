import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../bus/bus.ts';
import { isStreamName, parseEvent, type EventOf, type StreamName } from '../domain/index.ts';
import { naturalKey } from '../domain/keys.ts';
import type { Logger } from '../ops/logger.ts';

export const INGEST_PREFIX = '/api/v11/ingest/';
export const MAX_BATCH_EVENTS = 10_000;

/** Streams a chain node can feed; metrics are measured by each instance itself. */
const INGESTIBLE: readonly StreamName[] = ['transactions', 'validators', 'consensus', 'network'];

export interface IngestProblem {
  index: number;
  field: string;
  reason: string;
}

export interface IngestCounters {
  accepted: number;
  duplicates: number;
  rejectedBatches: number;
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(JSON.stringify(body));
}

/** Reads the body up to `limit` bytes; resolves null when it is larger. */
async function readBody(request: IncomingMessage, limit: number): Promise<string | null> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One event (JSON object), a batch (JSON array), or NDJSON (one object per line). */
function parseBody(body: string, contentType: string): { items: unknown[] } | { problem: IngestProblem } {
  const ndjson = contentType.includes('ndjson') || contentType.includes('jsonlines');
  if (!ndjson) {
    try {
      const parsed: unknown = JSON.parse(body);
      return { items: Array.isArray(parsed) ? parsed : [parsed] };
    } catch (error) {
      return { problem: { index: 0, field: '(body)', reason: `not JSON: ${(error as Error).message}` } };
    }
  }
  const items: unknown[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (!line) continue;
    try {
      items.push(JSON.parse(line));
    } catch (error) {
      return { problem: { index: items.length, field: '(line)', reason: `line ${i + 1} is not JSON: ${(error as Error).message}` } };
    }
  }
  return { items };
}

/**
 * `POST /api/v11/ingest/<stream>`: how a chain node feeds events over HTTP.
 * Authenticated with INGEST_TOKEN (separate from subscriber tokens). A batch
 * is validated whole — any invalid event rejects it with every problem listed,
 * nothing published — then published in order; redeliveries inside the dedup
 * window are dropped and counted.
 */
export function createIngestRoute(deps: { token: string; maxBodyBytes: number; bus: EventBus; logger: Logger }) {
  const { bus, logger } = deps;
  const expected = Buffer.from(`Bearer ${deps.token}`);
  const counters: IngestCounters = { accepted: 0, duplicates: 0, rejectedBatches: 0 };

  const authorized = (header: string | undefined) => {
    const given = Buffer.from(header ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  return {
    counters,
    async handle(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> {
      const name = pathname.slice(INGEST_PREFIX.length);
      if (!isStreamName(name) || !INGESTIBLE.includes(name)) {
        return send(response, 404, { error: `no ingest endpoint for "${name.slice(0, 64)}"; use one of ${INGESTIBLE.join(', ')}` });
      }
      if (request.method !== 'POST') return send(response, 405, { error: 'use POST' }, { allow: 'POST' });
      if (!authorized(request.headers.authorization)) {
        return send(response, 401, { error: 'a valid ingest token is required' }, { 'www-authenticate': 'Bearer realm="ingest"' });
      }
      if (!bus.healthy()) return send(response, 503, { error: 'the event bus is unavailable; retry later' }, { 'retry-after': '1' });
      const body = await readBody(request, deps.maxBodyBytes);
      if (body === null) {
        // Tell the client, then stop reading what is left of the oversized body.
        response.setHeader('connection', 'close');
        send(response, 413, { error: `body larger than ${deps.maxBodyBytes} bytes` });
        request.destroy();
        return;
      }
      const parsed = parseBody(body, request.headers['content-type'] ?? '');
      if ('problem' in parsed) {
        counters.rejectedBatches++;
        return send(response, 400, { error: 'invalid body', problems: [parsed.problem] });
      }
      if (parsed.items.length > MAX_BATCH_EVENTS) {
        counters.rejectedBatches++;
        return send(response, 413, { error: `at most ${MAX_BATCH_EVENTS} events per batch` });
      }
      const events: EventOf<StreamName>[] = [];
      const problems: IngestProblem[] = [];
      parsed.items.forEach((item, index) => {
        const result = parseEvent(name, item);
        if (result.ok) events.push(result.event);
        else for (const p of result.problems) problems.push({ index, field: p.path, reason: p.message });
      });
      if (problems.length > 0) {
        counters.rejectedBatches++;
        return send(response, 400, { error: 'invalid events; nothing was published', problems: problems.slice(0, 1000) });
      }
      let accepted = 0;
      let duplicates = 0;
      try {
        for (const event of events) {
          if (await bus.publish(name, event as never, { dedupKey: naturalKey(name, event as never) })) accepted++;
          else duplicates++;
        }
      } catch (error) {
        logger.error({ err: error, stream: name, accepted }, 'ingest publish failed');
        return send(response, 503, { error: 'the event bus failed mid-batch; retry (duplicates are dropped)', accepted, duplicates });
      } finally {
        counters.accepted += accepted;
        counters.duplicates += duplicates;
      }
      send(response, 200, { accepted, duplicates });
    },
  };
}

export type IngestRoute = ReturnType<typeof createIngestRoute>;

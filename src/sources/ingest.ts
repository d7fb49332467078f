import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { EventBus } from '../bus/bus.ts';
import { RealtimeError } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import { CHAIN_STREAMS, descriptorOf, isStreamName, type AnyEvent, type StreamName } from '../streams/registry.ts';
import { sendJson, type Route } from '../transports/http/router.ts';

export const INGEST_PREFIX = '/api/v11/ingest/';
export const MAX_BATCH_EVENTS = 10_000;

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

/** Reads the body up to `limit` bytes; throws PAYLOAD_TOO_LARGE past it. */
async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = () => new RealtimeError('PAYLOAD_TOO_LARGE', `body larger than ${limit} bytes`, { limit });
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const invalid = (message: string, problems: IngestProblem[]) => new RealtimeError('BAD_REQUEST', message, { problems });

/** One event (JSON object), a batch (JSON array), or NDJSON (one object per line). */
function parseBody(body: string, contentType: string): unknown[] {
  const ndjson = contentType.includes('ndjson') || contentType.includes('jsonlines');
  if (!ndjson) {
    try {
      const parsed: unknown = JSON.parse(body);
      return Array.isArray(parsed) ? parsed : [parsed];
    } catch (error) {
      throw invalid('invalid body', [{ index: 0, field: '(body)', reason: `not JSON: ${(error as Error).message}` }]);
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
      throw invalid('invalid body', [
        { index: items.length, field: '(line)', reason: `line ${i + 1} is not JSON: ${(error as Error).message}` },
      ]);
    }
  }
  return items;
}

/**
 * `POST /api/v11/ingest/<stream>`: how a chain node feeds events over HTTP, for
 * every chain stream in the registry. Authenticated with INGEST_TOKEN (separate
 * from subscriber tokens). A batch is validated whole against the stream's
 * descriptor — any invalid event rejects it with every problem listed, nothing
 * published — then published in order; redeliveries inside the dedup window
 * (by the stream's natural key) are dropped and counted.
 *
 * 200 means every event is stored on the bus (in Redis). The bus gets
 * `timeoutMs` to confirm the batch; past it, or when the bus fails, the answer
 * is 503 UNAVAILABLE with Retry-After and `accepted` (events confirmed so far):
 * the rest may or may not be stored, so the client sends the same batch again
 * — what was stored is then dropped as a duplicate by its natural key (inside
 * DEDUP_WINDOW_MS), so nothing is stored twice.
 */
export function createIngestRoute(deps: {
  token: string;
  maxBodyBytes: number;
  timeoutMs: number;
  bus: EventBus;
  logger: Logger;
}): Route & {
  readonly counters: IngestCounters;
} {
  const { bus, logger } = deps;
  const expected = Buffer.from(`Bearer ${deps.token}`);
  const counters: IngestCounters = { accepted: 0, duplicates: 0, rejectedBatches: 0 };
  const authorized = (header: string | undefined) => {
    const given = Buffer.from(header ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const rejected = (error: RealtimeError) => {
    counters.rejectedBatches++;
    return error;
  };

  return {
    name: 'ingest',
    path: INGEST_PREFIX,
    prefix: true,
    counters,
    async handle({ request, response, url }) {
      const name = url.pathname.slice(INGEST_PREFIX.length);
      if (!isStreamName(name) || !CHAIN_STREAMS.includes(name)) {
        throw new RealtimeError('NOT_FOUND', `no ingest endpoint for "${name.slice(0, 64)}"; use one of ${CHAIN_STREAMS.join(', ')}`);
      }
      if (request.method !== 'POST') throw new RealtimeError('METHOD_NOT_ALLOWED', 'use POST', { allow: 'POST' });
      if (!authorized(request.headers.authorization)) throw new RealtimeError('AUTH_REQUIRED', 'a valid ingest token is required');
      if (!bus.healthy()) throw new RealtimeError('UNAVAILABLE', 'the event bus is unavailable; retry later');
      let body: string;
      try {
        body = await readBody(request, deps.maxBodyBytes);
      } catch (error) {
        // Tell the client, then stop reading what is left of the oversized body.
        response.setHeader('connection', 'close');
        response.once('finish', () => request.destroy());
        throw error;
      }
      let items: unknown[];
      try {
        items = parseBody(body, request.headers['content-type'] ?? '');
      } catch (error) {
        throw rejected(error as RealtimeError);
      }
      if (items.length > MAX_BATCH_EVENTS)
        throw rejected(new RealtimeError('PAYLOAD_TOO_LARGE', `at most ${MAX_BATCH_EVENTS} events per batch`));
      const stream = descriptorOf(name);
      const events: AnyEvent[] = [];
      const problems: IngestProblem[] = [];
      items.forEach((item, index) => {
        const result = stream.parse(item);
        if (result.ok) events.push(result.event);
        else for (const p of result.problems) problems.push({ index, field: p.path, reason: p.message });
      });
      if (problems.length > 0) throw rejected(invalid('invalid events; nothing was published', problems.slice(0, 1000)));
      let accepted = 0;
      let duplicates = 0;
      // All at once: the bus sends them in this order on one connection (Redis runs them in that order), so a big
      // batch costs one round trip, not one per event.
      const each = events.map(async (event) => {
        if (await bus.publish(name as StreamName, event as never, { dedupKey: stream.naturalKey(event) })) accepted++;
        else duplicates++;
      });
      const publishing = Promise.all(each);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), deps.timeoutMs);
      });
      try {
        const outcome = await Promise.race([publishing, deadline]);
        if (outcome === 'late') {
          logger.warn(
            { stream: name, accepted, events: events.length, timeoutMs: deps.timeoutMs },
            'ingest: the bus did not confirm in time',
          );
          throw new RealtimeError(
            'UNAVAILABLE',
            `the event bus did not confirm the events within ${deps.timeoutMs} ms; they may or may not be stored: send the same events again (duplicates are dropped)`,
            { accepted, duplicates, events: events.length },
          );
        }
      } catch (error) {
        if (error instanceof RealtimeError) throw error;
        logger.error({ err: error, stream: name, accepted }, 'ingest publish failed');
        throw new RealtimeError('UNAVAILABLE', 'the event bus failed mid-batch; retry (duplicates are dropped)', {
          accepted,
          duplicates,
          events: events.length,
        });
      } finally {
        clearTimeout(timer);
        // Publishes still out (past the deadline, or beside the one that failed) settle later; they are counted then.
        void publishing.catch(() => {});
        void Promise.allSettled(each).then(() => {
          counters.accepted += accepted;
          counters.duplicates += duplicates;
        });
      }
      sendJson(response, 200, { accepted, duplicates });
    },
  };
}

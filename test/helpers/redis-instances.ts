import { randomBytes } from 'node:crypto';
import type { StreamName, TransactionEvent } from './contract.ts';
import { startChildServer, type ChildServer } from './child-server.ts';
import { makeTransaction, postIngest, TEST_INGEST_TOKEN } from './ingest-client.ts';
import type { RedisServer } from './redis-server.ts';
import { TEST_LIMITS_ENV, type ServerUrls } from './server.ts';
import { handleOf, track, useScope } from './track.ts';

/**
 * Server instances on one real Redis, as separate processes started the way
 * `npm start` starts them: the scale-out deployment in miniature.
 */

/** A key prefix no other test (or earlier run on the same Redis) uses. */
export function uniquePrefix(name: string): string {
  return `t-${name}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * A server fed by a chain node's Redis Streams (SOURCES=redis, BUS=redis) on `redis`: fresh key and stream prefixes
 * named after `name`, and the env that uses them (for useTestServer). The node appends to `<streamPrefix>:<stream>`.
 */
export function redisStreamsSource(redis: RedisServer, name: string) {
  const keyPrefix = uniquePrefix(`${name}-bus`);
  const streamPrefix = `${uniquePrefix(`${name}-node`)}:chain`;
  const env = (): Record<string, string> => ({
    BUS: 'redis',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: keyPrefix,
    REDIS_STREAM_PREFIX: streamPrefix,
    SOURCES: 'redis',
  });
  return { keyPrefix, streamPrefix, env };
}

/** The env of one instance on `redis` under `prefix`: Redis bus, HTTP ingest, generous client limits. */
export function redisInstanceEnv(redis: RedisServer, prefix: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    BUS: 'redis',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    SOURCES: 'ingest',
    INGEST_TOKEN: TEST_INGEST_TOKEN,
    ...TEST_LIMITS_ENV,
    ...env,
  };
}

export function startRedisInstance(redis: RedisServer, prefix: string, env: Record<string, string> = {}): Promise<ChildServer> {
  return startChildServer(redisInstanceEnv(redis, prefix, env), 60_000);
}

/** Starts `count` instances one after the other (the box has two cores; parallel tsx startups only contend). */
export async function startRedisInstances(
  redis: RedisServer,
  prefix: string,
  count: number,
  env: Record<string, string> = {},
): Promise<ChildServer[]> {
  const started: ChildServer[] = [];
  try {
    for (let i = 0; i < count; i++) started.push(await startRedisInstance(redis, prefix, env));
  } catch (error) {
    await Promise.all(started.map((s) => s.dispose()));
    throw error;
  }
  return started;
}

/**
 * The suite's instances on `redis` (a handle from useRedisServer), started one
 * after the other in a beforeAll and killed with the suite. Returns one handle
 * per instance.
 */
export function useRedisInstances(redis: RedisServer, prefix: string, count: number, env: Record<string, string> = {}): ChildServer[] {
  const started: ChildServer[] = [];
  useScope(async () => {
    started.push(...(await startRedisInstances(redis, prefix, count, env)));
  }, 120_000);
  return Array.from({ length: count }, (_, i) => handleOf(() => started[i], `instance ${i} on Redis`));
}

export interface IngestLoop {
  /** Accepted events in the order the bus numbered them (requests are sequential, so send order is bus order). */
  readonly accepted: TransactionEvent[];
  /** Every event sent, accepted or not, in send order. */
  readonly attempted: TransactionEvent[];
  /** Events of requests that failed (non-200 or no answer): published or not, the client cannot know. */
  readonly uncertain: TransactionEvent[];
  readonly failures: string[];
  /** Resolves once the loop has stopped (after the request in flight). */
  stop(): Promise<void>;
}

/**
 * Keeps a chain node ingesting transactions, batch after batch, alternating
 * between instances, until stopped or `maxBatches` are sent. Each request
 * waits for the previous one, so the bus order of events is the order here.
 */
export function startIngestLoop(
  targets: readonly ServerUrls[],
  tag: string,
  options: { batch?: number; maxBatches?: number; pauseMs?: number; stream?: StreamName } = {},
): IngestLoop {
  const { batch = 3, maxBatches = 2000, pauseMs = 15 } = options;
  const accepted: TransactionEvent[] = [];
  const attempted: TransactionEvent[] = [];
  const uncertain: TransactionEvent[] = [];
  const failures: string[] = [];
  let running = true;
  let index = 0;
  const done = (async () => {
    for (let n = 0; running && n < maxBatches; n++) {
      const events = Array.from({ length: batch }, () => makeTransaction(tag, index++));
      const target = targets[n % targets.length] as ServerUrls;
      attempted.push(...events);
      try {
        const response = await postIngest(target, 'transactions', events);
        if (response.status === 200) accepted.push(...events);
        else {
          uncertain.push(...events);
          failures.push(`${response.status} ${response.text}`);
        }
      } catch (error) {
        uncertain.push(...events);
        failures.push(String(error));
      }
      // Pacing, not synchronisation: keeps the stream flowing at a rate the loaded box sustains.
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  return track({
    accepted,
    attempted,
    uncertain,
    failures,
    async stop() {
      running = false;
      await done;
    },
  });
}

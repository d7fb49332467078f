import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { CHAIN_STREAMS, descriptorOf, type StreamName } from '../streams/registry.ts';
import type { Logger } from '../ops/logger.ts';
import type { EventSource } from './source.ts';

const GROUP = 'aurigraph-realtime';
const BLOCK_MS = 1000;
/** Entries another consumer left unacknowledged this long are taken over (it probably died). */
const CLAIM_IDLE_MS = 30_000;

type Entries = [id: string, fields: string[]][];

/**
 * Reads what a chain node appends with `XADD <prefix>:<stream> * event '<json>'`,
 * through a consumer group, so each entry is handled by one instance, which
 * validates it and publishes it on the bus (and so to every instance). Entries
 * are acknowledged only after publishing; an instance that dies leaves them
 * pending and another claims them.
 */
export function createRedisStreamsSource(options: { url: string; prefix: string; logger: Logger }): EventSource & {
  readonly counters: { consumed: number; rejected: number; duplicates: number };
} {
  const { logger, prefix } = options;
  const redis = new Redis(options.url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(2000, 50 * 2 ** Math.min(attempt, 6)),
  });
  redis.on('error', (error: Error) => logger.warn({ source: 'redis-streams', err: error.message }, 'redis error'));
  const consumer = `${hostname()}-${process.pid}`;
  const keyOf = (stream: StreamName) => `${prefix}:${stream}`;
  const counters = { consumed: 0, rejected: 0, duplicates: 0 };
  let running = false;
  let loop: Promise<void> | undefined;

  return {
    name: 'redis-streams',
    counters,
    async start(publish) {
      await redis.connect();
      /** Creates the consumer groups that do not exist, reading from `from` ('$': what comes next; '0': all there is). */
      const createGroups = async (from: '$' | '0') => {
        for (const stream of CHAIN_STREAMS) {
          try {
            await redis.xgroup('CREATE', keyOf(stream), GROUP, from, 'MKSTREAM');
          } catch (error) {
            if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
          }
        }
      };
      await createGroups('$');
      const handle = async (stream: StreamName, entries: Entries) => {
        for (const [id, fields] of entries) {
          const raw = fields[fields.indexOf('event') + 1];
          const descriptor = descriptorOf(stream);
          let result: ReturnType<typeof descriptor.parse> | undefined;
          try {
            result = descriptor.parse(JSON.parse(raw ?? ''));
          } catch {
            result = undefined;
          }
          if (result?.ok) {
            // A failed publish throws out of here before the XACK: the entry stays pending and is read again.
            const fresh = await publish(stream, result.event as never, { dedupKey: descriptor.naturalKey(result.event) });
            if (fresh === false) counters.duplicates++;
            else counters.consumed++;
          } else {
            counters.rejected++;
            logger.warn({ stream, id, problems: result && !result.ok ? result.problems : 'not JSON' }, 'invalid chain event; skipped');
          }
          await redis.xack(keyOf(stream), GROUP, id);
        }
      };
      running = true;
      loop = (async () => {
        let failures = 0;
        let sinceClaim = Date.now();
        // First what this consumer left pending before a restart, then new entries.
        let position = '0';
        while (running) {
          try {
            if (Date.now() - sinceClaim > CLAIM_IDLE_MS) {
              sinceClaim = Date.now();
              for (const stream of CHAIN_STREAMS) {
                const [, claimed] = (await redis.xautoclaim(keyOf(stream), GROUP, consumer, CLAIM_IDLE_MS, '0-0', 'COUNT', 100)) as [
                  string,
                  Entries,
                ];
                await handle(stream, claimed);
              }
            }
            const result = (await redis.xreadgroup(
              'GROUP',
              GROUP,
              consumer,
              'COUNT',
              100,
              'BLOCK',
              BLOCK_MS,
              'STREAMS',
              ...CHAIN_STREAMS.map(keyOf),
              ...CHAIN_STREAMS.map(() => position),
            )) as [key: string, entries: Entries][] | null;
            failures = 0;
            let pendingLeft = false;
            for (const [key, entries] of result ?? []) {
              if (position === '0' && entries.length > 0) pendingLeft = true;
              await handle(key.slice(prefix.length + 1) as StreamName, entries);
            }
            if (position === '0' && !pendingLeft) position = '>';
          } catch (error) {
            if (!running) return;
            failures++;
            // Re-read this consumer's pending entries (those not acknowledged) before new ones.
            position = '0';
            logger.warn({ source: 'redis-streams', err: (error as Error).message }, 'read failed; retrying');
            // Redis lost the groups (restarted empty, flushed): everything in the streams now came after that loss.
            if (String((error as Error).message).includes('NOGROUP')) await createGroups('0').catch(() => {});
            await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * failures)));
          }
        }
      })();
    },
    async stop() {
      running = false;
      redis.disconnect();
      await loop;
    },
  };
}

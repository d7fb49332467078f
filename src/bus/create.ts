import type { Config } from '../config.ts';
import type { Logger } from '../ops/logger.ts';
import type { EventBus } from './bus.ts';
import { createMemoryBus } from './memory.ts';
import { createRedisBus } from './redis.ts';

/** The bus BUS names: in-process (memory) or shared by a fleet (redis). Owned by the process that owns the sources. */
export function createBus(config: Config, logger: Logger): EventBus {
  if (config.bus === 'memory') return createMemoryBus({ dedupWindowMs: config.dedupWindowMs });
  return createRedisBus({
    url: config.redis.url,
    prefix: config.redis.keyPrefix,
    bufferSize: config.replay.bufferSize,
    dedupWindowMs: config.dedupWindowMs,
    publishTimeoutMs: config.ingest.timeoutMs,
    logger,
  });
}

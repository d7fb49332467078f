import { z } from 'zod';
import { RealtimeError } from './errors.ts';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/**
 * Every option the server reads, with its env name and default. The README's
 * configuration table mirrors this object; keep them together.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(9003),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  SOURCES: list.pipe(z.array(z.enum(['simulator'])).min(1)).default(['simulator']),
  METRICS_INTERVAL_MS: int(50, 3_600_000).default(1000),

  SIM_SEED: int(0, 2 ** 32 - 1).default(1),
  SIM_TPS: z.coerce.number().min(0).max(100_000).default(20),
  SIM_VALIDATORS: int(1, 1000).default(21),
  SIM_BLOCK_TIME_MS: int(50, 60_000).default(1000),
  SIM_PEERS: int(1, 10_000).default(24),

  REPLAY_BUFFER_SIZE: int(0, 10_000_000).default(10_000),
  REPLAY_TTL_MS: int(0).default(600_000),
  SUBSCRIBER_QUEUE_LIMIT: int(1, 1_000_000).default(1000),

  WS_PING_INTERVAL_MS: int(100).default(30_000),
  WS_MAX_FRAME_BYTES: int(125).default(64 * 1024),
  WS_MAX_MESSAGE_BYTES: int(125).default(1024 * 1024),
  WS_PERMESSAGE_DEFLATE: bool.default(false),
  WS_DEFLATE_LEVEL: int(0, 9).default(6),
  WS_DEFLATE_THRESHOLD_BYTES: int(0).default(1024),
  WS_MAX_BUFFERED_BYTES: int(1024).default(512 * 1024),

  GRAPHQL_WS_ENGINE: z.enum(['shared', 'standard']).default('shared'),
  BROADCAST_LATENCY_TARGET_MS: int(1).default(100),
  SHUTDOWN_TIMEOUT_MS: int(0).default(10_000),
  CORS_ORIGINS: list.default(['http://localhost:5173']),
  GRAPHIQL: bool.optional(),
});

export type Config = {
  nodeEnv: 'development' | 'production' | 'test';
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  sources: readonly 'simulator'[];
  metricsIntervalMs: number;
  simulator: { seed: number; tps: number; validators: number; blockTimeMs: number; peers: number };
  replay: { bufferSize: number; ttlMs: number };
  subscriberQueueLimit: number;
  ws: {
    pingIntervalMs: number;
    maxFrameBytes: number;
    maxMessageBytes: number;
    perMessageDeflate: boolean;
    deflateLevel: number;
    deflateThresholdBytes: number;
    maxBufferedBytes: number;
  };
  /** `shared`: the fan-out engine (execute once per distinct operation per event); `standard`: graphql-ws's own loop. */
  graphqlWsEngine: 'shared' | 'standard';
  broadcastLatencyTargetMs: number;
  shutdownTimeoutMs: number;
  corsOrigins: readonly string[];
  graphiql: boolean;
};

/** Parses the environment once; reports every problem together so an operator fixes them in one go. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset" so `PORT= npm start` behaves like no PORT at all.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new RealtimeError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { problems });
  }
  const e = parsed.data;
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    sources: e.SOURCES,
    metricsIntervalMs: e.METRICS_INTERVAL_MS,
    simulator: {
      seed: e.SIM_SEED,
      tps: e.SIM_TPS,
      validators: e.SIM_VALIDATORS,
      blockTimeMs: e.SIM_BLOCK_TIME_MS,
      peers: e.SIM_PEERS,
    },
    replay: { bufferSize: e.REPLAY_BUFFER_SIZE, ttlMs: e.REPLAY_TTL_MS },
    subscriberQueueLimit: e.SUBSCRIBER_QUEUE_LIMIT,
    ws: {
      pingIntervalMs: e.WS_PING_INTERVAL_MS,
      maxFrameBytes: e.WS_MAX_FRAME_BYTES,
      maxMessageBytes: e.WS_MAX_MESSAGE_BYTES,
      perMessageDeflate: e.WS_PERMESSAGE_DEFLATE,
      deflateLevel: e.WS_DEFLATE_LEVEL,
      deflateThresholdBytes: e.WS_DEFLATE_THRESHOLD_BYTES,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
    },
    graphqlWsEngine: e.GRAPHQL_WS_ENGINE,
    broadcastLatencyTargetMs: e.BROADCAST_LATENCY_TARGET_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    corsOrigins: e.CORS_ORIGINS,
    graphiql: e.GRAPHIQL ?? e.NODE_ENV !== 'production',
  };
}

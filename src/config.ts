import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { RealtimeError } from './errors.ts';
import { connectionCapacity, openFileLimit } from './security/capacity.ts';
import { createHostAllowList, defaultAllowedHosts } from './security/origin.ts';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']).transform((v) => ['true', '1', 'yes', 'on'].includes(v));
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export const SOURCE_NAMES = ['simulator', 'ingest', 'redis'] as const;

/**
 * Every option the server reads: its env name, type, default and the slice of
 * `Config` it lands in. The README's configuration table mirrors this schema.
 * `Config` is inferred from it, so there is no second description to keep in step.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(9003),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),

  SOURCES: list.pipe(z.array(z.enum(SOURCE_NAMES)).min(1)).optional(),
  BUS: z.enum(['memory', 'redis']).default('memory'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'expected redis://… or rediss://…')
    .default('redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: z.string().min(1).default('aurigraph'),
  REDIS_STREAM_PREFIX: z.string().min(1).default('aurigraph:chain'),
  INGEST_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  INGEST_MAX_BODY_BYTES: int(1024).default(1024 * 1024),
  /** How long an ingest request (and any publish to Redis) waits for the bus to confirm, before 503 + Retry-After. */
  INGEST_TIMEOUT_MS: int(50, 600_000).default(2000),
  DEDUP_WINDOW_MS: int(0).default(300_000),
  METRICS_INTERVAL_MS: int(50, 3_600_000).default(1000),

  SIM_SEED: int(0, 2 ** 32 - 1).default(1),
  SIM_TPS: z.coerce.number().min(0).max(100_000).default(20),
  SIM_VALIDATORS: int(1, 1000).default(21),
  SIM_BLOCK_TIME_MS: int(50, 60_000).default(1000),
  SIM_PEERS: int(1, 10_000).default(24),

  REPLAY_BUFFER_SIZE: int(0, 10_000_000).default(10_000),
  REPLAY_TTL_MS: int(0).default(600_000),
  SLOW_CONSUMER_LAG_MS: int(100, 600_000).default(5000),
  SLOW_CONSUMER_BUFFER_BYTES: int(1024).default(512 * 1024),

  WS_PING_INTERVAL_MS: int(100).default(30_000),
  WS_MAX_FRAME_BYTES: int(125).default(64 * 1024),
  WS_MAX_MESSAGE_BYTES: int(125).default(1024 * 1024),
  WS_PERMESSAGE_DEFLATE: bool.default(false),
  WS_DEFLATE_LEVEL: int(0, 9).default(6),
  WS_DEFLATE_THRESHOLD_BYTES: int(0).default(1024),
  KEEPALIVE_MS: int(100).optional(),
  /** The earlier name of KEEPALIVE_MS, still read (with a warning) so an upgrade keeps its setting. */
  SSE_KEEPALIVE_MS: int(100).optional(),
  SSE_RESERVATION_TTL_MS: int(100).default(10_000),

  BROADCAST_LATENCY_TARGET_MS: int(1).default(100),
  SHUTDOWN_TIMEOUT_MS: int(0).default(10_000),
  WORKERS: int(1, 256).optional(),
  READY_GRACE_MS: int(0).optional(),
  HTTP_HEADERS_TIMEOUT_MS: int(100).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: int(0).default(30_000),
  HTTP_KEEPALIVE_TIMEOUT_MS: int(0).default(5000),
  CORS_ORIGINS: list.default(['http://localhost:5173']),
  ALLOWED_HOSTS: list.optional(),
  GRAPHIQL: bool.optional(),

  AUTH_MODE: z.enum(['none', 'jwt']).default('none'),
  AUTH_ALLOW_ANONYMOUS: bool.default(false),
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256)').optional(),
  AUTH_JWKS_URL: z.url().optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_CLOCK_TOLERANCE_S: int(0, 3600).default(5),

  MAX_CONNECTIONS: int(1).optional(),
  MAX_CONNECTIONS_PER_IP: int(1).default(100),
  RATE_LIMIT_PER_IP: z.coerce.number().positive().default(10),
  RATE_LIMIT_BURST: int(1).default(20),
  TRUST_PROXY: bool.default(false),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: int(1).default(100),
  WS_MESSAGE_RATE: z.coerce.number().positive().default(50),
  WS_MESSAGE_BURST: int(1).optional(),
  CONNECTION_INIT_TIMEOUT_MS: int(100).default(3000),

  GRAPHQL_MAX_DEPTH: int(1).default(10),
  GRAPHQL_MAX_ALIASES: int(0).default(15),
  GRAPHQL_MAX_TOKENS: int(10).default(1000),
  GRAPHQL_MAX_DOCUMENT_BYTES: int(100).default(16 * 1024),
  GRAPHQL_INTROSPECTION: bool.optional(),

  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
});

type Env = z.output<typeof envSchema>;

/** Cross-option rules: every problem is reported, none stops the others from being found. */
function checkCombinations(e: Env, context: z.RefinementCtx): void {
  const production = e.NODE_ENV === 'production';
  const problem = (path: string, message: string) => context.addIssue({ code: 'custom', path: [path], message });
  if (production && e.AUTH_MODE === 'none' && !e.AUTH_ALLOW_ANONYMOUS) {
    problem('AUTH_MODE', '"none" is refused in production; set AUTH_MODE=jwt or AUTH_ALLOW_ANONYMOUS=true');
  }
  if (e.AUTH_MODE === 'jwt' && !e.AUTH_JWT_SECRET === !e.AUTH_JWKS_URL) {
    problem('AUTH_MODE', 'jwt needs exactly one of AUTH_JWT_SECRET (HS256) or AUTH_JWKS_URL (RS256/ES256)');
  }
  if (sourcesOf(e).includes('ingest') && !e.INGEST_TOKEN) problem('INGEST_TOKEN', 'required when SOURCES includes ingest');
  if (!e.TLS_CERT_FILE !== !e.TLS_KEY_FILE) problem('TLS_CERT_FILE/TLS_KEY_FILE', 'set both or neither');
  for (const entry of e.ALLOWED_HOSTS ?? []) {
    try {
      createHostAllowList([entry]);
    } catch (error) {
      problem('ALLOWED_HOSTS', (error as Error).message);
    }
  }
  if (e.READY_GRACE_MS !== undefined && e.READY_GRACE_MS > 0 && e.READY_GRACE_MS >= e.SHUTDOWN_TIMEOUT_MS) {
    problem('READY_GRACE_MS', `must be less than SHUTDOWN_TIMEOUT_MS (${e.SHUTDOWN_TIMEOUT_MS}), which bounds the whole shutdown`);
  }
  if (e.HTTP_REQUEST_TIMEOUT_MS > 0 && e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    problem('HTTP_HEADERS_TIMEOUT_MS', `must not exceed HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`);
  }
}

function sourcesOf(e: Env): readonly (typeof SOURCE_NAMES)[number][] {
  return e.SOURCES ?? (e.NODE_ENV === 'production' ? ['ingest'] : ['simulator']);
}

/** The environment, checked, grouped into the slices each component takes. */
const configSchema = envSchema.superRefine(checkCombinations).transform((e) => {
  const production = e.NODE_ENV === 'production';
  return {
    nodeEnv: e.NODE_ENV,
    /** Production masks internal error messages and turns GraphiQL and introspection off by default. */
    production,
    port: e.PORT,
    host: e.HOST,
    /**
     * Processes serving the port (node:cluster): one per core in production, one in development. With more than one,
     * a primary process owns the sources, the bus and the numbering; limits are split between the workers.
     */
    workers: e.WORKERS ?? (production ? availableParallelism() : 1),
    logLevel: e.LOG_LEVEL,
    /** `auto`: readable lines in a development terminal, JSON otherwise. */
    logFormat: e.LOG_FORMAT,
    sources: sourcesOf(e),
    bus: e.BUS,
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, streamPrefix: e.REDIS_STREAM_PREFIX },
    ingest: { token: e.INGEST_TOKEN, maxBodyBytes: e.INGEST_MAX_BODY_BYTES, timeoutMs: e.INGEST_TIMEOUT_MS },
    dedupWindowMs: e.DEDUP_WINDOW_MS,
    metricsIntervalMs: e.METRICS_INTERVAL_MS,
    simulator: { seed: e.SIM_SEED, tps: e.SIM_TPS, validators: e.SIM_VALIDATORS, blockTimeMs: e.SIM_BLOCK_TIME_MS, peers: e.SIM_PEERS },
    replay: { bufferSize: e.REPLAY_BUFFER_SIZE, ttlMs: e.REPLAY_TTL_MS },
    /** How the delivery engine judges and treats a subscriber that cannot keep up. */
    delivery: {
      /** A WebSocket subscriber whose ping is unanswered this long behind its data is closed 4008; SSE: unsent this long. */
      slowConsumerLagMs: e.SLOW_CONSUMER_LAG_MS,
      /** Unsent bytes inside this process per connection before the stream's slow-consumer policy applies. */
      slowConsumerBufferBytes: e.SLOW_CONSUMER_BUFFER_BYTES,
      latencyTargetMs: e.BROADCAST_LATENCY_TARGET_MS,
    },
    ws: {
      pingIntervalMs: e.WS_PING_INTERVAL_MS,
      maxFrameBytes: e.WS_MAX_FRAME_BYTES,
      maxMessageBytes: e.WS_MAX_MESSAGE_BYTES,
      perMessageDeflate: e.WS_PERMESSAGE_DEFLATE,
      deflateLevel: e.WS_DEFLATE_LEVEL,
      deflateThresholdBytes: e.WS_DEFLATE_THRESHOLD_BYTES,
    },
    /** Comment lines on SSE streams and `ka` on subscriptions-transport-ws sockets, this often (proxies and clients time idle ones out). */
    keepAliveMs: e.KEEPALIVE_MS ?? e.SSE_KEEPALIVE_MS ?? 12_000,
    sse: { reservationTtlMs: e.SSE_RESERVATION_TTL_MS },
    /** From the signal to the exit, everything included (the ready grace, the drain, the last log lines). */
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    /** After the signal, /ready answers 503 this long while the listener stays open, so a balancer sees it before connections are refused. */
    readyGraceMs: e.READY_GRACE_MS ?? (production ? Math.min(5000, Math.floor(e.SHUTDOWN_TIMEOUT_MS / 2)) : 0),
    /** Node's HTTP server bounds: receiving headers, receiving a whole request (not the response: streams are not cut), idle keep-alive. */
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEPALIVE_TIMEOUT_MS,
    },
    corsOrigins: e.CORS_ORIGINS as readonly string[],
    /** Host names browsers may reach this server by (the same-origin exemption and anonymous GETs); IP addresses always may. */
    allowedHosts: (e.ALLOWED_HOSTS ?? defaultAllowedHosts(e.HOST)) as readonly string[],
    graphiql: e.GRAPHIQL ?? e.GRAPHQL_INTROSPECTION ?? !production,
    auth: {
      mode: e.AUTH_MODE,
      jwtSecret: e.AUTH_JWT_SECRET,
      jwksUrl: e.AUTH_JWKS_URL,
      issuer: e.AUTH_ISSUER,
      audience: e.AUTH_AUDIENCE,
      clockToleranceS: e.AUTH_CLOCK_TOLERANCE_S,
    },
    limits: {
      // MAX_CONNECTIONS, never more than the open-file limit holds (maxSockets bounds every TCP socket).
      ...connectionCapacity({ requested: e.MAX_CONNECTIONS, fallback: production ? 10_000 : 5_000, openFileLimit: openFileLimit() }),
      /** MAX_CONNECTIONS as set (undefined: the default): with workers each takes its share of it. */
      maxConnectionsSet: e.MAX_CONNECTIONS,
      maxConnectionsPerIp: e.MAX_CONNECTIONS_PER_IP,
      ratePerIp: e.RATE_LIMIT_PER_IP,
      rateBurst: e.RATE_LIMIT_BURST,
      trustProxy: e.TRUST_PROXY,
      maxSubscriptionsPerConnection: e.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      wsMessageRate: e.WS_MESSAGE_RATE,
      // A client that reconnects must be able to init and resubscribe its whole allowance at once.
      wsMessageBurst: e.WS_MESSAGE_BURST ?? 2 * e.MAX_SUBSCRIPTIONS_PER_CONNECTION + 10,
      connectionInitTimeoutMs: e.CONNECTION_INIT_TIMEOUT_MS,
    },
    graphql: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxDocumentBytes: e.GRAPHQL_MAX_DOCUMENT_BYTES,
      introspection: e.GRAPHQL_INTROSPECTION ?? !production,
    },
    tls: e.TLS_CERT_FILE && e.TLS_KEY_FILE ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE } : undefined,
  };
});

export type Config = z.output<typeof configSchema>;

/** Every environment variable the server reads. */
export const ENV_NAMES: readonly string[] = Object.keys(envSchema.shape);

/** Options earlier versions read, and what replaced them: set, they are ignored, and the server says so at start. */
const REMOVED_OPTIONS: Record<string, string> = {
  GRAPHQL_WS_ENGINE: 'one delivery engine serves every transport now',
  SUBSCRIBER_QUEUE_LIMIT: 'slow readers are judged by lag now: see SLOW_CONSUMER_LAG_MS',
  WS_MAX_BUFFERED_BYTES: 'renamed SLOW_CONSUMER_BUFFER_BYTES (it applies to every transport)',
};

/** Options renamed: the old name still works (the new one wins when both are set), and the server says so at start. */
const RENAMED_OPTIONS: Record<string, string> = {
  SSE_KEEPALIVE_MS: 'KEEPALIVE_MS (it also paces subscriptions-transport-ws keep-alives)',
};

/** Warnings for options in `env` that the server no longer reads, or reads under an old name. */
export function removedOptions(env: Record<string, string | undefined>): string[] {
  const set = ([name]: [string, string]) => env[name] !== undefined && env[name] !== '';
  return [
    ...Object.entries(REMOVED_OPTIONS)
      .filter(set)
      .map(([name, instead]) => `${name} is no longer read: ${instead}`),
    ...Object.entries(RENAMED_OPTIONS)
      .filter(set)
      .map(([name, now]) => `${name} is deprecated: it is read as ${now}; rename it`),
  ];
}

/** Parses the environment once; reports every problem together so an operator fixes them in one go. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset" so `PORT= npm start` behaves like no PORT at all.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new RealtimeError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { problems });
  }
  return parsed.data;
}

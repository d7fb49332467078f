import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { shareLimits } from '../../src/cluster/worker.ts';
import { ENV_NAMES, loadConfig, removedOptions } from '../../src/config.ts';
import { RealtimeError } from '../../src/errors.ts';

function configError(env: Record<string, string | undefined>): RealtimeError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(RealtimeError);
    return error as RealtimeError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  test('defaults match CONTRACT.md', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 9003,
      host: '0.0.0.0',
      metricsIntervalMs: 1000,
      corsOrigins: ['http://localhost:5173'],
      sources: ['simulator'],
      nodeEnv: 'development',
      production: false,
      graphiql: true,
    });
    expect(config.delivery).toEqual({ slowConsumerLagMs: 5000, slowConsumerBufferBytes: 512 * 1024, latencyTargetMs: 100 });
    expect(config.keepAliveMs).toBe(12_000);
    expect(config.sse).toEqual({ reservationTtlMs: 10_000 });
    expect(config.limits).toMatchObject({ maxSubscriptionsPerConnection: 100, wsMessageBurst: 2 * 100 + 10, maxConnections: 5_000 });
    expect(config.replay).toEqual({ bufferSize: 10_000, ttlMs: 600_000 });
    expect(config.ws).toMatchObject({
      maxFrameBytes: 64 * 1024,
      maxMessageBytes: 1024 * 1024,
      deflateLevel: 6,
    });
    // Every stream has live data on a fresh machine: the simulator actually produces transactions.
    expect(config.simulator.tps).toBeGreaterThan(0);
  });

  test('reads only the env it is given, not process.env', () => {
    const saved = process.env.PORT;
    process.env.PORT = '1234';
    try {
      expect(loadConfig({}).port).toBe(9003);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  test('empty strings mean unset', () => {
    expect(loadConfig({ PORT: '', HOST: '', CORS_ORIGINS: '' })).toMatchObject({
      port: 9003,
      host: '0.0.0.0',
      corsOrigins: ['http://localhost:5173'],
    });
  });

  test('values are parsed and typed', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      METRICS_INTERVAL_MS: '250',
      CORS_ORIGINS: 'https://a.example, https://b.example ,',
      WS_PERMESSAGE_DEFLATE: 'yes',
      WS_DEFLATE_LEVEL: '9',
      SIM_TPS: '0.5',
      NODE_ENV: 'production',
      AUTH_ALLOW_ANONYMOUS: 'true',
      SOURCES: 'simulator',
    });
    expect(config).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      metricsIntervalMs: 250,
      corsOrigins: ['https://a.example', 'https://b.example'],
      nodeEnv: 'production',
      graphiql: false,
    });
    expect(config.ws.perMessageDeflate).toBe(true);
    expect(config.ws.deflateLevel).toBe(9);
    expect(config.simulator.tps).toBe(0.5);
    expect(loadConfig({ NODE_ENV: 'production', AUTH_ALLOW_ANONYMOUS: 'true', SOURCES: 'simulator', GRAPHIQL: 'true' }).graphiql).toBe(
      true,
    );
    expect(config.limits.maxConnections).toBe(10_000);
    expect(loadConfig({}).limits.maxConnections).toBe(5_000);
    expect(loadConfig({ WS_PERMESSAGE_DEFLATE: 'off' }).ws.perMessageDeflate).toBe(false);
  });

  test('the delivery and SSE options land in their slices', () => {
    const config = loadConfig({
      SLOW_CONSUMER_LAG_MS: '250',
      SLOW_CONSUMER_BUFFER_BYTES: '2048',
      BROADCAST_LATENCY_TARGET_MS: '40',
      KEEPALIVE_MS: '500',
      SSE_RESERVATION_TTL_MS: '700',
    });
    expect(config.delivery).toEqual({ slowConsumerLagMs: 250, slowConsumerBufferBytes: 2048, latencyTargetMs: 40 });
    expect(config.keepAliveMs).toBe(500);
    expect(config.sse).toEqual({ reservationTtlMs: 700 });
  });

  test('WS_MESSAGE_BURST defaults to 2 × MAX_SUBSCRIPTIONS_PER_CONNECTION + 10; an explicit value wins', () => {
    expect(loadConfig({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '5' }).limits.wsMessageBurst).toBe(20);
    expect(loadConfig({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '1000' }).limits.wsMessageBurst).toBe(2010);
    expect(loadConfig({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '5', WS_MESSAGE_BURST: '7' }).limits.wsMessageBurst).toBe(7);
    expect(loadConfig({ WS_MESSAGE_BURST: '3' }).limits).toMatchObject({ wsMessageBurst: 3, maxSubscriptionsPerConnection: 100 });
  });

  test('WORKERS: one per core in production, one in development; each worker takes its share of the instance limits', () => {
    const production = { NODE_ENV: 'production', AUTH_ALLOW_ANONYMOUS: 'true', SOURCES: 'simulator' };
    expect(loadConfig(production).workers).toBe(availableParallelism());
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ ...production, WORKERS: '3' }).workers).toBe(3);
    expect(configError({ WORKERS: '0' }).message).toMatch(/WORKERS/);
    const single = loadConfig({ MAX_CONNECTIONS_PER_IP: '7' });
    expect(shareLimits(single)).toBe(single);
    const shared = shareLimits(
      loadConfig({ WORKERS: '4', MAX_CONNECTIONS: '1000', MAX_CONNECTIONS_PER_IP: '7', RATE_LIMIT_PER_IP: '10', RATE_LIMIT_BURST: '20' }),
    );
    expect(shared.limits).toMatchObject({ maxConnections: 250, maxConnectionsPerIp: 2, ratePerIp: 2.5, rateBurst: 5 });
    // Unset, MAX_CONNECTIONS is each process's default (bounded by its own open files), not split.
    expect(shareLimits(loadConfig({ WORKERS: '4' })).limits.maxConnections).toBe(loadConfig({}).limits.maxConnections);
  });

  test('removed options (GRAPHQL_WS_ENGINE, SUBSCRIBER_QUEUE_LIMIT, WS_MAX_BUFFERED_BYTES) no longer change anything', () => {
    const removed = loadConfig({ GRAPHQL_WS_ENGINE: 'legacy', SUBSCRIBER_QUEUE_LIMIT: '5', WS_MAX_BUFFERED_BYTES: '1' });
    expect(removed).toEqual(loadConfig({}));
    expect(JSON.stringify(removed)).not.toMatch(/queueLimit|engine|maxBufferedBytes/i);
  });

  test('removed options are named in a warning with what replaced them; nothing is said when none is set', () => {
    const warnings = removedOptions({ GRAPHQL_WS_ENGINE: 'shared', WS_MAX_BUFFERED_BYTES: '1000', PORT: '1' });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^GRAPHQL_WS_ENGINE is no longer read/);
    expect(warnings[1]).toMatch(/WS_MAX_BUFFERED_BYTES .*SLOW_CONSUMER_BUFFER_BYTES/);
    expect(removedOptions({ PORT: '1', SUBSCRIBER_QUEUE_LIMIT: '' })).toEqual([]);
  });

  test('a renamed option (SSE_KEEPALIVE_MS → KEEPALIVE_MS) still works under its old name, with a warning; the new name wins', () => {
    expect(loadConfig({}).keepAliveMs).toBe(12_000);
    expect(loadConfig({ SSE_KEEPALIVE_MS: '3000' }).keepAliveMs).toBe(3000);
    expect(loadConfig({ SSE_KEEPALIVE_MS: '3000', KEEPALIVE_MS: '4000' }).keepAliveMs).toBe(4000);
    expect(removedOptions({ SSE_KEEPALIVE_MS: '3000' })).toEqual([
      'SSE_KEEPALIVE_MS is deprecated: it is read as KEEPALIVE_MS (it also paces subscriptions-transport-ws keep-alives); rename it',
    ]);
  });

  test('LOG_FORMAT: auto by default; json or pretty; anything else is refused naming the choices', () => {
    expect(loadConfig({}).logFormat).toBe('auto');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(() => loadConfig({ LOG_FORMAT: 'colour' })).toThrow(/LOG_FORMAT: .*"auto".*"json".*"pretty"/);
  });

  test("every variable the server reads is in the README's configuration table", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Choices we made'));
    const documented = new Set([...table.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
    const deprecated = new Set(['SSE_KEEPALIVE_MS']);
    const missing = ENV_NAMES.filter((name) => !documented.has(name) && !deprecated.has(name));
    expect(missing).toEqual([]);
  });

  test('production: the flag, masked defaults (no GraphiQL, no introspection, ingest as the source, 10,000 connections)', () => {
    const config = loadConfig({ NODE_ENV: 'production', AUTH_MODE: 'jwt', AUTH_JWT_SECRET: 's'.repeat(32), INGEST_TOKEN: 't'.repeat(16) });
    expect(config).toMatchObject({ production: true, graphiql: false, sources: ['ingest'] });
    expect(config.graphql.introspection).toBe(false);
    expect(config.limits.maxConnections).toBe(10_000);
    expect(loadConfig({ NODE_ENV: 'test' }).production).toBe(false);
  });

  test('cross-option rules are each reported', () => {
    const anonymous = configError({ NODE_ENV: 'production', SOURCES: 'simulator' });
    expect(anonymous.details['problems']).toEqual([expect.stringMatching(/^AUTH_MODE: "none" is refused in production/)]);
    expect(configError({ AUTH_MODE: 'jwt' }).details['problems']).toEqual([expect.stringMatching(/^AUTH_MODE: jwt needs exactly one/)]);
    expect(
      configError({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: 's'.repeat(32), AUTH_JWKS_URL: 'https://issuer.example/jwks.json' }).details[
        'problems'
      ],
    ).toEqual([expect.stringMatching(/^AUTH_MODE: jwt needs exactly one/)]);
    expect(configError({ SOURCES: 'ingest' }).details['problems']).toEqual([expect.stringMatching(/^INGEST_TOKEN: required/)]);
    expect(configError({ TLS_CERT_FILE: 'cert.pem' }).details['problems']).toEqual([
      expect.stringMatching(/^TLS_CERT_FILE\/TLS_KEY_FILE: /),
    ]);
    // All at once, together.
    const all = configError({ NODE_ENV: 'production', SOURCES: 'ingest', TLS_KEY_FILE: 'key.pem' });
    expect(all.details['problems']).toHaveLength(3);
  });

  test('several invalid values are reported together in one CONFIG_INVALID error', () => {
    const error = configError({
      PORT: '70000',
      METRICS_INTERVAL_MS: 'soon',
      WS_DEFLATE_LEVEL: '10',
      LOG_LEVEL: 'loud',
      WS_PERMESSAGE_DEFLATE: 'maybe',
      HOST: 'fine.example',
    });
    expect(error.code).toBe('CONFIG_INVALID');
    const problems = error.details.problems as string[];
    expect(problems).toHaveLength(5);
    for (const name of ['PORT', 'METRICS_INTERVAL_MS', 'WS_DEFLATE_LEVEL', 'LOG_LEVEL', 'WS_PERMESSAGE_DEFLATE']) {
      expect(
        problems.filter((p) => p.startsWith(`${name}:`)),
        name,
      ).toHaveLength(1);
      expect(error.message).toContain(name);
    }
    expect(error.message).not.toContain('HOST');
  });

  test.each([
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['SIM_VALIDATORS', '0'],
    ['SIM_SEED', String(2 ** 32)],
    ['SOURCES', 'kafka'],
    ['NODE_ENV', 'staging'],
    ['METRICS_INTERVAL_MS', '10'],
    ['SLOW_CONSUMER_LAG_MS', '99'],
    ['SLOW_CONSUMER_BUFFER_BYTES', '1023'],
    ['KEEPALIVE_MS', '0'],
    ['SSE_RESERVATION_TTL_MS', 'soon'],
    ['WS_MESSAGE_BURST', '0'],
    ['MAX_SUBSCRIPTIONS_PER_CONNECTION', '0'],
  ])('%s=%s is rejected', (name, raw) => {
    const error = configError({ [name]: raw });
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.details.problems).toEqual([expect.stringMatching(new RegExp(`^${name}[.:]`))]);
  });
});

import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.ts';
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
      broadcastLatencyTargetMs: 100,
      corsOrigins: ['http://localhost:5173'],
      sources: ['simulator'],
      nodeEnv: 'development',
      graphiql: true,
    });
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
    expect(loadConfig({ NODE_ENV: 'production', AUTH_ALLOW_ANONYMOUS: 'true', SOURCES: 'simulator', GRAPHIQL: 'true' }).graphiql).toBe(true);
    expect(config.limits.maxConnections).toBe(10_000);
    expect(loadConfig({}).limits.maxConnections).toBe(5_000);
    expect(loadConfig({ WS_PERMESSAGE_DEFLATE: 'off' }).ws.perMessageDeflate).toBe(false);
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
      expect(problems.filter((p) => p.startsWith(`${name}:`)), name).toHaveLength(1);
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
  ])('%s=%s is rejected', (name, raw) => {
    const error = configError({ [name]: raw });
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.details.problems).toEqual([expect.stringMatching(new RegExp(`^${name}[.:]`))]);
  });
});

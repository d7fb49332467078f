import { createApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { track, useFixture } from './track.ts';

/** Anything that can build URLs for a running server: the in-process TestServer or a ChildServer. */
export interface ServerUrls {
  http(path?: string): string;
  ws(path?: string): string;
}

export interface TestServer extends ServerUrls, AsyncDisposable {
  app: App;
  config: Config;
  port: number;
  /** `http://127.0.0.1:<port><path>` */
  http(path?: string): string;
  /** `ws://127.0.0.1:<port><path>` */
  ws(path?: string): string;
  /** Drains and stops the server. Idempotent; the fixture calls it anyway when the test or suite ends. */
  stop(): Promise<void>;
}

export type Env = Record<string, string>;

/**
 * Client limits lifted for tests that open many connections from one address in
 * a burst (the security tests set them explicitly), and a short drain bound.
 * The in-process server and the child-process instances share it.
 */
export const TEST_LIMITS_ENV: Env = {
  SHUTDOWN_TIMEOUT_MS: '3000',
  RATE_LIMIT_PER_IP: '100000',
  RATE_LIMIT_BURST: '100000',
  MAX_CONNECTIONS_PER_IP: '100000',
  MAX_CONNECTIONS: '100000',
  WS_MESSAGE_RATE: '100000',
  WS_MESSAGE_BURST: '100000',
};

/** The test server's env before overrides: quiet, on an ephemeral port, a quick chain (200 ms blocks, 50 tx/s). */
export const TEST_ENV: Env = {
  NODE_ENV: 'test',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  SIM_TPS: '50',
  SIM_BLOCK_TIME_MS: '200',
  ...TEST_LIMITS_ENV,
};

const urls = (port: number): ServerUrls => ({
  http: (path = '') => `http://127.0.0.1:${port}${path}`,
  ws: (path = '') => `ws://127.0.0.1:${port}${path}`,
});

/**
 * A real server on an ephemeral port, in this process (TEST_ENV plus `env`).
 * Auto-disposing: stopped when the test that started it finishes, or — started
 * from a beforeAll — when the suite scope ends (see track.ts). Stopping it
 * earlier by hand is fine.
 */
export async function startTestServer(env: Env = {}): Promise<TestServer> {
  const config = loadConfig({ ...TEST_ENV, ...env });
  const app = createApp(config);
  const address = await app.start();
  const stop = () => app.stop();
  return track({
    app,
    config,
    port: address.port,
    ...urls(address.port),
    stop,
    [Symbol.asyncDispose]: stop,
  });
}

/**
 * The suite's server: started in a beforeAll of the enclosing describe (or
 * file), stopped in its afterAll after everything tracked during the suite.
 * Returns a handle to use inside tests and hooks. `env` may be a function,
 * evaluated when the server starts (for values known only then, e.g. a Redis
 * URL).
 */
export function useTestServer(env: Env | (() => Env | Promise<Env>) = {}): TestServer {
  return useFixture(async () => startTestServer(typeof env === 'function' ? await env() : env), { name: 'useTestServer()' });
}

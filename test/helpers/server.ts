import { createApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';

export interface TestServer {
  app: App;
  config: Config;
  port: number;
  /** `http://127.0.0.1:<port><path>` */
  http(path?: string): string;
  /** `ws://127.0.0.1:<port><path>` */
  ws(path?: string): string;
  stop(): Promise<void>;
}

/**
 * A real server on an ephemeral port, in this process, with a quick chain so
 * tests wait less: 200 ms blocks, 50 tx/s. Override any env option.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    SIM_TPS: '50',
    SIM_BLOCK_TIME_MS: '200',
    SHUTDOWN_TIMEOUT_MS: '3000',
    // Tests open many connections from one address in a burst; the security tests set these limits explicitly.
    RATE_LIMIT_PER_IP: '100000',
    RATE_LIMIT_BURST: '100000',
    MAX_CONNECTIONS_PER_IP: '100000',
    MAX_CONNECTIONS: '100000',
    WS_MESSAGE_RATE: '100000',
    WS_MESSAGE_BURST: '100000',
    ...env,
  });
  const app = createApp(config);
  const address = await app.start();
  return {
    app,
    config,
    port: address.port,
    http: (path = '') => `http://127.0.0.1:${address.port}${path}`,
    ws: (path = '') => `ws://127.0.0.1:${address.port}${path}`,
    stop: () => app.stop(),
  };
}

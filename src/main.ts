import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.ts';
import { createPrimary } from './cluster/primary.ts';
import { joinCluster, shareLimits } from './cluster/worker.ts';
import { loadConfig, removedOptions } from './config.ts';
import { RealtimeError } from './errors.ts';
import { createLogger, exitAfterLogs } from './ops/logger.ts';

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  console.error(error instanceof RealtimeError ? error.message : error);
  process.exit(1);
}

/**
 * What this process runs: the whole server (WORKERS=1); with WORKERS > 1 the primary (sources, bus, numbering; see
 * cluster/primary.ts) or one of its workers (a server whose bus is the primary's), all serving one port.
 */
function createProcess(config: ReturnType<typeof loadConfig>): {
  logger: ReturnType<typeof createLogger>;
  role: 'server' | 'primary' | 'worker';
  start(): Promise<AddressInfo>;
  stop(): Promise<void>;
} {
  if (cluster.isWorker) {
    const logger = createLogger(config).child({ worker: cluster.worker?.id, pid: process.pid });
    const app = createApp(shareLimits(config), { logger, cluster: joinCluster() });
    return { logger, role: 'worker', start: () => app.start(), stop: () => app.stop() };
  }
  if (config.workers > 1) {
    const logger = createLogger(config);
    const primary = createPrimary(config, logger);
    return { logger, role: 'primary', start: () => primary.start(), stop: () => primary.stop() };
  }
  const app = createApp(config);
  return { logger: app.logger, role: 'server', start: () => app.start(), stop: () => app.stop() };
}

const app = createProcess(config);
const { logger } = app;
const { shutdownTimeoutMs } = config;
if (app.role !== 'worker') for (const warning of removedOptions(process.env)) logger.warn(warning);

/**
 * SHUTDOWN_TIMEOUT_MS bounds everything from the signal to the exit: the ready grace, the drain, the bus, the last log
 * lines. app.stop() keeps within it; should anything still hang, this exits at the bound anyway (code 1: not clean).
 * Returns how much of the bound is left, for the last log lines.
 */
function boundShutdown(timeoutMs: number): () => number {
  const startedAt = performance.now();
  // Not before a quarter second: a bound of 0 means "do not wait for clients", not "exit before saying goodbye".
  const exitNow = () => {
    logger.error({ timeoutMs }, 'shutdown did not finish within SHUTDOWN_TIMEOUT_MS; exiting now');
    process.exit(1);
  };
  setTimeout(exitNow, Math.max(250, timeoutMs)).unref();
  return () => Math.max(0, startedAt + timeoutMs - performance.now());
}

process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
// State may be corrupt after an uncaught exception: log it, drain what we can, exit non-zero for the supervisor.
process.once('uncaughtException', (error) => {
  logger.fatal({ err: error }, 'uncaught exception; stopping');
  const left = boundShutdown(shutdownTimeoutMs);
  void app.stop().finally(() => exitAfterLogs(logger, 1, left()));
});

let stopping = false;
const shutdown = (signal: NodeJS.Signals) => {
  if (stopping) {
    // A second Ctrl-C means "now"; a repeated SIGTERM (a supervisor, or a wrapper relaying signals) must not cut the drain short.
    if (signal === 'SIGINT') {
      logger.warn({ signal }, 'stopping now, without waiting for the drain');
      exitAfterLogs(logger, 130);
    }
    return;
  }
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const left = boundShutdown(shutdownTimeoutMs);
  app.stop().then(
    () => exitAfterLogs(logger, 0, left()),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      exitAfterLogs(logger, 1, left());
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// A worker whose primary is gone (killed -9) serves no more events: it drains its clients (they resume elsewhere) and exits.
if (app.role === 'worker') process.on('disconnect', () => shutdown('SIGTERM'));

try {
  const { port } = await app.start();
  const base = `${config.tls ? 'https' : 'http'}://localhost:${port}`;
  // With workers the primary says where to look, once.
  if (app.role !== 'worker') logger.info(`status page: ${base}/   GraphiQL: ${base}/graphql   metrics: ${base}/metrics`);
} catch (error) {
  const code = (error as { code?: string }).code;
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    // Nothing unexpected happened: say what to do, without a stack trace.
    const why =
      code === 'EADDRINUSE' ? 'is already in use (another server is listening there)' : 'needs privileges this process does not have';
    logger.fatal(
      { port: config.port, host: config.host },
      `port ${config.port} ${why}; start on another one, e.g. PORT=${config.port + 1} npm start`,
    );
  } else if (code === 'WORKER_EXITED') {
    logger.fatal({ err: (error as Error).message }, 'a worker could not start (its own line above says why); stopping');
  } else {
    logger.fatal({ err: error }, 'could not start');
  }
  exitAfterLogs(logger, 1);
}

import { createApp } from './app.ts';
import { loadConfig, removedOptions } from './config.ts';
import { RealtimeError } from './errors.ts';

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  console.error(error instanceof RealtimeError ? error.message : error);
  process.exit(1);
}

const app = createApp(config);
const { logger } = app;
for (const warning of removedOptions(process.env)) logger.warn(warning);

process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
// State may be corrupt after an uncaught exception: log it, drain what we can, exit non-zero for the supervisor.
process.once('uncaughtException', (error) => {
  logger.fatal({ err: error }, 'uncaught exception; stopping');
  void app.stop().finally(() => process.exit(1));
});

const shutdown = (signal: string) => {
  logger.info({ signal }, 'shutting down');
  app.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));

try {
  const address = await app.start();
  logger.info(`GraphiQL: http://localhost:${address.port}/graphql`);
} catch (error) {
  logger.fatal({ err: error }, 'could not start');
  process.exit(1);
}

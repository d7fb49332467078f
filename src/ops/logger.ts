import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { Config } from '../config.ts';

export type { Logger };

const require = createRequire(import.meta.url);

/** Whether pino-pretty is installed (a development dependency: absent with `npm ci --omit=dev`). */
function prettyAvailable(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * Logs on stdout: structured JSON (one line per event worth an operator's
 * attention) in production and whenever stdout is not a terminal; readable
 * lines in a development terminal (LOG_FORMAT=auto, the default), through
 * pino-pretty when it is installed. LOG_FORMAT=json|pretty forces either.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat' | 'production'>): Logger {
  const options = { level: config.logLevel, base: { service: 'aurigraph-realtime' } };
  const wantsPretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && !config.production && process.stdout.isTTY === true);
  if (!wantsPretty || !prettyAvailable()) return pino(options);
  return pino(
    options,
    pino.transport({ target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service', singleLine: true } }),
  );
}

/** Lets the log's last lines out, then exits: nothing said during a shutdown is lost or reordered. */
export function exitAfterLogs(logger: Logger, code: number): void {
  const exit = () => process.exit(code);
  try {
    logger.flush(exit);
  } catch {
    exit();
  }
  // A destination that never calls back must not keep the process alive.
  setTimeout(exit, 1000).unref();
}

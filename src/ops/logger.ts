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

/**
 * Lets the log's last lines out, then exits: nothing said during a shutdown is
 * lost or reordered. Waits at most `maxWaitMs` for the destination (the
 * shutdown bound includes this wait).
 *
 * Not `logger.flush(cb)`: pino's stdout destination (sonic-boom, minLength 0)
 * calls that back at once, while lines queued behind a write still in flight
 * (a busy machine, a slow pipe) are unwritten — and process.exit drops them.
 * Ending the stream writes everything queued, then emits 'close'.
 */
export function exitAfterLogs(logger: Logger, code: number, maxWaitMs = 1000): void {
  const exit = () => process.exit(code);
  // A destination that never finishes must not keep the process alive.
  setTimeout(exit, Math.max(0, maxWaitMs)).unref();
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    { end?: () => void; once?: (event: string, listener: () => void) => void } | undefined;
  try {
    if (typeof stream?.end === 'function' && typeof stream.once === 'function') {
      stream.once('close', exit);
      stream.once('error', exit);
      stream.end();
    } else {
      logger.flush(exit);
    }
  } catch {
    exit();
  }
}

/**
 * A warning that can repeat many times a second (a failed accept at the
 * open-file limit, a /proc reading failing on every tick): logged at most
 * once per `intervalMs`, saying how often it happened in between. Logging it
 * every time would flood the log exactly when an operator needs it.
 */
export function throttledWarning(logger: Logger, message: string, intervalMs = 10_000): (fields?: Record<string, unknown>) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  return (fields = {}) => {
    const now = performance.now();
    if (now - lastAt < intervalMs) {
      since++;
      return;
    }
    logger.warn({ ...fields, ...(since > 0 && { repeatedSinceLast: since }) }, message);
    lastAt = now;
    since = 0;
  };
}

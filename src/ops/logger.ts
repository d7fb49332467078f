import { pino, type Logger } from 'pino';
import type { Config } from '../config.ts';

export type { Logger };

/** Structured JSON logs on stdout; one line per event worth an operator's attention. */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { service: 'aurigraph-realtime' } });
}

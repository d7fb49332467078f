/**
 * Small pure stand-ins for unit tests: events with predictable fields, a
 * logger that records, an outlet and a renderer the delivery engine can drive.
 */
import { vi } from 'vitest';
import type { Transport } from '../../src/engine/counters.ts';
import type { Frame, Outlet, Renderer } from '../../src/engine/engine.ts';
import type { RealtimeError } from '../../src/errors.ts';
import type { Logger } from '../../src/ops/logger.ts';
import type { StreamItem } from '../../src/streams/hub.ts';
import { toTimestamp, type MetricsEvent, type TransactionEvent, type ValidatorEvent } from '../helpers/contract.ts';

export const BASE_TIME = Date.UTC(2025, 9, 25, 9, 35, 0, 0);

/** `0x` + 40 hex digits derived from `n`: a valid, distinct address per `n`. */
export const address = (n: number) => `0x${n.toString(16).padStart(40, '0')}`;

/**
 * A transaction whose gasUsed carries its index (21 000 + i) and whose status
 * is FAILED for every third index, so filters and order are easy to check.
 */
export function tx(i: number, overrides: Partial<TransactionEvent> = {}): TransactionEvent {
  return {
    timestamp: toTimestamp(BASE_TIME + i),
    txHash: `0x${i.toString(16).padStart(64, '0')}`,
    from: `0x${'a'.repeat(40)}`,
    to: `0x${'b'.repeat(40)}`,
    value: `${i}000000000000000000`,
    status: i % 3 === 0 ? 'FAILED' : 'SUCCESS',
    gasUsed: 21_000 + i,
    ...overrides,
  };
}

/** A metrics snapshot `i` ticks of `intervalMs` after BASE_TIME. */
export function snapshot(i: number, intervalMs = 1000): MetricsEvent {
  return { timestamp: toTimestamp(BASE_TIME + i * intervalMs), tps: i, cpu: 1, memory: 100, connections: 0, errorRate: 0 };
}

export function validator(i: number): ValidatorEvent {
  return {
    timestamp: toTimestamp(BASE_TIME + i),
    validator: address(i),
    status: 'ACTIVE',
    votingPower: 10,
    uptime: 99,
    lastBlockProposed: i,
  };
}

export type FakeLogger = Logger & {
  error: ReturnType<typeof vi.fn>;
  warn: ReturnType<typeof vi.fn>;
  info: ReturnType<typeof vi.fn>;
  debug: ReturnType<typeof vi.fn>;
};

/** A logger whose calls are recorded (pino's call shapes: `(object, message)` or `(message)`). */
export function fakeLogger(): FakeLogger {
  const logger = {
    level: 'debug',
    fatal: vi.fn(),
    error: vi.fn(),
    warn: vi.fn(),
    info: vi.fn(),
    debug: vi.fn(),
    trace: vi.fn(),
    silent: vi.fn(),
    child: () => logger,
  };
  return logger as unknown as FakeLogger;
}

export const frameText = (frame: Frame) => (typeof frame === 'string' ? frame : frame.toString('utf8'));
export const frameBytes = (frame: Frame) => (typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length);

/**
 * An outlet whose peer the test plays: `pending` is what buffered() reports;
 * with `accumulate` every write adds to it (a peer that never reads) until
 * `drain()`. `lag` is what lagMs() reports. `onWrite` runs inside write(),
 * i.e. inside the engine's fan-out.
 */
export class FakeOutlet implements Outlet {
  readonly frames: Frame[] = [];
  readonly aborts: RealtimeError[] = [];
  pending = 0;
  lag = 0;
  accumulate = false;
  /** A closing connection takes no more frames (write answers false; nothing is counted as sent). */
  closing = false;
  onWrite: ((frame: Frame) => void) | undefined;

  constructor(readonly transport: Transport = 'graphql-ws') {}

  write(frame: Frame): boolean {
    if (this.closing) return false;
    this.frames.push(frame);
    if (this.accumulate) this.pending += frameBytes(frame);
    this.onWrite?.(frame);
    return true;
  }

  buffered(): number {
    return this.pending;
  }

  lagMs(_now: number): number {
    return this.lag;
  }

  abort(error: RealtimeError): void {
    this.aborts.push(error);
  }

  drain(): void {
    this.pending = 0;
  }

  texts(): string[] {
    return this.frames.map(frameText);
  }
}

export interface RenderCalls {
  render: number[];
  errors: string[];
}

/**
 * A renderer whose frames say which key rendered which seq (`key#seq`, padded
 * with spaces to `padTo` bytes); every call is recorded in `calls`.
 */
export function fakeRenderer(key: string, calls: RenderCalls = { render: [], errors: [] }, padTo = 0) {
  const renderer: Renderer & { calls: RenderCalls } = {
    key,
    calls,
    render(item: StreamItem): Frame {
      calls.render.push(item.seq);
      return `${key}#${item.seq}`.padEnd(padTo);
    },
    renderError(error: RealtimeError): Frame {
      calls.errors.push(error.code);
      return `${key}!${error.code}`;
    },
  };
  return renderer;
}

/** Polls with real timers captured at import (so it works while vitest fakes setTimeout and Date); fails after `attempts`. */
const realSetTimeout = globalThis.setTimeout;
export async function until<T>(predicate: () => T | undefined | false, what: string, attempts = 1000): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = predicate();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => realSetTimeout(resolve, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}

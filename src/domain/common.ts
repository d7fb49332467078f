import { z } from 'zod';

/** The five streams. Each name is used everywhere: schema field, topic, legacy path, metric label. */
export const STREAM_NAMES = ['metrics', 'transactions', 'validators', 'consensus', 'network'] as const;
export type StreamName = (typeof STREAM_NAMES)[number];

export function isStreamName(value: string): value is StreamName {
  return (STREAM_NAMES as readonly string[]).includes(value);
}

/** ISO-8601 UTC with milliseconds, e.g. `2025-10-25T09:35:00.123Z` (CONTRACT.md). */
export const timestampSchema = z.iso.datetime({ precision: 3 });

export const addressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte hex address');
export const hashSchema = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected a 0x-prefixed 32-byte hex hash');
/** Amounts exceed 2^53, so they travel as decimal strings of the smallest unit. */
export const decimalStringSchema = z.string().regex(/^(0|[1-9][0-9]*)$/, 'expected a non-negative decimal integer string');
export const percentSchema = z.number().finite().min(0).max(100);
export const ratioSchema = z.number().finite().min(0).max(1);
export const nonNegativeIntSchema = z.number().int().min(0);

/** Formats a millisecond epoch the way every event carries it. */
export function toTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

import { expect } from 'vitest';

/**
 * Facts about sequence numbers (or any values) a client received: what is
 * repeated, missing, out of order. Every delivery check is built from these.
 */

/** Values that occur more than once (each listed once). */
export function duplicates<T>(values: readonly T[]): T[] {
  const seen = new Set<T>();
  const out = new Set<T>();
  for (const v of values) (seen.has(v) ? out : seen).add(v);
  return [...out];
}

/** Missing sequence numbers between the smallest and largest of `seqs` (at most `limit`). */
export function holes(seqs: readonly number[], limit = Infinity): number[] {
  if (seqs.length === 0) return [];
  const set = new Set(seqs);
  const min = Math.min(...seqs);
  const max = Math.max(...seqs);
  const out: number[] = [];
  for (let s = min; s <= max && out.length < limit; s++) if (!set.has(s)) out.push(s);
  return out;
}

/** Places where the order is not strictly increasing, as [previous, next]. */
export function outOfOrder(seqs: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < seqs.length; i++) {
    if ((seqs[i] as number) <= (seqs[i - 1] as number)) out.push([seqs[i - 1] as number, seqs[i] as number]);
  }
  return out;
}

/** Places where the next number is not previous + 1 (a gap, a repeat or a step back), as [previous, next]. */
export function seqBreaks(seqs: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== (seqs[i - 1] as number) + 1) out.push([seqs[i - 1] as number, seqs[i] as number]);
  }
  return out;
}

/** Describes the first break in a sequence that should be contiguous and increasing, or undefined. */
export function sequenceProblems(seqs: readonly number[]): string | undefined {
  const [first] = seqBreaks(seqs);
  if (!first) return undefined;
  return `after seq ${first[0]} came ${first[1]} (index ${seqs.indexOf(first[1], seqs.indexOf(first[0]))} of ${seqs.length})`;
}

/** Every sequence number from the first to the last, each once, in increasing order. */
export function expectEverySeqOnce(seqs: readonly number[], label = 'seqs'): void {
  expect(outOfOrder(seqs), `${label}: order`).toEqual([]);
  expect(duplicates(seqs), `${label}: duplicates`).toEqual([]);
  expect(holes(seqs, 50), `${label}: holes`).toEqual([]);
}

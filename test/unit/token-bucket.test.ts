import { describe, expect, test } from 'vitest';
import { TokenBucket } from '../../src/security/token-bucket.ts';

/** Takes until refused; returns how many were granted (bounded, so a bug cannot loop forever). */
function drain(bucket: TokenBucket, now: number, max = 10_000): number {
  let taken = 0;
  while (taken < max && bucket.take(now)) taken++;
  return taken;
}

describe('TokenBucket', () => {
  test('starts full: exactly `burst` takes at one instant, then refusals', () => {
    const bucket = new TokenBucket(10, 20, 0);
    expect(bucket.isFull(0)).toBe(true);
    expect(drain(bucket, 0)).toBe(20);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.isFull(0)).toBe(false);
  });

  test('refills at `ratePerSecond`, token by token', () => {
    const bucket = new TokenBucket(10, 20, 0);
    drain(bucket, 0);
    expect(bucket.take(99)).toBe(false);
    expect(bucket.take(100)).toBe(true);
    expect(bucket.take(100)).toBe(false);
    // Half a second later: five more.
    expect(drain(bucket, 600)).toBe(5);
  });

  test('never holds more than `burst`, however long it idles', () => {
    const bucket = new TokenBucket(10, 20, 0);
    drain(bucket, 0);
    expect(bucket.isFull(1_999)).toBe(false);
    expect(bucket.isFull(2_000)).toBe(true);
    expect(drain(bucket, 1_000_000)).toBe(20);
  });

  test('fractional rates accumulate: 0.5/s grants one token every 2 s', () => {
    const bucket = new TokenBucket(0.5, 1, 0);
    expect(bucket.take(0)).toBe(true);
    expect(bucket.take(1_000)).toBe(false);
    expect(bucket.take(1_999)).toBe(false);
    expect(bucket.take(2_000)).toBe(true);
    expect(bucket.take(3_999)).toBe(false);
    expect(bucket.take(4_000)).toBe(true);
  });

  test('a clock that goes backwards adds nothing and takes nothing away', () => {
    const bucket = new TokenBucket(10, 5, 10_000);
    drain(bucket, 10_000);
    expect(bucket.take(5_000)).toBe(false);
    // Time is measured from the last reading: 100 ms after the backwards one is one token.
    expect(bucket.take(5_100)).toBe(true);
    expect(bucket.take(5_100)).toBe(false);
  });

  test('refused takes cost nothing: a flood does not push the next token further away', () => {
    const bucket = new TokenBucket(1, 1, 0);
    expect(bucket.take(0)).toBe(true);
    for (let t = 0; t < 1000; t += 10) expect(bucket.take(t)).toBe(false);
    expect(bucket.take(1000)).toBe(true);
  });

  test('a burst of one at a high rate still refuses two at the same instant', () => {
    const bucket = new TokenBucket(1_000_000, 1, 0);
    expect(bucket.take(0)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(0.001)).toBe(true);
  });
});

import { expect } from 'vitest';
import type { StreamName } from './contract.ts';
import type { TestServer } from './server.ts';
import { duplicates, holes, latestSeq, outOfOrder, seqsOf, type Feed, type Item } from './stream-feeds.ts';
import { waitFor } from './wait.ts';

/** Waits until the server has published `count` more events on the stream than `fromSeq`: events kept flowing. */
export function flowedPast(server: TestServer, stream: StreamName, fromSeq: number, count: number): Promise<number> {
  return waitFor(() => latestSeq(server, stream) >= fromSeq + count && latestSeq(server, stream), {
    what: `${count} more ${stream} events after seq ${fromSeq}`,
  });
}

/** Waits until a feed has received an event at or past `seq`. */
export function reached(feed: Feed, seq: number, timeoutMs = 10_000): Promise<true> {
  return waitFor(() => feed.events.some((e) => e.seq >= seq), { timeoutMs, what: `${feed.label} to reach seq ${seq}` });
}

/**
 * The resume guarantee, unfiltered: what the first connection received plus
 * what the resumed one received is every seq from the first to the last, each
 * exactly once, and the resumed connection starts right after the last event
 * the first one got.
 */
export function expectLosslessResume(first: Feed, resumed: Feed, options: { newestBeforeReconnect: number }): void {
  expect(first.events.length, `${first.label} events before the drop`).toBeGreaterThan(0);
  expect(resumed.errors, `${resumed.label} errors`).toEqual([]);
  const before = seqsOf(first.events);
  const after = seqsOf(resumed.events);
  const lastBefore = before.at(-1) as number;
  expect(outOfOrder(before), `${first.label} order`).toEqual([]);
  expect(outOfOrder(after), `${resumed.label} order`).toEqual([]);
  expect(after[0], `${resumed.label} starts right after the last event received before the drop`).toBe(lastBefore + 1);
  const union = [...before, ...after];
  expect(duplicates(union), 'seqs received twice').toEqual([]);
  expect(holes(union), 'seqs never received').toEqual([]);
  // Events were published while the client was away, so the resume replayed a backlog and then went live.
  expect(options.newestBeforeReconnect - lastBefore, 'events published while away').toBeGreaterThanOrEqual(20);
  expect(after.at(-1), 'live events followed the backlog').toBeGreaterThan(options.newestBeforeReconnect);
}

/**
 * The resume guarantee with a filter: over the union window, exactly the
 * control's matching events, each once, in order.
 */
export function expectLosslessFilteredResume(
  control: Feed,
  first: Feed,
  resumed: Feed,
  matches: (item: Item) => boolean,
): void {
  expect(resumed.errors, `${resumed.label} errors`).toEqual([]);
  const union = [...seqsOf(first.events), ...seqsOf(resumed.events)];
  expect(outOfOrder(union), 'order across the drop').toEqual([]);
  expect(duplicates(union), 'seqs received twice').toEqual([]);
  const lo = union[0] as number;
  const hi = union.at(-1) as number;
  const expected = control.events.filter((e) => e.seq >= lo && e.seq <= hi && matches(e)).map((e) => e.seq);
  expect(union, 'exactly the matching events, none lost').toEqual(expected);
  expect(union.length).toBeGreaterThan(10);
  for (const e of [...first.events, ...resumed.events]) expect(matches(e), `seq ${e.seq} matches`).toBe(true);
}

/**
 * `replay: N` unfiltered: the first events are the last N published before the
 * subscription attached, then live, all contiguous. The attach moment is only
 * known to lie between two observations of the stream's newest seq.
 */
export function expectReplayThenLive(feed: Feed, n: number, newestBefore: number, newestAfter: number): void {
  const seqs = seqsOf(feed.events);
  expect(feed.errors, `${feed.label} errors`).toEqual([]);
  expect(outOfOrder(seqs)).toEqual([]);
  expect(duplicates(seqs)).toEqual([]);
  expect(holes(seqs)).toEqual([]);
  const first = seqs[0] as number;
  expect(first, `first replayed seq (newest was ${newestBefore}..${newestAfter} at attach)`).toBeGreaterThanOrEqual(newestBefore - n + 1);
  expect(first).toBeLessThanOrEqual(newestAfter - n + 1);
  expect(seqs.at(-1), 'live events followed the replay').toBeGreaterThan(newestAfter);
}

/**
 * `replay: N` with a filter: the first N events are the last N matching ones
 * before the attach, then the matching live events, none missing.
 */
export function expectFilteredReplayThenLive(
  control: Feed,
  feed: Feed,
  n: number,
  matches: (item: Item) => boolean,
  newestBefore: number,
  newestAfter: number,
): void {
  expect(feed.errors, `${feed.label} errors`).toEqual([]);
  const got = seqsOf(feed.events);
  const first = got[0] as number;
  const last = got.at(-1) as number;
  const matching = control.events.filter(matches).map((e) => e.seq);
  expect(control.events[0]?.seq, 'the control saw everything from before the replayed range').toBeLessThan(first);
  expect(got, 'the matching events from the first replayed one on, none missing').toEqual(matching.filter((s) => s >= first && s <= last));
  const replayedAtLeast = matching.filter((s) => s >= first && s <= newestBefore).length;
  const replayedAtMost = matching.filter((s) => s >= first && s <= newestAfter).length;
  expect(replayedAtLeast, `matching events from the first replayed one to the attach (${newestBefore}..${newestAfter})`).toBeLessThanOrEqual(n);
  expect(replayedAtMost).toBeGreaterThanOrEqual(n);
  expect(last, 'live events followed the replay').toBeGreaterThan(newestAfter);
}

/**
 * A resume from a cursor the server cannot honour: first one REPLAY_GAP error
 * with oldestCursor, then events with no hole among them.
 */
export function expectGapThenContiguous(feed: Feed): { oldestCursor: string; events: Item[] } {
  const first = feed.entries[0];
  expect(first && 'error' in first, `${feed.label}: first result is an error, got ${JSON.stringify(first)}`).toBe(true);
  const error = (first as { error: { message: string; extensions: Record<string, unknown> } }).error;
  expect(error.extensions['code']).toBe('REPLAY_GAP');
  const oldestCursor = error.extensions['oldestCursor'];
  expect(typeof oldestCursor, 'oldestCursor').toBe('string');
  expect(String(oldestCursor).length).toBeGreaterThan(0);
  expect(feed.errors, 'exactly one error').toHaveLength(1);
  const seqs = seqsOf(feed.events);
  expect(seqs.length, 'events followed the gap').toBeGreaterThan(0);
  expect(outOfOrder(seqs)).toEqual([]);
  expect(holes(seqs), 'no hole after the gap notice').toEqual([]);
  return { oldestCursor: String(oldestCursor), events: feed.events };
}

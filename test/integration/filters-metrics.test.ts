import { beforeAll, describe, expect, test } from 'vitest';
import { feedOpeners, TRANSPORT_NAMES, type TransportName } from '../helpers/filter-matrix.ts';
import { holes } from '../helpers/sequences.ts';
import { useTestServer } from '../helpers/server.ts';
import { attached, type Feed, type Item } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * `metrics(intervalMs)`: at most one snapshot per interval, always the newest;
 * at or below the server's interval, every snapshot. Judged against an
 * unconflated control on the same transport, by the snapshots' own timestamps.
 */

const BASE_MS = 100;
/** Timer rounding: consecutive ticks can be a millisecond or two short of the interval. */
const JITTER_MS = 10;
const INTERVALS = [500, 250, 100, 50] as const;

const server = useTestServer({ METRICS_INTERVAL_MS: String(BASE_MS), SIM_TPS: '20' });
const feeds = new Map<string, Feed>();
const controls = new Map<TransportName, Feed>();
let lo = 0;
let hi = 0;

const key = (transport: TransportName, interval: number) => `${transport}:${interval}`;
const at = (item: Item) => Date.parse(String(item['timestamp']));

beforeAll(async () => {
  const open = feedOpeners(server, 'metrics');
  for (const transport of TRANSPORT_NAMES) {
    controls.set(transport, await open[transport]({}, `${transport} control`));
    for (const interval of INTERVALS) {
      feeds.set(key(transport, interval), await open[transport]({ intervalMs: interval }, `${transport} ${interval}`));
    }
  }
  lo = await attached(server, 'metrics', (INTERVALS.length + 1) * TRANSPORT_NAMES.length);
  const reference = controls.get('graphql-ws') as Feed;
  // About 4 s of snapshots: several conflation periods of the slowest interval.
  hi = await waitFor(() => reference.events.filter((e) => e.seq >= lo).length >= 40 && (reference.events.at(-1) as Item).seq, {
    timeoutMs: 15_000,
    what: '40 metrics snapshots',
  });
  // Every feed has decided on every snapshot up to hi once it has moved past it.
  await waitFor(() => [...feeds.values(), ...controls.values()].every((f) => f.events.some((e) => e.seq > hi)), {
    timeoutMs: 10_000,
    what: 'every metrics feed to pass the window',
  }).catch(() => undefined);
}, 60_000);

const windowOf = (feed: Feed) => feed.events.filter((e) => e.seq >= lo && e.seq <= hi);

describe.each(TRANSPORT_NAMES)('metrics intervalMs over %s', (transport) => {
  test('the control got every snapshot of the window', () => {
    const control = windowOf(controls.get(transport) as Feed).map((e) => e.seq);
    expect(control[0]).toBe(lo);
    expect(control.at(-1)).toBe(hi);
    expect(holes(control)).toEqual([]);
  });

  test.each([100, 50])('intervalMs %i (at or below the server interval) gets every snapshot', (interval) => {
    const feed = feeds.get(key(transport, interval)) as Feed;
    const control = windowOf(controls.get(transport) as Feed).map((e) => e.seq);
    expect(feed.errors).toEqual([]);
    expect(windowOf(feed).map((e) => e.seq)).toEqual(control);
  });

  test.each([500, 250])('intervalMs %i: at most one snapshot per interval, always the newest', (interval) => {
    const feed = feeds.get(key(transport, interval)) as Feed;
    const control = controls.get(transport) as Feed;
    const bySeq = new Map(control.events.map((e) => [e.seq, e]));
    const delivered = windowOf(feed);
    expect(feed.errors).toEqual([]);
    // Conflation picks among real snapshots; it never invents or alters one.
    for (const item of delivered) expect(bySeq.get(item.seq)?.['timestamp'], `seq ${item.seq}`).toBe(item['timestamp']);
    const controlCount = windowOf(control).length;
    expect(delivered.length, 'delivered snapshots').toBeGreaterThanOrEqual(Math.floor((controlCount * BASE_MS) / (interval + BASE_MS)) - 1);
    expect(delivered.length).toBeLessThan(controlCount);
    const tooSoon: string[] = [];
    const heldBack: string[] = [];
    for (let i = 1; i < delivered.length; i++) {
      const previous = delivered[i - 1] as Item;
      const next = delivered[i] as Item;
      const gap = at(next) - at(previous);
      if (gap < interval - JITTER_MS) tooSoon.push(`seq ${previous.seq}→${next.seq}: ${gap} ms`);
      // "Always the newest": the snapshot before `next` was not yet a full interval after `previous`,
      // otherwise it should have been delivered instead of waiting for `next`.
      const before = bySeq.get(next.seq - 1);
      if (before && before.seq !== previous.seq && at(before) - at(previous) >= interval) {
        heldBack.push(`seq ${before.seq} was ${at(before) - at(previous)} ms after seq ${previous.seq} but skipped`);
      }
    }
    expect(tooSoon, `snapshots closer together than intervalMs ${interval}`).toEqual([]);
    expect(heldBack, 'snapshots withheld past the interval').toEqual([]);
  });
});

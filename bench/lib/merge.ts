/**
 * Several load generator processes in one run (scenario `generators`, `mix`):
 * their results merged into one, as if one generator had held every
 * connection. Latency histograms merge exactly. Loss merges exactly when every
 * generator shipped its groups' window events (`shipKeys`): a group's events
 * are the union of what any generator's members received and what the
 * observer saw, so an event one generator's members all missed still counts
 * as expected for them. Makespan (per event, the latest delivery) is computed
 * over all generators the same way.
 */
import { Histogram } from './histogram.ts';
import type { GeneratorProcess, GeneratorResult } from './protocol.ts';

export interface GeneratorPart {
  transport: string;
  result: GeneratorResult;
}

const sumMaps = (maps: Record<string, number>[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const m of maps) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
  return out;
};

/** Each process's own numbers, for the report (sum and max of CPU, worst lag). */
export function processOf(part: GeneratorPart): GeneratorProcess {
  const g = part.result.generator;
  return {
    transport: part.transport,
    connections: part.result.connections.target,
    cpuPct: g.cpuPct,
    cpuMs: g.cpuMs,
    wallMs: g.wallMs,
    lagP99Ms: g.lagP99Ms,
    lagMaxMs: g.lagMaxMs,
    rssMb: g.rssMb,
  };
}

/**
 * Generators that drove the same connection groups (same transport, same
 * stream, same filters): one result. `countSeqGaps`: every member of a group
 * sees every event, so the seq range also counts events nobody received.
 */
export function mergeParts(parts: GeneratorPart[], countSeqGaps: boolean): GeneratorResult {
  if (parts.length === 1) {
    const only = parts[0] as GeneratorPart;
    const { groupDetail: _, ...rest } = only.result;
    return { ...rest, generators: only.result.generators ?? [processOf(only)] };
  }
  const results = parts.map((p) => p.result);
  const latency = new Histogram();
  for (const r of results) latency.merge(Histogram.fromJSON(r.latencyUs));
  let makespan = new Histogram();
  let events = 0;
  let expected = 0;
  const exact = results.every((r) => r.groupDetail !== undefined);
  if (exact) {
    const groups = Math.max(...results.map((r) => r.groupDetail?.length ?? 0));
    for (let g = 0; g < groups; g++) {
      const latest = new Map<number, number>();
      const union = new Set<number>();
      let members = 0;
      let min = Number.POSITIVE_INFINITY;
      let max = -1;
      for (const r of results) {
        const d = r.groupDetail?.[g];
        if (!d) continue;
        members += d.members;
        d.keys.forEach((key, i) => {
          const lat = d.maxLatMs[i] ?? 0;
          const seen = latest.get(key);
          if (seen === undefined || lat > seen) latest.set(key, lat);
          union.add(key);
        });
        for (const key of d.observed) union.add(key);
        if (d.range[0] < min) min = d.range[0];
        if (d.range[1] > max) max = d.range[1];
      }
      for (const lat of latest.values()) makespan.record(lat * 1000);
      let count = union.size;
      if (countSeqGaps && max >= min) count = Math.max(count, max - min + 1);
      events += count;
      expected += count * members;
    }
  } else {
    // Without the details: each generator's own accounting, added up (an event all of one generator's members missed is not seen).
    makespan = new Histogram();
    for (const r of results) makespan.merge(Histogram.fromJSON(r.makespanUs));
    events = Math.max(...results.map((r) => r.events));
    expected = results.reduce((a, r) => a + r.expected, 0);
  }
  const sum = (f: (r: GeneratorResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const max = (f: (r: GeneratorResult) => number) => Math.max(...results.map(f));
  const observer = results.find((r) => r.observer)?.observer;
  const stalled = results.find((r) => r.stalled)?.stalled;
  const aborted = results.find((r) => r.aborted)?.aborted;
  const badSample = results.find((r) => r.badSample !== undefined)?.badSample;
  const processes = parts.flatMap((p) => p.result.generators ?? [processOf(p)]);
  return {
    connections: {
      target: sum((r) => r.connections.target),
      opened: sum((r) => r.connections.opened),
      failed: sum((r) => r.connections.failed),
      ended: sum((r) => r.connections.ended),
      silentAtStart: sum((r) => r.connections.silentAtStart),
      failureReasons: sumMaps(results.map((r) => r.connections.failureReasons)),
      endReasons: sumMaps(results.map((r) => r.connections.endReasons)),
    },
    ...(aborted !== undefined ? { aborted } : {}),
    settleMs: max((r) => r.settleMs),
    measureMs: max((r) => r.measureMs),
    drainMs: max((r) => r.drainMs),
    backlogged: results.some((r) => r.backlogged),
    latencyUs: latency.toJSON(),
    makespanUs: makespan.toJSON(),
    // Per group, distinct events (not per generator): the event rate per subscriber stays a rate.
    events,
    expected,
    delivered: sum((r) => r.delivered),
    seqGaps: sum((r) => r.seqGaps),
    ...(observer ? { observer } : {}),
    duplicates: sum((r) => r.duplicates),
    badPayloads: sum((r) => r.badPayloads),
    ...(badSample !== undefined ? { badSample } : {}),
    receivedTotal: sum((r) => r.receivedTotal),
    ...(stalled ? { stalled } : {}),
    generators: processes,
    generator: {
      cpuPct: processes.reduce((a, p) => a + p.cpuPct, 0),
      cpuMs: processes.reduce((a, p) => a + p.cpuMs, 0),
      wallMs: Math.max(...processes.map((p) => p.wallMs)),
      lagP50Ms: max((r) => r.generator.lagP50Ms),
      lagP99Ms: Math.max(...processes.map((p) => p.lagP99Ms)),
      lagMaxMs: Math.max(...processes.map((p) => p.lagMaxMs)),
      rssMb: processes.reduce((a, p) => a + p.rssMb, 0),
    },
  };
}

/**
 * A mix (scenario `mix`: one server, several transports): the per-transport
 * results (each already merged) combined into the run's total. Transports
 * have their own connections and groups, so counts add up; the events per
 * group are the same stream's, so `events` is the largest (a rate per subscriber).
 */
export function mergeTransports(byTransport: Record<string, GeneratorResult>): GeneratorResult {
  const results = Object.values(byTransport);
  if (results.length === 1) return results[0] as GeneratorResult;
  const combined = mergeParts(
    Object.entries(byTransport).map(([transport, result]) => {
      const { groupDetail: _, ...rest } = result;
      return { transport, result: rest };
    }),
    false,
  );
  combined.events = Math.max(...results.map((r) => r.events));
  combined.expected = results.reduce((a, r) => a + r.expected, 0);
  return combined;
}

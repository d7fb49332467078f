import type { HistogramJSON } from './histogram.ts';

/** How the load generator talks to a server. */
export type ClientKind =
  /** graphql-transport-ws over WebSocket (hand-rolled minimal client). */
  | 'graphql-ws'
  /** GraphQL over SSE: POST with `Accept: text/event-stream` (graphql-sse distinct connections). */
  | 'graphql-sse'
  /** A plain WebSocket that receives one JSON object per frame (our legacy `/ws/<stream>`, the raw floor). */
  | 'json-ws'
  /** A GET that streams `data: <json>` SSE frames (the raw SSE floor). */
  | 'json-sse';

/** Connection i uses group i % groups.length: one distinct filter per group. */
export interface ConnectionGroup {
  label: string;
  /** GraphQL variables for this group's subscription. */
  variables?: Record<string, unknown>;
  /** Query string appended to the path (json-ws, json-sse), without `?`. */
  search?: string;
}

export interface GeneratorConfig {
  kind: ClientKind;
  host: string;
  port: number;
  path: string;
  /** The Subscription field, for validating sampled payloads (`data.<stream>.timestamp`). */
  stream: string;
  /** GraphQL document (graphql-ws, graphql-sse). */
  query?: string;
  groups: ConnectionGroup[];
  connections: number;
  rampPerSec: number;
  maxInflight: number;
  /** Connection counts at which the ramp pauses so the orchestrator can sample server memory. */
  checkpoints: number[];
  settleTimeoutMs: number;
  measureMs: number;
  /** After the window, wait until no event of the window has arrived for this long… */
  quietMs: number;
  /** …but no longer than this; a server still delivering then is backlogged. */
  graceMaxMs: number;
  /** Source addresses to spread connections over (ephemeral ports are per source address). */
  localAddresses: string[];
  perAddress: number;
  /**
   * Filtered runs: one extra unfiltered connection (not counted anywhere else)
   * sees every event, so the generator knows which events each group should
   * have received even when none of its members did. Group g matches an event
   * whose `from` or `to` is in groupAddresses[g] (lower-case).
   */
  observer?: { groupAddresses: string[][] };
  /** Count per-connection seq gaps (only meaningful when every connection sees every event). */
  countSeqGaps: boolean;
  /**
   * Stalled connections, opened after the readers: each subscribes without a
   * filter (no group's variables or search: every event), receives its first
   * event, then stops reading for good (its TCP socket is paused). They are not readers: nothing they receive counts for
   * latency or loss. The generator watches the server's file descriptor for
   * each one (found through /proc/net/tcp and /proc/<serverPid>/fd) to see
   * when the server closes it.
   */
  stalled?: number;
  /** The server's pid (stalled connections: whose file descriptors to watch). */
  serverPid?: number;
  /** After the window and grace, keep watching stalled connections until all are closed or this long after the last stall. */
  stalledWatchMs?: number;
  /** The whole generator run must end by then (ms since it received its config). */
  deadlineMs: number;
  /**
   * Several generator processes (bench/run.ts): this one's connections are numbered from `indexOffset`
   * in the shared source-address plan (ephemeral ports are per source address, across processes).
   */
  indexOffset?: number;
  /**
   * Driven with others: after its ramp it sends `ramped`, after settling `settled`, then waits for the
   * orchestrator's `measure` (one window start for every generator). Checkpoints wait longer for `continue`.
   */
  sync?: boolean;
  /** Report every group's window events (GroupDetail), so the orchestrator can merge generators exactly. */
  shipKeys?: boolean;
  /**
   * Every subscriber sends a document of its own (an alias `op<n>: __typename` in the innermost selection):
   * nothing can be rendered once for several subscribers (the workers-capacity scenarios).
   */
  distinctOperations?: boolean;
}

/**
 * One connection group's window, as one generator saw it (`shipKeys`): the
 * events its members received (key: seq, or the timestamp without one) with
 * the latest delivery's latency, what its observer saw for the group, its seq
 * range, and how many members it had. Merging generators: the group's events
 * are the union of every generator's keys and observed events.
 */
export interface GroupDetail {
  members: number;
  keys: number[];
  maxLatMs: number[];
  observed: number[];
  /** [min, max] seq received in the window ([Infinity, -1] for none). */
  range: [number, number];
}

/** One generator process of a run (several with `generators` or `mix`). */
export interface GeneratorProcess {
  /** The transport its connections use (scenario `mix`), else the scenario's. */
  transport: string;
  connections: number;
  cpuPct: number;
  cpuMs: number;
  wallMs: number;
  lagP99Ms: number;
  lagMaxMs: number;
  rssMb: number;
}

export interface GeneratorResult {
  connections: {
    target: number;
    opened: number;
    failed: number;
    /** Closed, completed or errored by the server after opening. */
    ended: number;
    /** Open at measure start but never delivered an event before it (settle timed out for them). */
    silentAtStart: number;
    failureReasons: Record<string, number>;
    endReasons: Record<string, number>;
  };
  /** Set when the run stopped early; the rest of the result is partial. */
  aborted?: string;
  settleMs: number;
  measureMs: number;
  /** How long after the window the last event of the window arrived (bounded by graceMaxMs). */
  drainMs: number;
  /** Still delivering window events when graceMaxMs ran out: the server did not keep up. */
  backlogged: boolean;
  /** Receive time − event timestamp, µs, for events timestamped inside the window. */
  latencyUs: HistogramJSON;
  /** Per (group, event): the latest delivery − timestamp, µs. */
  makespanUs: HistogramJSON;
  /** Distinct (group, event) pairs seen inside the window. */
  events: number;
  expected: number;
  delivered: number;
  seqGaps: number;
  /** Filtered runs: what the unfiltered observer saw of the window (events, and seq gaps it had itself). */
  observer?: { events: number; gaps: number; state: string };
  /** Per group, with `shipKeys` (several generators): what the merge needs. Dropped from merged results. */
  groupDetail?: GroupDetail[];
  /** A merged result (several generators): each process's own CPU, lag and memory. */
  generators?: GeneratorProcess[];
  duplicates: number;
  badPayloads: number;
  badSample?: string;
  /** Every event-bearing message, including warm-up and after the window. */
  receivedTotal: number;
  /** Present when the config asked for stalled connections. */
  stalled?: StalledResult;
  /** Merged results: CPU summed over the processes, lag the worst of them, wall the longest, RSS summed. */
  generator: {
    cpuPct: number;
    /** CPU time (user + system) and wall time over the measurement window alone, ms (cpuPct also covers the grace period). */
    cpuMs: number;
    wallMs: number;
    lagP50Ms: number;
    lagP99Ms: number;
    lagMaxMs: number;
    rssMb: number;
  };
}

export interface StalledResult {
  target: number;
  /** Handshake (and, for graphql-ws, connection_ack) completed. */
  opened: number;
  failed: number;
  /** Received their first event and were paused. */
  stalled: number;
  /** Opened but ended before their first event arrived. */
  endedBeforeStall: number;
  /** Stalled connections the server closed before the generator stopped watching. */
  closedByServer: number;
  /** Per closed connection: ms from its stall to the close being seen, ascending. */
  closedAfterMs: number[];
  /** How each close was seen: the server released its socket (/proc/<pid>/fd), its TCP state when first mapped, or the client's own close/error. */
  closeReasons: Record<string, number>;
  /** How long after the last stall the generator stopped watching (ms). */
  watchedMs: number;
  /** Why close detection may be incomplete (e.g. /proc/net/tcp unreadable). */
  note?: string;
}

export type ToGenerator =
  | { type: 'start'; config: GeneratorConfig }
  | { type: 'continue' }
  | { type: 'abort'; reason: string }
  /** Sync mode: the common window starts at this epoch ms. */
  | { type: 'measure'; startAt: number };

export type FromGenerator =
  | { type: 'hello' }
  | { type: 'progress'; text: string }
  | { type: 'checkpoint'; connections: number }
  /** Sync mode: ramp done (readers, stalled connections, observer), `connections` open. */
  | { type: 'ramped'; connections: number }
  /** Sync mode: settled; waiting for `measure`. */
  | { type: 'settled' }
  | { type: 'measure-start' }
  | { type: 'measure-end' }
  | { type: 'result'; result: GeneratorResult }
  | { type: 'fatal'; error: string };

/** What the server-side probe (bench/probe/server-probe.ts) answers, per process. */
export interface ProbeSample {
  /** The process that answered (a multi-process server: one sample per process, see ProbeTreeSample). */
  pid?: number;
  /** A node:cluster worker (false: the spawned process, e.g. a primary). */
  worker?: boolean;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  /** process.cpuUsage() user+system, µs. */
  cpuUs: number;
  /** Event-loop delay since the last reset; `samples` 0 means the loop never got to sample (treat as unknown). */
  lag: { p50Ms: number; p99Ms: number; maxMs: number; meanMs: number; samples: number };
}

/**
 * A server's whole process tree at once (bench/lib/probe-hub.ts): heaps added
 * up, the worst event-loop lag of any process (p99 and max), and each
 * process's own sample. A single-process server: exactly its one sample.
 */
export interface ProbeTreeSample extends ProbeSample {
  processes: ProbeSample[];
}

export type ToProbe = { type: 'probe:sample'; id: number; gc: boolean } | { type: 'probe:reset-lag' };
export type FromProbe =
  | { type: 'probe:sample'; id: number; sample: ProbeSample }
  /** First message on the probe socket: who this process is. */
  | { type: 'probe:hello'; pid: number; ppid: number; worker: boolean };

/**
 * The live status page (GET /). Runs in the browser: routes.ts bundles it with
 * esbuild on first request. Everything arrives over GraphQL subscriptions
 * through the resumable client kit, each selecting only the fields it shows;
 * the kit reconnects and resumes by cursor by itself, and a REPLAY_GAP (the
 * server restarted with a new history) makes the page reload its snapshots
 * instead of showing stale state.
 */
import { print } from 'graphql';
import uPlot from 'uplot';
import { describeFailure, isFatal } from '../client/policy.ts';
import { createResumableClient, type ReplayGap, type ResumableSubscription } from '../client/resumable.ts';
import {
  StatusConsensusDocument,
  StatusMetricsDocument,
  StatusNetworkDocument,
  StatusPeersDocument,
  StatusTransactionsDocument,
  StatusValidatorSetDocument,
  StatusValidatorsDocument,
  type StatusConsensusSubscription,
  type StatusMetricsSubscription,
  type StatusNetworkSubscription,
  type StatusTransactionsSubscription,
  type StatusValidatorsSubscription,
} from './generated/graphql.ts';

// ---------- operations: field selection is the point (operations.graphql, typed by codegen) ----------

const METRICS = print(StatusMetricsDocument);
const CONSENSUS = print(StatusConsensusDocument);
const VALIDATOR_SET = print(StatusValidatorSetDocument);
const VALIDATORS = print(StatusValidatorsDocument);
const PEERS = print(StatusPeersDocument);
const NETWORK = print(StatusNetworkDocument);
const TRANSACTIONS = print(StatusTransactionsDocument);

type Metrics = StatusMetricsSubscription['metrics'];
type Consensus = StatusConsensusSubscription['consensus'];
type Validator = StatusValidatorsSubscription['validators'];
type Peer = StatusNetworkSubscription['network'];
type Transaction = StatusTransactionsSubscription['transactions'];

// ---------- DOM helpers ----------

const byTestId = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const element = document.querySelector<T>(`[data-testid="${id}"]`);
  if (!element) throw new Error(`status page: no element ${id}`);
  return element;
};
const setText = (id: string, text: string) => {
  const element = byTestId(id);
  if (element.textContent !== text) element.textContent = text;
};
const cell = (text: string, className?: string): HTMLTableCellElement => {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
};
const badge = (status: string): HTMLTableCellElement => {
  const td = document.createElement('td');
  const span = document.createElement('span');
  span.className = `badge ${status}`;
  span.textContent = status;
  td.append(span);
  return td;
};
const short = (hex: string, keep = 6) => (hex.length > keep * 2 + 3 ? `${hex.slice(0, keep + 2)}…${hex.slice(-keep)}` : hex);
const time = (iso: string) => iso.slice(11, 23);
/** Values are decimal strings of the smallest unit and exceed 2^53: show three significant digits. */
const compact = (decimal: string) => (decimal.length <= 6 ? decimal : `${decimal[0]}.${decimal.slice(1, 3)}e${decimal.length - 1}`);

const logList = byTestId<HTMLOListElement>('log');
function log(kind: 'info' | 'gap' | 'error', text: string) {
  const li = document.createElement('li');
  li.className = kind;
  li.textContent = `${new Date().toISOString().slice(11, 19)}  ${text}`;
  logList.prepend(li);
  while (logList.children.length > 60) logList.lastElementChild?.remove();
}

// ---------- connection ----------

const connection = byTestId('connection');
function setConnection(state: 'connecting' | 'live' | 'reconnecting' | 'failed', label: string) {
  connection.dataset['state'] = state;
  const text = connection.querySelector('.label');
  if (text) text.textContent = label;
}

const token = new URLSearchParams(location.hash.slice(1)).get('token');
let lastRetryLog = '';
const kit = createResumableClient({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
  ...(token && { getToken: () => token }),
  backoff: { initialMs: 250, maxMs: 5_000 },
  onRetry: (info) => {
    setConnection('reconnecting', `reconnecting (attempt ${info.attempt})…`);
    // Every subscription retries on its own; one line per cause is enough.
    const line = `${info.reason}; resubscribing with after: <last cursor>`;
    if (line !== lastRetryLog) log('info', line);
    lastRetryLog = line;
  },
});
kit.on('connected', () => {
  lastRetryLog = '';
  setConnection('live', 'live');
});
kit.on('closed', () => {
  if (connection.dataset['state'] === 'live') setConnection('reconnecting', 'reconnecting…');
});

const onFatal = (what: string) => (error: unknown) => {
  setConnection('failed', `stopped: ${describeFailure(error)}`);
  log('error', `${what}: ${describeFailure(error)}`);
};
const onGapLog = (what: string, then: string) => (gap: ReplayGap) => log('gap', `${what}: REPLAY_GAP — ${gap.error.message}; ${then}`);

function query<T>(document: string): Promise<T> {
  return new Promise((resolve, reject) => {
    kit.subscribe<T>(
      { query: document },
      {
        next: (result) => (result.data ? resolve(result.data) : reject(new Error(describeFailure(result.errors ?? [])))),
        error: reject,
        complete: () => undefined,
      },
    );
  });
}

/** Renders whatever changed, at most four times a second however fast events come. */
const dirty = new Set<'metrics' | 'consensus' | 'validators' | 'peers' | 'transactions'>();
setInterval(render, 250);

// ---------- metrics: tiles and the chart ----------

const WINDOW_S = 300;
/**
 * The chart and the TPS tile show a trailing average over this many seconds:
 * blocks commit in bursts, so the per-second rate jumps 0 → 60 → 0 on a
 * healthy chain, which reads as an outage. The raw per-second values stay in
 * the chart's data (the "raw" series, off until its legend entry is clicked).
 */
const SMOOTHING_S = 10;
/** x (unix s), TPS and error % averaged over SMOOTHING_S, raw TPS; a null point breaks the lines where the history was cut. */
const series: [number[], (number | null)[], (number | null)[], (number | null)[]] = [[], [], [], []];
/** Raw error % per point, to average over the same window. */
const rawErrors: (number | null)[] = [];
let latest: Metrics | undefined;
let smoothedTps: number | undefined;

/** The mean of `values` over the points within SMOOTHING_S of the last one, back to the last break. */
function trailingMean(values: readonly (number | null)[]): number | null {
  const xs = series[0];
  const end = xs.length - 1;
  const from = (xs[end] as number) - SMOOTHING_S;
  let sum = 0;
  let count = 0;
  for (let i = end; i >= 0 && (xs[i] as number) > from; i--) {
    const value = values[i];
    if (value === null || value === undefined) break;
    sum += value;
    count++;
  }
  return count === 0 ? null : sum / count;
}

kit.resumable<{ metrics: Metrics }>(
  // replay fills the chart with what the server still has; on resume the kit drops it for `after`.
  { query: METRICS, variables: { replay: 600 } },
  {
    next: ({ data }) => {
      if (!data) return;
      latest = data.metrics;
      const x = Date.parse(latest.timestamp) / 1000;
      const [xs, tps, errors, rawTps] = series;
      if (xs.length > 0 && x <= (xs.at(-1) as number)) return;
      xs.push(x);
      rawTps.push(latest.tps);
      rawErrors.push(latest.errorRate * 100);
      const meanTps = trailingMean(rawTps);
      tps.push(meanTps);
      errors.push(trailingMean(rawErrors));
      smoothedTps = meanTps ?? undefined;
      while (xs.length > 0 && (xs[0] as number) < x - WINDOW_S) {
        xs.shift();
        tps.shift();
        errors.shift();
        rawTps.shift();
        rawErrors.shift();
      }
      dirty.add('metrics');
    },
    error: onFatal('metrics'),
    complete: () => undefined,
  },
  {
    onGap: (gap) => {
      onGapLog('metrics', 'the chart goes on with the new history')(gap);
      const [xs, tps, errors, rawTps] = series;
      const last = xs.at(-1);
      if (last === undefined) return;
      xs.push(last + 0.001);
      tps.push(null);
      errors.push(null);
      rawTps.push(null);
      rawErrors.push(null);
    },
  },
);

const chartElement = byTestId('chart');
const css = getComputedStyle(document.documentElement);
const color = (name: string) => css.getPropertyValue(name).trim();
const axis = { stroke: color('--muted'), grid: { stroke: color('--line'), width: 1 }, ticks: { stroke: color('--line'), width: 1 } };
/** Wall-clock labels, one line each; `space` keeps them apart however narrow the chart gets. */
const clock = (seconds: number) => new Date(seconds * 1000).toTimeString().slice(0, 8);
const chart = new uPlot(
  {
    width: chartElement.clientWidth || 800,
    height: 240,
    scales: {
      x: { time: true },
      tps: { range: (_u, _min, max) => [0, Math.max(10, max * 1.2)] },
      pct: { range: (_u, _min, max) => [0, Math.max(5, max * 1.2)] },
    },
    series: [
      { value: (_u, v) => (v == null ? '–' : clock(v)) },
      {
        label: `TPS (${SMOOTHING_S} s avg)`,
        scale: 'tps',
        stroke: color('--accent'),
        width: 2,
        fill: 'rgba(90,169,255,0.08)',
        value: (_u, v) => (v == null ? '–' : v.toFixed(1)),
      },
      {
        label: `errors % (${SMOOTHING_S} s avg)`,
        scale: 'pct',
        stroke: color('--bad'),
        width: 1.5,
        value: (_u, v) => (v == null ? '–' : v.toFixed(2)),
      },
      {
        label: 'TPS (raw, per second)',
        scale: 'tps',
        stroke: color('--muted'),
        width: 1,
        show: false,
        value: (_u, v) => (v == null ? '–' : v.toFixed(1)),
      },
    ],
    axes: [
      { ...axis, space: 80, values: (_u, splits) => splits.map(clock) },
      { ...axis, scale: 'tps', label: 'tx/s' },
      { ...axis, scale: 'pct', side: 1, label: 'errors %', grid: { show: false } },
    ],
  },
  series,
  chartElement,
);
new ResizeObserver(() => chart.setSize({ width: chartElement.clientWidth, height: 240 })).observe(chartElement);

// ---------- consensus ----------

let consensus: Consensus | undefined;
kit.resumable<{ consensus: Consensus }>(
  // A literal `replay: 1` shows the current round at once; the kit drops it when it resumes.
  { query: CONSENSUS },
  {
    next: ({ data }) => {
      if (!data) return;
      consensus = data.consensus;
      dirty.add('consensus');
    },
    error: onFatal('consensus'),
    complete: () => undefined,
  },
  { onGap: onGapLog('consensus', 'following the new history') },
);

// ---------- validators and peers: a snapshot kept current by a stream ----------

/**
 * Latest state per key: a Query snapshot plus the stream. The stream starts
 * with a replay of recent history, so nothing between the snapshot and the
 * subscription is missed; an event only applies when it is newer (by seq)
 * than what the key already has, so replayed history cannot roll state back.
 * A REPLAY_GAP (a new server history) starts over with a fresh snapshot.
 */
function syncedState<T extends { seq: number }>(options: {
  name: 'validators' | 'peers';
  snapshot: string;
  snapshotField: string;
  stream: string;
  field: string;
  key: (item: T) => string;
  keep: (item: T) => boolean;
}): { items(): Map<string, T> } {
  let items = new Map<string, T>();
  let seqs = new Map<string, number>();
  const apply = (item: T) => {
    const key = options.key(item);
    if ((seqs.get(key) ?? -1) >= item.seq) return;
    seqs.set(key, item.seq);
    if (options.keep(item)) items.set(key, item);
    else items.delete(key);
    dirty.add(options.name);
  };
  const load = async (attempt = 0): Promise<void> => {
    try {
      const data = await query<Record<string, T[]>>(options.snapshot);
      for (const item of data[options.snapshotField] ?? []) apply(item);
    } catch (error) {
      if (isFatal(error)) return onFatal(`${options.name} snapshot`)(error);
      // Usually the connection dropped under the query; the kit is reconnecting.
      setTimeout(() => void load(attempt + 1), Math.min(5_000, 250 * 2 ** attempt));
      if (attempt === 0) log('info', `${options.name} snapshot: ${describeFailure(error)}; retrying`);
    }
  };
  void load();
  kit.resumable<Record<string, T>>(
    { query: options.stream, variables: { replay: 1000 } },
    {
      next: ({ data }) => {
        const item = data?.[options.field];
        if (item) apply(item);
      },
      error: onFatal(options.name),
      complete: () => undefined,
    },
    {
      onGap: (gap) => {
        onGapLog(options.name, 'reloading the snapshot')(gap);
        items = new Map();
        seqs = new Map();
        dirty.add(options.name);
        void load();
      },
    },
  );
  return { items: () => items };
}

const validators = syncedState<Validator>({
  name: 'validators',
  snapshot: VALIDATOR_SET,
  snapshotField: 'validatorSet',
  stream: VALIDATORS,
  field: 'validators',
  key: (v) => v.validator,
  keep: () => true,
});
const peers = syncedState<Peer>({
  name: 'peers',
  snapshot: PEERS,
  snapshotField: 'peers',
  stream: NETWORK,
  field: 'network',
  key: (p) => p.peerId,
  keep: (p) => p.connected,
});

// ---------- transactions: a live feed with a server-side filter ----------

const FEED_ROWS = 40;
/** Rows of the feed, newest first; a gap row marks where a REPLAY_GAP cut the history. */
let feed: (Transaction | { gap: string })[] = [];
let feedSubscription: ResumableSubscription | undefined;
const statusSelect = byTestId<HTMLSelectElement>('tx-status');
function subscribeTransactions(status: string) {
  feedSubscription?.unsubscribe();
  feed = [];
  dirty.add('transactions');
  feedSubscription = kit.resumable<{ transactions: Transaction }>(
    { query: TRANSACTIONS, variables: { filter: status ? { status: [status] } : null, replay: 20 } },
    {
      next: ({ data }) => {
        if (!data) return;
        feed.unshift(data.transactions);
        if (feed.length > FEED_ROWS) feed.length = FEED_ROWS;
        dirty.add('transactions');
      },
      error: onFatal('transactions'),
      complete: () => undefined,
    },
    {
      onGap: (gap) => {
        onGapLog('transactions', 'events while the server was away are lost; following the new history')(gap);
        feed.unshift({ gap: `REPLAY_GAP: ${gap.error.message}` });
        dirty.add('transactions');
      },
    },
  );
}
statusSelect.addEventListener('change', () => subscribeTransactions(statusSelect.value));
subscribeTransactions(statusSelect.value);

// ---------- rendering ----------

let shownSeqs = new Set<number>();
function render() {
  if (dirty.has('metrics') && latest) {
    setText('tps', (smoothedTps ?? latest.tps).toFixed(1));
    setText('tps-raw', latest.tps.toFixed(1));
    setText('error-rate', `${(latest.errorRate * 100).toFixed(2)} %`);
    setText('connections', String(latest.connections));
    byTestId('tps').dataset['timestamp'] = latest.timestamp;
    chart.setData(series);
  }
  if (dirty.has('consensus') && consensus) {
    setText('leader', short(consensus.leader, 8));
    byTestId('leader').title = consensus.leader;
    setText('consensus-state', consensus.state);
    setText('epoch', String(consensus.epoch));
    setText('round', String(consensus.round));
    setText('term', String(consensus.term));
  }
  if (dirty.has('validators')) {
    const list = [...validators.items().values()].sort((a, b) => b.votingPower - a.votingPower);
    setText('validators-active', String(list.filter((v) => v.status === 'ACTIVE').length));
    setText('validators-total', String(list.length));
    byTestId('validators')
      .querySelector('tbody')
      ?.replaceChildren(
        ...list.map((v) => {
          const tr = document.createElement('tr');
          tr.dataset['status'] = v.status;
          tr.append(
            cell(short(v.validator), 'mono'),
            badge(v.status),
            cell(v.votingPower.toLocaleString('en-US', { maximumFractionDigits: 0 }), 'num'),
            cell(`${v.uptime.toFixed(1)} %`, 'num'),
            // Block 0 is no block: a validator that has not proposed yet.
            v.lastBlockProposed === 0 ? cell('never', 'num muted') : cell(String(v.lastBlockProposed), 'num'),
          );
          return tr;
        }),
      );
  }
  if (dirty.has('peers')) {
    const list = [...peers.items().values()].sort((a, b) => a.latency - b.latency);
    setText('peers', String(list.length));
    byTestId('peer-table')
      .querySelector('tbody')
      ?.replaceChildren(
        ...list.map((p) => {
          const tr = document.createElement('tr');
          tr.append(cell(short(p.peerId, 6), 'mono'), cell(p.ip, 'mono'), cell(`${p.latency.toFixed(1)} ms`, 'num'), cell(p.version));
          return tr;
        }),
      );
  }
  if (dirty.has('transactions')) {
    const seen = new Set<number>();
    byTestId('transactions')
      .querySelector('tbody')
      ?.replaceChildren(
        ...feed.map((tx) => {
          if ('gap' in tx) {
            const tr = document.createElement('tr');
            tr.className = 'gap';
            const td = cell(`— ${tx.gap} —`);
            td.colSpan = 7;
            tr.append(td);
            return tr;
          }
          seen.add(tx.seq);
          const tr = document.createElement('tr');
          tr.dataset['status'] = tx.status;
          tr.dataset['seq'] = String(tx.seq);
          if (!shownSeqs.has(tx.seq)) tr.className = 'fresh';
          const value = cell(compact(tx.value), 'num');
          value.title = tx.value;
          tr.append(
            cell(String(tx.seq), 'num'),
            cell(time(tx.timestamp), 'mono'),
            cell(short(tx.txHash), 'mono'),
            cell(`${short(tx.from, 4)} → ${short(tx.to, 4)}`, 'mono'),
            value,
            badge(tx.status),
            cell(String(tx.gasUsed), 'num'),
          );
          return tr;
        }),
      );
    shownSeqs = seen;
  }
  dirty.clear();
}

window.addEventListener('pagehide', () => void kit.dispose());

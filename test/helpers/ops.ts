import { STATS_FIELD, STREAM_NAMES, type StreamName } from './contract.ts';
import type { ServerUrls } from './server.ts';

/** The keys of `GET /api/v11/websocket/stats`: each stream's connections (from the registry), then the totals. */
export const STATS_KEYS = [
  ...STREAM_NAMES.map((stream) => STATS_FIELD[stream]),
  'totalConnections',
  'messagesSent',
  'lastBroadcastLatency',
] as const;
export type Stats = Record<(typeof STATS_KEYS)[number], number>;

/** The stats key holding each stream's connection count. */
export const STATS_KEY_OF_STREAM = STATS_FIELD;

/** A stream's connection count in the stats document. */
export function connectionsOf(stats: Stats, stream: StreamName): number {
  const value = stats[STATS_FIELD[stream]];
  if (typeof value !== 'number') throw new Error(`the stats document has no ${STATS_FIELD[stream]}`);
  return value;
}

export async function getStats(server: ServerUrls): Promise<Stats> {
  const response = await fetch(server.http('/api/v11/websocket/stats'));
  if (response.status !== 200) throw new Error(`stats answered ${response.status}`);
  return (await response.json()) as Stats;
}

/** GET a path and return the status, or 'unreachable' when the connection fails (server gone or closing). */
export async function probeStatus(url: string): Promise<number | 'unreachable'> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 'unreachable';
  }
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  text: string;
  contentType: string | null;
  samples: Sample[];
  /** `# TYPE` of each metric family. */
  types: Map<string, string>;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text exposition format (enough of it for assertions). */
export function parsePrometheus(text: string): Pick<Scrape, 'samples' | 'types'> {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (name && type) types.set(name, type);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) labels[label[1] as string] = label[2] as string;
    const raw = match[3] as string;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: match[1] as string, labels, value });
  }
  return { samples, types };
}

export async function scrape(server: ServerUrls): Promise<Scrape> {
  const response = await fetch(server.http('/metrics'));
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  const text = await response.text();
  return { text, contentType: response.headers.get('content-type'), ...parsePrometheus(text) };
}

/** Samples of `name` whose labels include every given label. */
export function samplesOf(result: Pick<Scrape, 'samples'>, name: string, labels: Record<string, string> = {}): Sample[] {
  return result.samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

/** The value of the one sample of `name` with exactly these labels; undefined when there is none. */
export function sampleValue(result: Pick<Scrape, 'samples'>, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.keys(labels).length;
  const found = samplesOf(result, name, labels).filter((sample) => Object.keys(sample.labels).length === wanted);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

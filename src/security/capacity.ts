import { readFileSync } from 'node:fs';

/**
 * How many connections this process can hold before it runs out of file
 * descriptors. Every socket is a descriptor; so is every Redis connection, a
 * `/proc` read (the metrics ticker's memory reading, Prometheus' process
 * metrics), a log file, a static file read. At the limit `accept`, `open` and
 * `uv_resident_set_memory` fail with EMFILE — so connections are refused well
 * before it, while the process still has descriptors for its own work.
 */

/**
 * The process's open-file soft limit ("Max open files" in /proc/self/limits;
 * Node has no getrlimit). Node raises the soft limit to the hard one when it
 * starts, so this is what `ulimit -Hn` / systemd's LimitNOFILE allowed.
 * Undefined where /proc does not exist (macOS, Windows) or says "unlimited".
 */
export function openFileLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  try {
    const line = read()
      .split('\n')
      .find((candidate) => candidate.startsWith('Max open files'));
    const soft = Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0]);
    return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Descriptors kept away from long-lived client connections: half for the
 * process's own (Redis, logs, /proc reads, listening sockets, libuv's
 * internals, JWKS fetches), half for plain HTTP requests (ingest, /metrics,
 * /ready, queries, and the answers that refuse connections). 5 %, at least
 * 128: a server under `tsx` holds 26 descriptors before its first client
 * (measured), and Redis adds a few.
 */
export const descriptorReserve = (limit: number): number => Math.max(128, Math.ceil(limit * 0.05));

export interface ConnectionCapacity {
  /** Long-lived connections (WebSocket, SSE, multipart, single-connection SSE reservations) at once: MAX_CONNECTIONS in effect. */
  maxConnections: number;
  /** TCP sockets of the HTTP server at once, plain and long-lived; past it a new connection is closed on arrival. */
  maxSockets: number;
  /** The open-file limit both were derived from; undefined when it could not be read. */
  openFileLimit: number | undefined;
  /** MAX_CONNECTIONS as configured, when it was more than the open-file limit holds and was lowered. */
  maxConnectionsRequested?: number;
}

/**
 * MAX_CONNECTIONS in effect: as configured, else `fallback` — never more than
 * the open-file limit minus the reserve (a higher value is lowered to it;
 * the server warns at start). The socket bound sits between the two, so at
 * MAX_CONNECTIONS long-lived connections there are still descriptors for
 * /metrics, /ready, ingest and for clean 503 answers to whoever comes next.
 */
export function connectionCapacity(options: {
  requested: number | undefined;
  fallback: number;
  openFileLimit: number | undefined;
}): ConnectionCapacity {
  const { requested, fallback, openFileLimit: limit } = options;
  const wanted = requested ?? fallback;
  if (limit === undefined) return { maxConnections: wanted, maxSockets: Number.POSITIVE_INFINITY, openFileLimit: undefined };
  const reserve = descriptorReserve(limit);
  const ceiling = Math.max(1, limit - reserve);
  const maxSockets = Math.max(ceiling + 1, limit - Math.floor(reserve / 2));
  return {
    maxConnections: Math.min(wanted, ceiling),
    maxSockets,
    openFileLimit: limit,
    ...(requested !== undefined && requested > ceiling && { maxConnectionsRequested: requested }),
  };
}

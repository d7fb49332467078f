import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { RealtimeError } from '../errors.ts';

/**
 * Which browser pages may read this server, by two lists: CORS_ORIGINS (pages
 * elsewhere, e.g. a portal) and ALLOWED_HOSTS (the names this server itself
 * answers to, so its own pages — status page, GraphiQL — are same-origin).
 *
 * Why the Host must be checked (DNS rebinding): a page at
 * `http://attacker.example` whose name is made to resolve to this server is
 * same-origin with it as far as the browser knows — its requests carry
 * `Origin: http://attacker.example` and `Host: attacker.example`, or, for a
 * same-origin GET (EventSource, fetch), no Origin at all. Trusting "Origin
 * equals Host" would let any web page read every anonymous stream. A name
 * can only be rebound if it is not one of ours, so the same-origin exemption
 * applies only to hosts on the list; IP literals are always ours (nobody can
 * serve a page at this server's address but this server).
 */

/** A host name (lower case, no trailing dot, IPv6 in brackets) and its port, if one was named. */
interface Authority {
  name: string;
  port: string | undefined;
}

/** Parses `name[:port]` as a Host header carries it; undefined when it is not one. */
function parseAuthority(value: string): Authority | undefined {
  if (value === '' || /[\s/?#@\\]/.test(value)) return undefined;
  try {
    // URL does the parsing (IPv6 brackets, ports, IDNA): a value it refuses is no host at all.
    const url = new URL(`http://${value}`);
    return { name: url.hostname.replace(/\.$/, ''), port: /:(\d+)$/.exec(value)?.[1] };
  } catch {
    return undefined;
  }
}

/** An Origin header's scheme, host name and port (the scheme's default port when it names none). */
function parseOrigin(origin: string): (Authority & { scheme: 'http' | 'https' }) | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    return { scheme, name: url.hostname.replace(/\.$/, ''), port: url.port || (scheme === 'https' ? '443' : '80') };
  } catch {
    return undefined;
  }
}

/**
 * The scheme the client used to reach this server: https on a TLS socket;
 * behind a trusted proxy, what it says in X-Forwarded-Proto (the last entry:
 * the one it set); http otherwise.
 */
function schemeOf(request: IncomingMessage, trustProxy: boolean): 'http' | 'https' {
  if ('encrypted' in request.socket && request.socket.encrypted) return 'https';
  if (trustProxy) {
    const forwarded = request.headers['x-forwarded-proto'];
    const last = (Array.isArray(forwarded) ? forwarded.at(-1) : forwarded)?.split(',').at(-1)?.trim().toLowerCase();
    if (last === 'https') return 'https';
  }
  return 'http';
}

const isIpLiteral = (name: string) => isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0;

export interface HostAllowList {
  /** The entries as configured (for messages and the log). */
  readonly entries: readonly string[];
  /** Whether a Host header names a host this server answers to. An IP address always does. */
  allows(host: string | undefined): boolean;
}

/**
 * ALLOWED_HOSTS: each entry is a host name (any port), `name:port` (that port
 * only), `.example.com` (that domain and every name under it), or `*` (any
 * host: turns the protection off, for a proxy that rewrites Host itself).
 * Names compare case-insensitively.
 */
export function createHostAllowList(entries: readonly string[]): HostAllowList {
  const any = entries.includes('*');
  const rules = entries
    .filter((entry) => entry !== '*')
    .map((entry) => {
      const suffix = entry.startsWith('.');
      const parsed = parseAuthority(suffix ? entry.slice(1) : entry);
      if (!parsed) throw new RealtimeError('CONFIG_INVALID', `ALLOWED_HOSTS: "${entry}" is not a host name`);
      return { ...parsed, suffix };
    });
  return {
    entries,
    allows(host) {
      if (any) return true;
      const authority = host === undefined ? undefined : parseAuthority(host.trim().toLowerCase());
      if (!authority) return false;
      if (isIpLiteral(authority.name)) return true;
      return rules.some(
        (rule) =>
          (rule.suffix ? authority.name === rule.name || authority.name.endsWith(`.${rule.name}`) : authority.name === rule.name) &&
          (rule.port === undefined || rule.port === authority.port),
      );
    },
  };
}

/**
 * The hosts allowed when ALLOWED_HOSTS is not set: this machine's loopback
 * names (and `*.localhost`, which browsers resolve to loopback), and HOST when
 * it is a name rather than an address. Any other name by which browsers reach
 * the server must be listed.
 */
export function defaultAllowedHosts(host: string): string[] {
  const names = ['localhost', '.localhost', '127.0.0.1', '[::1]'];
  if (parseAuthority(host) && !isIpLiteral(host) && !names.includes(host.toLowerCase())) names.push(host.toLowerCase());
  return names;
}

/** Why a request was refused: counted under this reason in aurigraph_connections_refused_total. */
export type OriginRefusal = { reason: 'origin' | 'host'; error: RealtimeError };

/**
 * The browser-origin rule for every route that carries events (WebSocket
 * upgrades, SSE, multipart, GraphQL over HTTP). Returns undefined when the
 * request may go on.
 *
 * - With an `Origin`: it must be on CORS_ORIGINS, or be this very host (the
 *   scheme the client used — see schemeOf —, the same host name, and the same
 *   port where the Host names one: a proxy forwarding `$host` drops it) with
 *   that host on ALLOWED_HOSTS.
 * - Without one, a browser cannot have sent a WebSocket upgrade or a POST (it
 *   always adds Origin there), so those come from other clients (curl,
 *   services, a proxy's health check) and pass, whatever their Host. A GET
 *   without Origin is what a browser sends for a same-origin EventSource or
 *   fetch, so with anonymous access (AUTH_MODE=none) its Host must be
 *   allowed; with tokens required a page has no token to send, so it passes
 *   on to authentication.
 */
export function createOriginGuard(options: {
  corsOrigins: readonly string[];
  allowedHosts: HostAllowList;
  anonymousReads: boolean;
  /** TRUST_PROXY: X-Forwarded-Proto says which scheme the page used. */
  trustProxy?: boolean;
}) {
  const cors = new Set(options.corsOrigins);
  const { allowedHosts, anonymousReads } = options;
  const trustProxy = options.trustProxy ?? false;
  const hostNotAllowed = (host: string | undefined) =>
    new RealtimeError(
      'FORBIDDEN',
      `host ${String(host).slice(0, 200)} is not allowed: list the names this server is reached by in ALLOWED_HOSTS`,
    );
  return {
    check(request: IncomingMessage): OriginRefusal | undefined {
      const { origin, host } = request.headers;
      if (origin !== undefined) {
        if (cors.has(origin)) return undefined;
        const from = parseOrigin(origin);
        const to = host === undefined ? undefined : parseAuthority(host.trim().toLowerCase());
        const sameHost =
          from !== undefined &&
          to !== undefined &&
          from.scheme === schemeOf(request, trustProxy) &&
          from.name === to.name &&
          (to.port === undefined || to.port === from.port);
        if (sameHost && allowedHosts.allows(host)) return undefined;
        if (sameHost) return { reason: 'host', error: hostNotAllowed(host) };
        return { reason: 'origin', error: new RealtimeError('FORBIDDEN', `origin ${origin.slice(0, 200)} is not allowed`) };
      }
      const browserCouldOmitOrigin = (request.method === 'GET' || request.method === 'HEAD') && request.headers.upgrade === undefined;
      // No Host at all is HTTP/1.0, which no browser speaks.
      if (browserCouldOmitOrigin && anonymousReads && host !== undefined && !allowedHosts.allows(host)) {
        return { reason: 'host', error: hostNotAllowed(host) };
      }
      return undefined;
    },
  };
}

export type OriginGuard = ReturnType<typeof createOriginGuard>;

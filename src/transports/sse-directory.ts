import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { OperationParams } from '../engine/operations.ts';
import type { Logger } from '../ops/logger.ts';
import type { Principal } from '../security/auth.ts';

/** A single-connection SSE reservation as the fleet knows it. */
export interface ReservationRecord {
  token: string;
  /** The token subject of the caller that reserved it: only that caller may use it. */
  subject: string | undefined;
}

/** A caller's verified principal, as it travels between instances. */
export interface ForwardedCaller {
  subject: string | undefined;
  scopes: string[];
  expiresAt: number | undefined;
}

/** A request for a stream another instance holds open. */
export type ForwardedRequest =
  | { kind: 'operation'; token: string; id: string; params: OperationParams; caller: ForwardedCaller | undefined }
  | { kind: 'stop'; token: string; id: string; caller: ForwardedCaller | undefined };

export function toForwarded(principal: Principal | undefined): ForwardedCaller | undefined {
  return principal && { subject: principal.subject, scopes: [...principal.scopes], expiresAt: principal.expiresAt };
}

export function fromForwarded(caller: ForwardedCaller | undefined): Principal | undefined {
  return caller && { subject: caller.subject, scopes: new Set(caller.scopes), expiresAt: caller.expiresAt };
}

/**
 * Where graphql-sse single-connection streams live across a fleet. Behind a
 * round-robin balancer, the PUT that reserves a stream, the GET that opens it
 * and the POSTs that feed it can reach different instances: the directory
 * lets any instance find a reservation, lets the instance that got the GET
 * own the stream, and carries operations POSTed elsewhere to the owner.
 * No sticky routing is needed.
 */
export interface ReservationDirectory {
  /** PUT: remember the reservation fleet-wide until it is claimed or `ttlMs` passes. */
  register(record: ReservationRecord, ttlMs: number): Promise<void>;
  /** GET: this instance owns the stream from now on. Resolves the record, or undefined when nobody reserved the token. */
  claim(token: string): Promise<ReservationRecord | undefined>;
  /** Which instance owns an open stream (undefined: none). */
  ownerOf(token: string): Promise<string | undefined>;
  /** Hands a request to the owner of its stream. */
  forward(owner: string, request: ForwardedRequest): Promise<void>;
  /** Receives requests other instances forwarded to streams this instance owns. */
  onForwarded(handler: (request: ForwardedRequest) => void): void;
  /** The stream ended: forget it fleet-wide. */
  release(token: string): Promise<void>;
  readonly instance: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** One instance, no fleet: every reservation is local, nothing is ever forwarded. */
export function createLocalDirectory(): ReservationDirectory {
  return {
    instance: 'local',
    register: async () => {},
    claim: async () => undefined,
    ownerOf: async () => undefined,
    forward: async () => {},
    onForwarded: () => {},
    release: async () => {},
    start: async () => {},
    stop: async () => {},
  };
}

/** While a stream is open its owner refreshes its entry; an owner that dies lets it expire after this. */
const OWNED_TTL_MS = 60_000;
const REFRESH_EVERY_MS = 20_000;

/**
 * The directory over Redis (BUS=redis): one hash per reservation
 * (`<prefix>:sse:<token>`: subject, owner) with a TTL, and one pub/sub channel
 * per instance (`<prefix>:sse:to:<instance>`) for forwarded requests.
 */
export function createRedisDirectory(options: { url: string; prefix: string; logger: Logger }): ReservationDirectory {
  const { prefix, logger } = options;
  const instance = randomBytes(8).toString('hex');
  const common = {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    retryStrategy: (attempt: number) => Math.min(2000, 50 * 2 ** Math.min(attempt, 6)),
  };
  const commands = new Redis(options.url, common);
  const subscriber = new Redis(options.url, common);
  for (const client of [commands, subscriber])
    client.on('error', (error: Error) => logger.warn({ redis: 'sse-directory', err: error.message }, 'redis error'));
  const key = (token: string) => `${prefix}:sse:${token}`;
  const channel = (owner: string) => `${prefix}:sse:to:${owner}`;
  const handlers: ((request: ForwardedRequest) => void)[] = [];
  const owned = new Set<string>();
  let refresh: NodeJS.Timeout | undefined;

  return {
    instance,
    async register(record, ttlMs) {
      await commands
        .multi()
        .hset(key(record.token), { subject: record.subject ?? '' })
        .pexpire(key(record.token), ttlMs)
        .exec();
    },
    async claim(token) {
      const [[, subject], [, owner]] = (await commands.multi().hget(key(token), 'subject').hget(key(token), 'owner').exec()) as [
        [unknown, string | null],
        [unknown, string | null],
      ];
      // Unknown, or already open elsewhere (a second GET for one stream is a conflict the owner answers).
      if (subject === null || (owner && owner !== instance)) return undefined;
      await commands.multi().hset(key(token), { owner: instance }).pexpire(key(token), OWNED_TTL_MS).exec();
      owned.add(token);
      return { token, subject: subject === '' ? undefined : subject };
    },
    async ownerOf(token) {
      return (await commands.hget(key(token), 'owner')) ?? undefined;
    },
    async forward(owner, request) {
      await commands.publish(channel(owner), JSON.stringify(request));
    },
    onForwarded(handler) {
      handlers.push(handler);
    },
    async release(token) {
      owned.delete(token);
      await commands.del(key(token)).catch(() => {});
    },
    async start() {
      await Promise.all([commands.connect(), subscriber.connect()]);
      subscriber.on('message', (_channel: string, message: string) => {
        let request: ForwardedRequest;
        try {
          request = JSON.parse(message) as ForwardedRequest;
        } catch {
          return;
        }
        for (const handler of handlers) handler(request);
      });
      await subscriber.subscribe(channel(instance));
      refresh = setInterval(() => {
        for (const token of owned) void commands.pexpire(key(token), OWNED_TTL_MS).catch(() => {});
      }, REFRESH_EVERY_MS);
      refresh.unref();
    },
    async stop() {
      clearInterval(refresh);
      subscriber.disconnect();
      await commands.quit().catch(() => commands.disconnect());
    },
  };
}

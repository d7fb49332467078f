import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TOKEN_HEADER_KEY, TOKEN_QUERY_KEY } from 'graphql-sse';
import type { EngineConnection, Frame, Outlet, Subscription } from '../engine/engine.ts';
import type { OperationParams } from '../engine/operations.ts';
import { SplicedFrame } from '../engine/frame.ts';
import { PAYLOAD_END_ENVELOPE, createGraphQLRenderer } from '../engine/renderers.ts';
import { RealtimeError, toClientError } from '../errors.ts';
import { whenTokenExpires, type Principal } from '../security/auth.ts';
import { accepts, authenticateRequest, readOperationParams } from './http/request.ts';
import type { HttpExchange, Route } from './http/router.ts';
import { fromForwarded, toForwarded, type ReservationDirectory } from './sse-directory.ts';
import { sseMessage, type SseDeps } from './sse.ts';

/** How a `next` block ends after the shared result (sse.ts sseMessage, split around it). */
const NEXT_END = Buffer.from('\n\n');

export interface SingleConnectionDeps extends SseDeps {
  path: string;
  /** Where reservations live across a fleet (Redis with BUS=redis; local otherwise). */
  directory: ReservationDirectory;
  /** A reservation nobody opens (GET) within this time is dropped. */
  reservationTtlMs: number;
  /** Live operations per stream. */
  maxOperations: number;
}

interface Operation {
  subscription: Subscription | undefined;
  /** Stopped by the client (DELETE), or by the stream's end, while it was still being prepared. */
  cancelled: boolean;
  /** Ends the operation when the token it was posted with expires before the stream's own. */
  expiry: NodeJS.Timeout | undefined;
}

/** Whether a request's caller may act on a stream reserved by `owner`: the same subject when tokens are required. */
function sameCaller(owner: { subject?: string | undefined } | undefined, caller: Principal | undefined): boolean {
  return owner?.subject === caller?.subject;
}

/**
 * One reserved event stream: created by PUT, opened by GET, fed by POSTed
 * operations, each running through the delivery engine on the stream's one
 * connection. It is also that connection's outlet: frames go to the response
 * once it is open, and are held (counted against the send budget like any
 * unsent bytes) until then.
 */
class Reservation implements Outlet {
  readonly transport = 'sse' as const;
  readonly operations = new Map<string, Operation>();
  readonly connection: EngineConnection;
  private response: ServerResponse | undefined;
  private live: Outlet | undefined;
  private pending: Frame[] = [];
  private pendingBytes = 0;
  private readonly unclaimed: NodeJS.Timeout;
  private readonly expiry: NodeJS.Timeout | undefined;
  ended = false;

  constructor(
    private readonly deps: SingleConnectionDeps,
    readonly principal: Principal | undefined,
    private readonly releaseAdmission: () => void,
    private readonly onEnded: (reservation: Reservation) => void,
    /** A new reservation's random token, or the token of one another instance reserved (its GET came here). */
    readonly token: string = randomUUID(),
  ) {
    this.connection = deps.engine.connect(this);
    // Nobody opened it in time: drop it (and whatever operations were posted to it).
    this.unclaimed = setTimeout(() => this.end(), deps.reservationTtlMs).unref();
    this.expiry = whenTokenExpires(principal, () => {
      for (const id of [...this.operations.keys()]) this.fail(id, new RealtimeError('TOKEN_EXPIRED', 'token expired'));
      this.end();
    });
  }

  get opened(): boolean {
    return this.response !== undefined;
  }

  /** The GET: the stream starts, with what operations produced before it. */
  open(request: IncomingMessage, response: ServerResponse): void {
    this.response = response;
    clearTimeout(this.unclaimed);
    this.deps.streams.begin(request, response);
    response.once('close', () => this.end());
    this.live = this.deps.streams.outlet(response);
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const frame of pending) this.live.write(frame);
  }

  /** A POSTed operation (already answered 202): its results, errors and `complete` go out on the stream. */
  async run(id: string, params: OperationParams, caller: Principal | undefined): Promise<void> {
    const { production, maxOperations, runner } = this.deps;
    const operation: Operation = { subscription: undefined, cancelled: false, expiry: undefined };
    this.operations.set(id, operation);
    if (this.operations.size > maxOperations) {
      return this.fail(id, new RealtimeError('TOO_MANY_OPERATIONS', `at most ${maxOperations} operations per stream; complete one first`));
    }
    const prepared = await runner.prepare(params, { principal: caller });
    if (operation.cancelled || this.ended) return;
    if (prepared.kind === 'rejected') return this.answer(id, { errors: prepared.errors });
    if (prepared.kind === 'result') return this.answer(id, prepared.result);
    try {
      // The same bytes graphql-ws subscribers of this operation share (one group), inside this stream's `next` block.
      const prefix = Buffer.from(`event: next\ndata: {"id":${JSON.stringify(id)},"payload":`);
      const renderer = createGraphQLRenderer(prepared.operation, { production, envelope: PAYLOAD_END_ENVELOPE });
      operation.subscription = this.connection.subscribe(prepared.request, renderer, {
        frame: (payload) => new SplicedFrame(prefix, payload as Buffer, NEXT_END),
        onEnd: () => this.complete(id),
      });
    } catch (error) {
      // A fault of ours starting this operation: its errors and complete on the stream; its slot is freed.
      this.deps.logger.error({ transport: 'sse', err: error }, 'failed to start a subscription');
      return this.answer(id, { errors: [toClientError(error, { production })] });
    }
    // Posted with a token that ends before the stream's: the operation ends then, saying why.
    if (caller?.expiresAt !== undefined && caller.expiresAt < (this.principal?.expiresAt ?? Infinity)) {
      operation.expiry = whenTokenExpires(caller, () => this.fail(id, new RealtimeError('TOKEN_EXPIRED', 'token expired')));
    }
  }

  /** DELETE: the client stopped the operation; nothing more is sent for it. */
  stop(id: string): void {
    const operation = this.operations.get(id);
    if (!operation) return;
    this.operations.delete(id);
    operation.cancelled = true;
    clearTimeout(operation.expiry);
    operation.subscription?.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.unclaimed);
    clearTimeout(this.expiry);
    for (const operation of this.operations.values()) {
      operation.cancelled = true;
      clearTimeout(operation.expiry);
    }
    this.operations.clear();
    this.connection.close();
    this.pending = [];
    this.releaseAdmission();
    if (this.response && !this.response.writableEnded) this.response.end();
    this.onEnded(this);
  }

  // Outlet: what the delivery engine writes to.
  write(frame: Frame): boolean {
    if (this.ended) return false;
    if (this.live) return this.live.write(frame);
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    return true;
  }

  buffered(): number {
    return this.live ? this.live.buffered() : this.pendingBytes;
  }

  lagMs(now: number): number {
    return this.live ? this.live.lagMs(now) : 0;
  }

  abort(): void {
    this.response?.destroy();
    this.end();
  }

  private complete(id: string): void {
    const operation = this.operations.get(id);
    if (!operation) return;
    this.operations.delete(id);
    clearTimeout(operation.expiry);
    operation.subscription?.end();
    this.write(sseMessage('complete', JSON.stringify({ id })));
  }

  private answer(id: string, result: object): void {
    this.write(sseMessage('next', JSON.stringify({ id, payload: result })));
    this.complete(id);
  }

  private fail(id: string, error: RealtimeError): void {
    this.answer(id, { errors: [error.toFormatted(this.deps.production)] });
  }
}

/**
 * graphql-sse's single-connection mode at `/graphql/stream`: `PUT` reserves a
 * stream and answers its token; `GET` with the token opens it; operations are
 * `POST`ed with the token and an `extensions.operationId` (202), and stopped
 * with `DELETE ?operationId=`.
 *
 * Bounded everywhere: a reservation nobody opens within SSE_RESERVATION_TTL_MS
 * is dropped; what operations produce before the GET counts against the send
 * budget; a PUT counts as a connection in admission (per-IP and total limits).
 * Every request on a stream must come from the caller that reserved it (the
 * same token subject) — a stranger who learns the token finds nothing. Behind
 * a round-robin balancer the directory (Redis with BUS=redis) ties the
 * requests together: the instance that gets the GET owns the stream, and
 * POSTs and DELETEs that reach another instance are forwarded to it. A
 * stream that ends for any reason (client gone, slow consumer, token expiry,
 * drain) ends its reservation and every operation on it, so the client's
 * reconnect starts clean.
 */
export function createSingleConnectionMode(deps: SingleConnectionDeps): {
  routes: Route[];
  /** Drain: ends every reservation (opened or not). */
  endAll(): void;
  count(): number;
} {
  const { admission, authenticator, cors, directory, logger } = deps;
  const reservations = new Map<string, Reservation>();
  const notFound = () => new RealtimeError('NOT_FOUND', 'Stream not found');
  const forget = (ended: Reservation) => {
    reservations.delete(ended.token);
    void directory.release(ended.token).catch(() => {});
  };

  /** The caller and the stream token of a request. */
  const identify = async ({ request, url }: HttpExchange): Promise<{ caller: Principal | undefined; token: string | undefined }> => {
    const caller = await authenticateRequest(request, url, authenticator);
    const header = request.headers[TOKEN_HEADER_KEY];
    const token = (Array.isArray(header) ? header.join('') : header) ?? url.searchParams.get(TOKEN_QUERY_KEY) ?? undefined;
    return { caller, token };
  };

  /** The caller's reservation on this instance; 404 for an unknown token and for another caller's stream alike. */
  const local = (token: string | undefined, caller: Principal | undefined): Reservation | undefined => {
    const reservation = token ? reservations.get(token) : undefined;
    return reservation && sameCaller(reservation.principal, caller) ? reservation : undefined;
  };

  /**
   * Where a POST or DELETE goes: the stream open here, or the instance that
   * opened it (the GET may have reached another instance than the PUT).
   * Undefined when that is another instance.
   */
  const route = async (token: string | undefined, caller: Principal | undefined): Promise<{ here: Reservation } | { owner: string }> => {
    const reservation = local(token, caller);
    if (reservation?.opened) return { here: reservation };
    const owner = token ? await directory.ownerOf(token) : undefined;
    if (owner && owner !== directory.instance) return { owner };
    // Reserved here and not opened yet: operations wait for the GET (bounded by the send budget and the TTL).
    if (reservation) return { here: reservation };
    throw notFound();
  };

  // Requests other instances received for streams open here.
  directory.onForwarded((request) => {
    const reservation = reservations.get(request.token);
    const caller = fromForwarded(request.caller);
    if (!reservation || !sameCaller(reservation.principal, caller)) return;
    if (request.kind === 'stop') return reservation.stop(request.id);
    if (reservation.operations.has(request.id)) return;
    void reservation
      .run(request.id, request.params, caller)
      .catch((error: unknown) => logger.error({ err: error }, 'forwarded operation failed'));
  });

  const reserve: Route = {
    name: 'sse-single:reserve',
    path: deps.path,
    methods: ['PUT'],
    async handle({ request, response, url }) {
      const accept = request.headers.accept ?? '*/*';
      if (!['*/*', 'text/plain'].some((type) => accept.includes(type))) throw new RealtimeError('NOT_ACCEPTABLE', 'PUT answers text/plain');
      const principal = await authenticateRequest(request, url, authenticator);
      const reservation = new Reservation(deps, principal, admission.admit(request), forget);
      reservations.set(reservation.token, reservation);
      // Behind a balancer the GET may reach another instance: it finds the reservation in the directory.
      await directory
        .register({ token: reservation.token, subject: principal?.subject }, deps.reservationTtlMs)
        .catch((error: unknown) =>
          logger.warn({ err: (error as Error).message }, 'single-connection reservation kept local: the directory is unreachable'),
        );
      response.writeHead(201, { 'content-type': 'text/plain; charset=utf-8', ...cors.headersFor(request) }).end(reservation.token);
    },
  };

  const open: Route = {
    name: 'sse-single:open',
    path: deps.path,
    methods: ['GET'],
    accepts: ({ request }) => accepts(request, 'text/event-stream'),
    async handle(exchange) {
      const { caller, token } = await identify(exchange);
      let reservation = local(token, caller);
      if (reservation?.opened) throw new RealtimeError('CONFLICT', 'Stream already open');
      // Claimed before the response starts: by the time the client POSTs, every instance knows the owner.
      const record = token ? await directory.claim(token) : undefined;
      if (!reservation) {
        // Reserved on another instance: this one owns the stream now.
        if (!record || !sameCaller(record, caller)) throw notFound();
        reservation = new Reservation(deps, caller, admission.admit(exchange.request), forget, record.token);
        reservations.set(reservation.token, reservation);
      }
      reservation.open(exchange.request, exchange.response);
    },
  };

  const operate: Route = {
    name: 'sse-single:operation',
    path: deps.path,
    methods: ['POST'],
    async handle(exchange) {
      const { caller, token } = await identify(exchange);
      const target = await route(token, caller);
      const params = await readOperationParams(exchange.request, exchange.url);
      const id = params.extensions?.['operationId'];
      if (typeof id !== 'string' || id === '')
        throw new RealtimeError('BAD_REQUEST', 'Operation ID is missing', { argument: 'extensions.operationId' });
      if ('owner' in target) {
        await directory.forward(target.owner, { kind: 'operation', token: token as string, id, params, caller: toForwarded(caller) });
        exchange.response.writeHead(202, cors.headersFor(exchange.request)).end();
        return;
      }
      if (target.here.operations.has(id)) throw new RealtimeError('CONFLICT', 'Operation with ID already exists');
      exchange.response.writeHead(202, cors.headersFor(exchange.request)).end();
      await target.here.run(id, params, caller);
    },
  };

  const stop: Route = {
    name: 'sse-single:stop',
    path: deps.path,
    methods: ['DELETE'],
    async handle(exchange) {
      const { caller, token } = await identify(exchange);
      const target = await route(token, caller);
      const id = exchange.url.searchParams.get('operationId');
      if (!id) throw new RealtimeError('BAD_REQUEST', 'Operation ID is missing', { argument: 'operationId' });
      if ('owner' in target)
        await directory.forward(target.owner, { kind: 'stop', token: token as string, id, caller: toForwarded(caller) });
      else target.here.stop(id);
      exchange.response.writeHead(200, cors.headersFor(exchange.request)).end();
    },
  };

  return {
    routes: [reserve, open, operate, stop],
    endAll() {
      for (const reservation of [...reservations.values()]) reservation.end();
    },
    count: () => reservations.size,
  };
}

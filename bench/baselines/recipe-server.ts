/**
 * Baseline 1: the documented graphql-yoga + graphql-ws recipe, serving our
 * schema. `createYoga` + `useServer` from graphql-ws/use/ws running every
 * operation through `yoga.getEnveloped`, and yoga's `createPubSub` as the event
 * source: every subscriber gets its own pubsub iterator and its own execution
 * per event — no engine. SSE is yoga's built-in (Accept: text/event-stream).
 *
 * It reuses src/schema unchanged: the schema's subscribe resolvers check the
 * arguments and return a StreamRequest, which the context's `openStream`
 * turns into a plain `pubsub.subscribe(stream)` (with yoga's `filter`
 * operator when the request has a filter). Env: as ours (PORT, HOST,
 * METRICS_INTERVAL_MS, SIM_*).
 */
import { createServer } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createYoga, filter, pipe } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { StreamRequest } from '../../src/engine/request.ts';
import { getSchema, type GraphQLContext } from '../../src/schema/index.ts';
import type { StreamItem, Streams } from '../../src/streams/index.ts';
import type { StreamName } from '../../src/streams/registry.ts';
import { answerOps, createWorkload } from './workload.ts';

type Topics = { [S in StreamName]: [StreamItem<S>] };
const pubsub = createPubSub<Topics>();
const latest = new Map<StreamName, StreamItem>();

/** Each subscriber iterates its own pubsub subscription: the recipe's per-subscriber path. */
function openStream(request: StreamRequest): AsyncIterator<StreamItem> {
  const source = (pubsub.subscribe as (topic: StreamName) => AsyncIterableIterator<StreamItem>)(request.stream);
  const matches = request.filter?.matches;
  if (typeof matches !== 'function') return source;
  return pipe(
    source,
    filter((item: StreamItem) => matches.call(request.filter, item as never)),
  ) as AsyncIterableIterator<StreamItem>;
}
const streams = {
  hub: (name: StreamName) => ({ latest: () => latest.get(name), recent: () => [] }),
  snapshot: () => undefined,
} as unknown as Streams;

const workload = createWorkload({ connections: () => wss.clients.size });
const { config } = workload;
// Built like ours builds it (transports/graphql-http.ts); a cast so new optional context fields do not break the baseline.
const contextFor = (): GraphQLContext =>
  ({
    streams,
    openStream,
    limits: { metricsIntervalMs: config.metricsIntervalMs, replayBufferSize: config.replay.bufferSize },
    // Anonymous, like ours with AUTH_MODE=none: the recipe measures fan-out, not auth.
    authRequired: false,
    principal: undefined,
  }) satisfies Partial<GraphQLContext> as GraphQLContext;

const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
  schema: getSchema(),
  graphqlEndpoint: '/graphql',
  graphiql: false,
  landingPage: false,
  logging: 'warn',
  context: () => contextFor(),
});

let ready = false;
const server = createServer((req, res) => {
  if (answerOps(req.url, ready, res)) return;
  void yoga(req, res);
});
server.requestTimeout = 0;

const wss = new WebSocketServer({ server, path: '/graphql' });
interface RootValue {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}
// The recipe from the graphql-yoga docs ("Subscriptions" → graphql-ws), adapted to graphql-ws 6's onSubscribe signature.
useServer(
  {
    execute: (args) => (args.rootValue as RootValue).execute(args) as never,
    subscribe: (args) => (args.rootValue as RootValue).subscribe(args) as never,
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params,
      });
      const args: ExecutionArgs = {
        schema,
        operationName: params.operationName ?? null,
        document: parse(params.query),
        variableValues: params.variables ?? null,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
      const errors = validate(args.schema, args.document);
      if (errors.length) return errors;
      return args;
    },
  },
  wss,
);

await new Promise<void>((resolve) => server.listen(workload.config.port, workload.config.host, resolve));
await workload.start((stream, item) => {
  latest.set(stream, item);
  (pubsub.publish as (topic: StreamName, payload: StreamItem) => void)(stream, item);
});
ready = true;

const stop = () => {
  ready = false;
  void workload.stop();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

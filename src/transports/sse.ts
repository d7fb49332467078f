import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

const KEEPALIVE_MS = 12_000;

interface CursorCarrier {
  /** Set by the subscription field's resolver for the event being executed (schema/stream-event.ts). */
  currentCursor?: string | undefined;
}

/**
 * Puts the cursor of the event behind every subscription result into
 * `extensions.cursor`, on every transport, so a client can resume without
 * selecting `cursor` itself.
 */
export function useCursorExtension(): Plugin {
  return {
    onSubscribe() {
      return {
        onSubscribeResult({ args }) {
          const context = args.contextValue as CursorCarrier;
          return {
            onNext({ result, setResult }) {
              const cursor = context.currentCursor;
              if (!cursor) return;
              context.currentCursor = undefined;
              setResult({ ...result, extensions: { ...result.extensions, cursor } });
            },
          };
        },
      };
    },
  };
}

function serialize(result: ExecutionResult): string {
  // Events carry no errors: serialize them plainly (this runs per event per SSE subscriber).
  if (!result.errors) return JSON.stringify(result);
  // GraphQLError#toJSON already drops stacks; yoga's internal `http` extension must not leak.
  return JSON.stringify(result, (key, value: unknown) => (key === 'http' ? undefined : value));
}

/**
 * SSE ("distinct connections" mode on /graphql) with an `id:` line per event
 * carrying its cursor, so a browser EventSource reconnects with Last-Event-ID
 * and the server resumes exactly after it. Otherwise the same wire format as
 * yoga's own processor: `event: next` / `event: complete`, comment keep-alives.
 */
export function useSseEventIds(): Plugin {
  return {
    onResultProcess({ request, result, resultProcessor, setResultProcessor }) {
      if (!isAsyncIterable(result)) return;
      if (!resultProcessor) {
        // No streaming media type was acceptable: yoga answers 406, and the subscription it already started
        // must end here, or it would live on with nobody reading it.
        void result[Symbol.asyncIterator]().return?.();
        return;
      }
      // For a subscription the only processor yoga can have picked is its own SSE one; ours adds `id:` lines.
      setResultProcessor((stream, fetchAPI) => {
        const iterator = (stream as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
        const encoder = new fetchAPI.TextEncoder();
        let keepAlive: NodeJS.Timeout | undefined;
        const body = new fetchAPI.ReadableStream<Uint8Array>({
          start(controller) {
            // Some proxies and browsers hold the response until the first bytes arrive.
            controller.enqueue(encoder.encode(':\n\n'));
            keepAlive = setInterval(() => {
              if (controller.desiredSize !== null && controller.desiredSize > 0) controller.enqueue(encoder.encode(':\n\n'));
            }, KEEPALIVE_MS);
          },
          async pull(controller) {
            try {
              const next = await iterator.next();
              if (!next.done) {
                const cursor = next.value.extensions?.['cursor'];
                const id = typeof cursor === 'string' ? `id: ${cursor}\n` : '';
                controller.enqueue(encoder.encode(`${id}event: next\ndata: ${serialize(next.value)}\n\n`));
                return;
              }
              controller.enqueue(encoder.encode('event: complete\ndata:\n\n'));
              clearInterval(keepAlive);
              controller.close();
            } catch (error) {
              clearInterval(keepAlive);
              controller.error(error);
            }
          },
          async cancel() {
            clearInterval(keepAlive);
            await iterator.return?.();
          },
        });
        return new fetchAPI.Response(body, {
          status: 200,
          headers: {
            'content-type': 'text/event-stream',
            'cache-control': 'no-cache',
            connection: 'keep-alive',
            'content-encoding': 'none',
          },
        });
      }, 'text/event-stream');
    },
  };
}

/**
 * graphql-sse single-connection mode at `endpoint`, with its errors contained:
 * the plugin lets a document that fails to parse escape as a server error (a
 * 500 carrying a stack trace); here it becomes a 400 with the GraphQL error's
 * message, and anything else a bare "Unexpected error.".
 */
export function useGraphQLSSESingleConnection(endpoint: string): Plugin {
  const inner = useGraphQLSSE({ endpoint });
  const onRequest = inner.onRequest as NonNullable<Plugin['onRequest']>;
  return {
    ...inner,
    onRequest(payload) {
      const answer = (error: unknown) => {
        const known = error instanceof GraphQLError;
        payload.endResponse(
          new payload.fetchAPI.Response(
            JSON.stringify({ errors: [{ message: known ? error.message : 'Unexpected error.' }] }),
            { status: known ? 400 : 500, headers: { 'content-type': 'application/json; charset=utf-8' } },
          ),
        );
      };
      try {
        const result = onRequest(payload) as unknown;
        if (result instanceof Promise) return result.catch(answer);
        return result as ReturnType<NonNullable<Plugin['onRequest']>>;
      } catch (error) {
        answer(error);
      }
    },
  };
}

import { Kind, parse, validate, type OperationDefinitionNode } from 'graphql';
import WebSocket from 'ws';
import { describe, expect, test } from 'vitest';
import { createResumableClient } from 'aurigraph-realtime/client';
import { getSchema } from '../../src/schema/index.ts';
import { GRAPHIQL_DEFAULT_DOCUMENT } from '../../src/transports/graphql-http.ts';
import { duplicates } from '../helpers/sequences.ts';
import { useTestServer } from '../helpers/server.ts';
import { onCleanup, track } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';
import { controlSockets } from './support.ts';

/**
 * GraphiQL's default document is the first GraphQL a new user runs: it must
 * be valid, its first operation is the live metrics stream (the browser test
 * runs it), and the second shows a server-side filter and resume by cursor
 * — and resumes exactly that way with the client kit.
 */
const document = parse(GRAPHIQL_DEFAULT_DOCUMENT);
const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);

const server = useTestServer({ SIM_TPS: '200' });

describe('the GraphiQL default document', () => {
  test('is valid against the schema: LiveMetrics first, then a filtered, resumable FailedTransactions', () => {
    expect(validate(getSchema(), document)).toEqual([]);
    expect(operations.map((o) => `${o.operation} ${o.name?.value}`)).toEqual([
      'subscription LiveMetrics',
      'subscription FailedTransactions',
    ]);
    const failed = operations[1];
    expect(failed?.variableDefinitions?.map((v) => v.variable.name.value)).toEqual(['after']);
    expect(GRAPHIQL_DEFAULT_DOCUMENT).toMatch(/transactions\(\s*filter: \{ status: \[FAILED\] \}\s*after: \$after\s*\)/);
  });

  test('FailedTransactions streams only FAILED events and resumes after a dropped socket with nothing lost', async () => {
    const sockets = controlSockets(server);
    const kit = track(
      createResumableClient({ url: server.ws('/graphql'), webSocketImpl: WebSocket, backoff: { initialMs: 200, maxMs: 200 } }),
    );
    const events: { seq: number; status: string }[] = [];
    // The ground truth: every FAILED transaction the stream published, heard in-process.
    const control: number[] = [];
    onCleanup(
      server.app.streams.hubs.transactions.listen((item) => {
        if (item.status === 'FAILED') control.push(item.seq);
      }),
    );
    const subscription = kit.resumable<{ transactions: { seq: number; status: string } }>(
      { query: GRAPHIQL_DEFAULT_DOCUMENT, operationName: 'FailedTransactions' },
      { next: ({ data }) => data && events.push(data.transactions), error: () => {}, complete: () => {} },
    );
    await waitFor(() => events.length >= 5 && sockets.open === 1, { what: 'five FAILED transactions', timeoutMs: 15_000 });
    sockets.drop();
    await waitFor(() => subscription.resubscriptions >= 1, { what: 'the resubscription' });
    const count = events.length;
    await waitFor(() => events.length >= count + 5, { what: 'five more FAILED transactions', timeoutMs: 15_000 });
    expect(subscription.cursor).toEqual(expect.any(String));
    expect(new Set(events.map((e) => e.status))).toEqual(new Set(['FAILED']));
    const seqs = events.map((e) => e.seq);
    expect(duplicates(seqs)).toEqual([]);
    // Exactly the FAILED events published over the same window: the drop lost none.
    const lo = seqs[0] as number;
    const hi = seqs.at(-1) as number;
    expect(seqs).toEqual(control.filter((s) => s >= lo && s <= hi));
  }, 60_000);
});

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type FormattedExecutionResult } from 'graphql';
import { beforeAll, describe, expect, test } from 'vitest';
import { DashboardStateDocument, type DashboardStateQuery } from '../../examples/generated/graphql.ts';
import { CONTRACT_FIELDS, parseEvent, type StreamName } from '../helpers/contract.ts';
import { graphqlWsClient, subscribe } from '../helpers/clients.ts';
import { useTestServer } from '../helpers/server.ts';
import { take, waitFor } from '../helpers/wait.ts';

const server = useTestServer({ METRICS_INTERVAL_MS: '100' });
beforeAll(async () => {
  // The dashboard is meant to be loaded on a running chain: a committed block and a metrics tick.
  await waitFor(() => server.app.streams.hubs.consensus.latest() && server.app.streams.hubs.metrics.latest(), {
    what: 'a first block and metrics tick',
  });
  await waitFor(() => server.app.streams.hubs.transactions.recent(20).length === 20, { what: '20 transactions' });
});

async function postQuery<TResult, TVariables>(
  document: TypedDocumentNode<TResult, TVariables> | string,
  variables?: TVariables,
): Promise<{ status: number; contentType: string | null; body: FormattedExecutionResult<TResult> }> {
  const response = await fetch(server.http('/graphql'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (await response.json()) as FormattedExecutionResult<TResult>,
  };
}

const keysOf = (value: unknown): string[] => Object.keys((value ?? {}) as object).sort();

function checkDashboard(data: DashboardStateQuery | null | undefined, recent: number): void {
  expect(data).toBeDefined();
  const d = data as DashboardStateQuery;

  expect(d.latestMetrics).not.toBeNull();
  expect(keysOf(d.latestMetrics)).toEqual(['connections', 'errorRate', 'timestamp', 'tps']);
  expect(d.latestMetrics?.connections).toBeGreaterThanOrEqual(0);

  expect(d.consensusState).not.toBeNull();
  expect(keysOf(d.consensusState)).toEqual(['epoch', 'leader', 'round', 'state', 'term']);
  expect(d.consensusState?.leader).toMatch(/^0x[0-9a-fA-F]{40}$/);
  expect(['PENDING', 'COMMITTED']).toContain(d.consensusState?.state);
  expect(d.consensusState?.epoch).toBeGreaterThanOrEqual(1);
  expect(d.consensusState?.round).toBeGreaterThanOrEqual(1);

  // Every simulated validator is known from genesis on, highest voting power first.
  expect(d.validatorSet).toHaveLength(server.config.simulator.validators);
  const powers = d.validatorSet.map((v) => v.votingPower);
  expect(powers).toEqual([...powers].sort((a, b) => b - a));
  expect(new Set(d.validatorSet.map((v) => v.validator.toLowerCase())).size).toBe(d.validatorSet.length);
  for (const v of d.validatorSet) {
    expect(['ACTIVE', 'INACTIVE', 'JAILED']).toContain(v.status);
    expect(v.uptime).toBeGreaterThanOrEqual(0);
    expect(v.uptime).toBeLessThanOrEqual(100);
  }

  // Peers connected now: at least one, each listed once, all within the simulated set.
  expect(d.peers.length).toBeGreaterThan(0);
  expect(d.peers.length).toBeLessThanOrEqual(server.config.simulator.peers);
  expect(new Set(d.peers.map((p) => p.peerId)).size).toBe(d.peers.length);

  expect(d.recentTransactions).toHaveLength(recent);
  for (const tx of d.recentTransactions) {
    expect(keysOf(tx)).toEqual(['status', 'txHash', 'value']);
    expect(tx.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(tx.value).toMatch(/^(0|[1-9][0-9]*)$/);
  }
}

describe('Query fields', () => {
  test('DashboardState over HTTP POST /graphql', async () => {
    const { status, body } = await postQuery(DashboardStateDocument, { recent: 20 });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    checkDashboard(body.data, 20);
  });

  test('DashboardState default variable ($recent = 20) applies when omitted', async () => {
    const { body } = await postQuery(DashboardStateDocument);
    expect(body.errors).toBeUndefined();
    expect(body.data?.recentTransactions).toHaveLength(20);
  });

  test('DashboardState over graphql-ws', async () => {
    const results = await take(subscribe(graphqlWsClient(server), DashboardStateDocument, { recent: 7 }), 2);
    // A query over graphql-ws is one `next` then `complete`.
    expect(results).toHaveLength(1);
    expect(results[0]?.errors).toBeUndefined();
    checkDashboard(results[0]?.data, 7);
  });

  test('full events from the query fields pass the domain validators', async () => {
    const all = (stream: StreamName) => CONTRACT_FIELDS[stream].join(' ');
    const query = `{
      latestMetrics { ${all('metrics')} }
      consensusState { ${all('consensus')} }
      validatorSet { ${all('validators')} }
      peers { ${all('network')} }
      recentTransactions(limit: 5) { ${all('transactions')} }
    }`;
    const { body } = await postQuery<Record<string, unknown>, never>(query);
    expect(body.errors).toBeUndefined();
    const data = body.data as Record<string, unknown>;
    const problems = (stream: Parameters<typeof parseEvent>[0], value: unknown) => {
      const parsed = parseEvent(stream, value);
      return parsed.ok ? [] : parsed.problems;
    };
    expect(problems('metrics', data.latestMetrics)).toEqual([]);
    expect(problems('consensus', data.consensusState)).toEqual([]);
    for (const v of data.validatorSet as unknown[]) expect(problems('validators', v)).toEqual([]);
    for (const p of data.peers as { connected: boolean }[]) {
      expect(problems('network', p)).toEqual([]);
      expect(p.connected).toBe(true);
    }
    const recent = data.recentTransactions as unknown[];
    expect(recent).toHaveLength(5);
    for (const tx of recent) expect(problems('transactions', tx)).toEqual([]);
  });

  test('recentTransactions returns the newest retained events, oldest first', async () => {
    const { body } = await postQuery<{ recentTransactions: { seq: number }[] }, never>('{ recentTransactions(limit: 10) { seq } }');
    expect(body.errors).toBeUndefined();
    const seqs = body.data?.recentTransactions.map((t) => t.seq) ?? [];
    expect(seqs).toHaveLength(10);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1] as number) + 1);
    const latest = server.app.streams.hubs.transactions.latest()?.seq ?? 0;
    expect(seqs.at(-1)).toBeLessThanOrEqual(latest);
  });

  for (const limit of [0, -1, 1001, 5000]) {
    test(`recentTransactions(limit: ${limit}) is a BAD_REQUEST GraphQL error (HTTP)`, async () => {
      const { body } = await postQuery<{ recentTransactions: unknown[] }, never>(`{ recentTransactions(limit: ${limit}) { txHash } }`);
      expect(body.data ?? null).toBeNull();
      expect(body.errors).toHaveLength(1);
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
      expect(body.errors?.[0]?.path).toEqual(['recentTransactions']);
    });
  }

  test('recentTransactions limit bounds are inclusive: 1 and 1000 are accepted', async () => {
    const { body } = await postQuery<{ a: unknown[]; b: unknown[] }, never>(
      '{ a: recentTransactions(limit: 1) { txHash } b: recentTransactions(limit: 1000) { txHash } }',
    );
    expect(body.errors).toBeUndefined();
    expect(body.data?.a).toHaveLength(1);
    expect(body.data?.b.length).toBeGreaterThan(0);
    expect(body.data?.b.length).toBeLessThanOrEqual(1000);
  });

  test('recentTransactions(limit: 5000) is a BAD_REQUEST GraphQL error over graphql-ws too', async () => {
    const results = await take(subscribe(graphqlWsClient(server), DashboardStateDocument, { recent: 5000 }), 2);
    expect(results).toHaveLength(1);
    const errors = results[0]?.errors as { extensions?: { code?: string }; path?: unknown[] }[] | undefined;
    expect(errors?.map((e) => e.extensions?.code)).toEqual(['BAD_REQUEST']);
    expect(errors?.[0]?.path).toEqual(['recentTransactions']);
    // recentTransactions is non-null at the root, so the whole data is null.
    expect(results[0]?.data ?? null).toBeNull();
  });
});

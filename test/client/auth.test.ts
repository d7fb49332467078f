import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LiveTransactionsDocument } from '../../examples/generated/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { signHs256, signHs256ExpiringAt, TEST_JWT_SECRET } from '../helpers/tokens.ts';
import { waitFor } from '../helpers/wait.ts';
import { appFeed, descending, duplicatesOf, FLAVOURS, holesOf } from './support.ts';

/**
 * Real JWT auth: tokens that expire on an open connection (4440 'token
 * expired', retryable) are survived by asking `getToken()` again; refused
 * credentials (4401 'invalid token' / 'a bearer token is required', fatal)
 * end the subscription at once, with no retry that could never succeed.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_CLOCK_TOLERANCE_S: '0', SIM_TPS: '200' });
});
afterAll(() => server.stop());

describe('resumable client with JWT auth', () => {
  test.each(FLAVOURS)('%s: tokens that expire every ~1.5 s are refreshed through getToken and the stream has no gap', async (flavour) => {
    const issued: number[] = [];
    const feed = appFeed(flavour, server, LiveTransactionsDocument, 'transactions', {
      kit: {
        getToken: () => {
          issued.push(Date.now());
          return signHs256ExpiringAt(Date.now() + 1_500, { scope: 'stream:transactions' });
        },
      },
    });
    try {
      await waitFor(() => feed.retries.filter((r) => r.reason === 'closed 4440 token expired').length >= 2 && feed.seqs.length > 0, {
        what: 'two token expiries (4440) survived by a retry',
        timeoutMs: 20_000,
      });
      const count = feed.seqs.length;
      await waitFor(() => feed.seqs.length > count + 100, { what: 'events after the last refresh' });
    } finally {
      await feed.stop();
    }
    expect(issued.length, 'a token per connection').toBeGreaterThanOrEqual(3);
    expect(feed.errors).toEqual([]);
    expect(feed.gaps).toEqual([]);
    expect(descending(feed.seqs)).toEqual([]);
    expect(duplicatesOf(feed.seqs)).toEqual([]);
    expect(holesOf(feed.seqs)).toEqual([]);
  }, 45_000);

  const refused: [string, () => string | undefined | Promise<string>, string][] = [
    ['an invalid token', () => 'not-a-jwt', 'invalid token'],
    ['no token', () => undefined, 'a bearer token is required'],
    ['a token signed with another key', () => signHs256({ scope: 'stream:*' }, 'another-secret-that-is-long-enough-000000'), 'invalid token'],
  ];
  test.each(refused)('%s: the subscription errors with the 4401 close and is not retried', async (_name, token, reason) => {
    let tokens = 0;
    const feed = appFeed('kit', server, LiveTransactionsDocument, 'transactions', {
      kit: {
        getToken: () => {
          tokens++;
          return token();
        },
      },
    });
    try {
      await waitFor(() => feed.errors.length > 0, { what: 'the subscription to fail' });
      expect(feed.errors).toHaveLength(1);
      expect(feed.errors[0]).toMatchObject({ code: 4401, reason });
      // Give a wrongly scheduled retry the time it would take (initial backoff is 50 ms) to show up.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(feed.retries).toEqual([]);
      expect(tokens).toBe(1);
      expect(feed.seqs).toEqual([]);
    } finally {
      await feed.stop();
    }
  });

  test('Apollo gets a refused token as one Error naming the close, and no retry', async () => {
    const feed = appFeed('apollo', server, LiveTransactionsDocument, 'transactions', { kit: { getToken: () => 'not-a-jwt' } });
    try {
      await waitFor(() => feed.errors.length > 0, { what: 'the subscription to fail' });
      expect(feed.errors).toHaveLength(1);
      expect(String(feed.errors[0])).toContain('4401 invalid token');
      expect(feed.retries).toEqual([]);
    } finally {
      await feed.stop();
    }
  });
});

import { describe, expect, test } from 'vitest';
import { LiveTransactionsDocument } from '../../examples/generated/graphql.ts';
import { expectEverySeqOnce } from '../helpers/sequences.ts';
import { useTestServer } from '../helpers/server.ts';
import { signHs256, signHs256ExpiringAt, TEST_JWT_SECRET } from '../helpers/tokens.ts';
import { waitFor } from '../helpers/wait.ts';
import { appFeed, FLAVOURS } from './support.ts';

/**
 * Real JWT auth: tokens that expire on an open connection (4440 'token
 * expired', retryable) are survived by asking `getToken()` again; refused
 * credentials (4401 'invalid token' / 'a bearer token is required', fatal)
 * end the subscription at once, with no retry that could never succeed.
 */
const server = useTestServer({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_CLOCK_TOLERANCE_S: '0', SIM_TPS: '200' });

/** The backoff cap support.ts's appFeed gives the kit: no retry the kit schedules waits longer than this. */
const BACKOFF_MAX_MS = 1_000;

/**
 * Resolves once every timer set before the call with a delay of at most `ms` has fired: Node runs timers in the
 * order they fall due, and this one falls due after any of those. An ordering barrier, not a measure of time.
 */
const afterTimersDueWithin = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms + 1));

describe('resumable client with JWT auth', () => {
  test.each(FLAVOURS)(
    '%s: tokens that expire every ~1.5 s are refreshed through getToken and the stream has no gap',
    async (flavour) => {
      const issued: number[] = [];
      const feed = appFeed(flavour, server, LiveTransactionsDocument, 'transactions', {
        kit: {
          getToken: () => {
            issued.push(Date.now());
            return signHs256ExpiringAt(Date.now() + 1_500, { scope: 'stream:transactions' });
          },
        },
      });
      await waitFor(() => feed.retries.filter((r) => r.reason === 'closed 4440 token expired').length >= 2 && feed.seqs.length > 0, {
        what: 'two token expiries (4440) survived by a retry',
        timeoutMs: 20_000,
      });
      const count = feed.seqs.length;
      await waitFor(() => feed.seqs.length > count + 100, { what: 'events after the last refresh' });
      await feed.stop();
      expect(issued.length, 'a token per connection').toBeGreaterThanOrEqual(3);
      expect(feed.errors).toEqual([]);
      expect(feed.gaps).toEqual([]);
      expectEverySeqOnce(feed.seqs, feed.label);
    },
    45_000,
  );

  const refused: [string, () => string | undefined | Promise<string>, string][] = [
    ['an invalid token', () => 'not-a-jwt', 'invalid token'],
    ['no token', () => undefined, 'a bearer token is required'],
    [
      'a token signed with another key',
      () => signHs256({ scope: 'stream:*' }, 'another-secret-that-is-long-enough-000000'),
      'invalid token',
    ],
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
    // Every connection attempt of the kit starts with this event, synchronously when a (re)subscription starts.
    let attempts = 0;
    feed.kit.inner.on('connecting', () => attempts++);
    await waitFor(() => feed.errors.length > 0, { what: 'the subscription to fail' });
    expect(feed.errors).toHaveLength(1);
    expect(feed.errors[0]).toMatchObject({ code: 4401, reason });
    // The kit decides while it handles the failure: a retry is reported (onRetry) then, and its timer set then,
    // due within the backoff cap. Once every such timer has fired, a retry would have started connecting again.
    const attemptsAtFailure = attempts;
    await afterTimersDueWithin(BACKOFF_MAX_MS);
    expect(feed.retries).toEqual([]);
    expect(attempts - attemptsAtFailure, 'connection attempts after the fatal close').toBe(0);
    expect(tokens).toBe(1);
    expect(feed.seqs).toEqual([]);
  });

  test('Apollo gets a refused token as one Error naming the close, and no retry', async () => {
    const feed = appFeed('apollo', server, LiveTransactionsDocument, 'transactions', { kit: { getToken: () => 'not-a-jwt' } });
    await waitFor(() => feed.errors.length > 0, { what: 'the subscription to fail' });
    expect(feed.errors).toHaveLength(1);
    expect(String(feed.errors[0])).toContain('4401 invalid token');
    expect(feed.retries).toEqual([]);
  });
});

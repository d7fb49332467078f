/**
 * deploy/redis/aurigraph-realtime.conf on a real redis-server (included as an operator includes it,
 * only the TLS port and certificate files pointed at a throwaway certificate), and the server using
 * it the way deploy/aurigraph-realtime.env.example says: the ACL user and its password in REDIS_URL
 * over plain TCP, and rediss:// over Redis's TLS port with the CA in NODE_EXTRA_CA_CERTS.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis, type RedisOptions } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { startChildServer } from '../helpers/child-server.ts';
import { getReady } from '../helpers/instance-feeds.ts';
import { makeTransaction, postIngest } from '../helpers/ingest-client.ts';
import { redisInstanceEnv, uniquePrefix } from '../helpers/redis-instances.ts';
import { describeWithRedis, freePort, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { startTestServer, type ServerUrls } from '../helpers/server.ts';
import { openLegacy } from '../helpers/sockets.ts';
import { createSelfSignedCertificate, opensslAvailable, type SelfSignedCertificate } from '../helpers/tls.ts';
import { track, useFixture } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

const CONF = fileURLToPath(new URL('../../deploy/redis/aurigraph-realtime.conf', import.meta.url));
/** A throwaway certificate for Redis's TLS port needs openssl (tls.test.ts skips the same way without it). */
const HAVE_OPENSSL = opensslAvailable();

/** The application's ACL user and password, as the deploy file defines them (`user <name> on >password …`). */
function applicationUser(): { name: string; password: string } {
  const line = readFileSync(CONF, 'utf8')
    .split('\n')
    .find((l) => /^user (?!default\b)\S+ on /.test(l));
  const name = line?.split(' ')[1];
  const password = line?.split(' ').find((word) => word.startsWith('>'));
  if (!name || !password) throw new Error(`${CONF} defines no application user with a password`);
  return { name, password: password.slice(1) };
}

/**
 * A client that fails at once instead of retrying, closed when the test ends. Why a connection
 * failed (a refused password, an untrusted certificate) arrives as an `error` event, not as the
 * rejection of the command, which only says the connection closed: `errors()` has their messages.
 */
function oneShotClient(url: string, options: RedisOptions = {}): Redis & { errors(): string } {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
  const errors: string[] = [];
  client.on('error', (error: Error) => errors.push(error.message));
  return Object.assign(
    track(client, (c) => c.disconnect()),
    { errors: () => errors.join('; ') },
  );
}

/** Ingests one transaction and waits for it on a legacy socket: the instance publishes into and reads back from Redis. */
async function deliversAnIngestedEvent(server: ServerUrls, tag: string): Promise<void> {
  const socket = await openLegacy(server, '/ws/transactions');
  const event = makeTransaction(tag, 1);
  const answer = await postIngest(server, 'transactions', [event]);
  expect(answer.status, answer.text).toBe(200);
  await waitFor(() => socket.frames.some((f) => (f.json as { txHash?: string } | undefined)?.txHash === event.txHash), {
    what: 'the ingested transaction on /ws/transactions',
  });
}

describeWithRedis('deploy/redis/aurigraph-realtime.conf with the server', () => {
  const user = applicationUser();
  // The ACL lets the user touch aurigraph:* only: the test's keys live under it, apart from other runs.
  const keyPrefix = () => `aurigraph:${uniquePrefix('deploy')}`;
  let tlsPort = 0;
  let certificate: SelfSignedCertificate;
  const redis: RedisServer = useFixture(
    async () => {
      // Without a certificate the deploy file's TLS port stays off (`--tls-port 0`); the plain-TCP tests still run.
      let tls = ['--tls-port', '0'];
      if (HAVE_OPENSSL) {
        certificate = track(createSelfSignedCertificate());
        tlsPort = await freePort();
        const { certFile, keyFile } = certificate;
        tls = ['--tls-port', String(tlsPort), '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-ca-cert-file', certFile];
      }
      return startRedisServer({ args: ['--include', CONF, ...tls] });
    },
    { name: 'redis-server with the deploy settings', timeoutMs: 30_000 },
  );
  const withPassword = (scheme: 'redis' | 'rediss', host: string, port: number) =>
    `${scheme}://${user.name}:${encodeURIComponent(user.password)}@${host}:${port}`;

  test('no access without the password; the application user cannot run dangerous commands', async () => {
    const anonymous = oneShotClient(redis.url, { enableReadyCheck: false });
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);

    const wrong = oneShotClient(`redis://${user.name}:not-the-password@127.0.0.1:${redis.port}`, { enableReadyCheck: false });
    await expect(wrong.connect().then(() => wrong.ping())).rejects.toThrow();
    expect(wrong.errors()).toMatch(/WRONGPASS/);

    const application = oneShotClient(withPassword('redis', '127.0.0.1', redis.port));
    expect(await application.ping()).toBe('PONG');
    await expect(application.flushall()).rejects.toThrow(/NOPERM/);
    await expect(application.set('someone-else:key', '1')).rejects.toThrow(/NOPERM/);
    // What the deploy file promises about durability and memory.
    expect(await application.info('persistence')).toMatch(/aof_enabled:1/);
    expect(await application.info('memory')).toMatch(/maxmemory_policy:noeviction/);
  });

  test('REDIS_URL with the user and password: the server is ready and delivers an ingested event', async () => {
    const server = await startTestServer(
      redisInstanceEnv(redis, keyPrefix(), { REDIS_URL: withPassword('redis', '127.0.0.1', redis.port) }),
    );
    expect((await getReady(server)).status).toBe(200);
    await deliversAnIngestedEvent(server, 'password');
  });

  test('events without a dedup key (the simulator on the Redis bus) are published through the ACL too', async () => {
    const server = await startTestServer(
      redisInstanceEnv(redis, keyPrefix(), { REDIS_URL: withPassword('redis', '127.0.0.1', redis.port), SOURCES: 'simulator' }),
    );
    const socket = await openLegacy(server, '/ws/transactions');
    await waitFor(() => socket.frames.length > 0, { what: 'a simulated transaction through Redis' });
  });

  describe.skipIf(!HAVE_OPENSSL)('over TLS', () => {
    test('rediss:// is refused unless the CA is trusted, and works once it is', async () => {
      const untrusted = oneShotClient(withPassword('rediss', 'localhost', tlsPort));
      await expect(untrusted.connect()).rejects.toThrow();
      expect(untrusted.errors()).toMatch(/self[- ]signed certificate/i);
      const trusting = oneShotClient(withPassword('rediss', 'localhost', tlsPort), { tls: { ca: certificate.cert } });
      expect(await trusting.ping()).toBe('PONG');
    });

    test('REDIS_URL=rediss://… with NODE_EXTRA_CA_CERTS: the server is ready and delivers an ingested event', async () => {
      const server = await startChildServer(
        redisInstanceEnv(redis, keyPrefix(), {
          REDIS_URL: withPassword('rediss', 'localhost', tlsPort),
          NODE_EXTRA_CA_CERTS: certificate.certFile,
        }),
        60_000,
      );
      expect((await getReady(server)).status).toBe(200);
      await deliversAnIngestedEvent(server, 'tls');
    }, 90_000);
  });
});

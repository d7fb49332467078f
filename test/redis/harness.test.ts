import { expect, test } from 'vitest';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server.ts';

/**
 * The harness every Redis test stands on: a real redis-server on a free port,
 * killed and restarted on the same port, with or without persistence.
 */

describeWithRedis('redis-server harness', () => {
  const plain = useRedisServer();
  const persistent = useRedisServer({ persistent: true });

  test('starts on a free loopback port and answers commands', async () => {
    expect(plain.port).toBeGreaterThan(0);
    expect(plain.port).not.toBe(persistent.port);
    expect(plain.url).toBe(`redis://127.0.0.1:${plain.port}`);
    const client = plain.client();
    expect(await client.ping()).toBe('PONG');
    await client.set('harness:key', 'value');
    expect(await client.get('harness:key')).toBe('value');
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
  });

  test('without persistence, a kill and restart on the same port starts empty', async () => {
    const client = plain.client();
    await client.set('harness:volatile', '1');
    const port = plain.port;
    await plain.kill();
    expect(plain.running).toBe(false);
    await expect(client.ping()).rejects.toThrow();
    await plain.restart();
    expect(plain.port).toBe(port);
    const fresh = plain.client();
    expect(await fresh.get('harness:volatile')).toBeNull();
  });

  test('with AOF (fsync always), what Redis acknowledged survives SIGKILL', async () => {
    const client = persistent.client();
    expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    await client.set('harness:durable', 'kept');
    const id = await client.xadd('harness:stream', '*', 'e', 'one');
    await persistent.kill('SIGKILL');
    await persistent.restart();
    const fresh = persistent.client();
    expect(await fresh.get('harness:durable')).toBe('kept');
    const entries = await fresh.xrange('harness:stream', '-', '+');
    expect(entries).toEqual([[id, ['e', 'one']]]);
  });
});

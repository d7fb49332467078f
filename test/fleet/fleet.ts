import { startChildServer, type ChildExit, type ChildServer } from '../helpers/child-server.ts';
import { getReady } from '../helpers/instance-feeds.ts';
import { startNginxSite, stablePort, type NginxSite } from '../helpers/nginx.ts';
import { getStats } from '../helpers/ops.ts';
import { redisInstanceEnv, uniquePrefix } from '../helpers/redis-instances.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { track, useFixture } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The deployment in miniature: server instances as separate processes on one
 * real redis-server (BUS=redis, SOURCES=ingest), each on a fixed port so it
 * can be killed and started again where nginx expects it, and Debian's nginx
 * in front with the site file from deploy/nginx/.
 */

export interface Fleet {
  readonly redis: RedisServer;
  readonly nginx: NginxSite;
  /** The Redis key prefix the instances share. */
  readonly prefix: string;
  readonly size: number;
  /** The environment every instance gets (before its PORT). */
  readonly env: Readonly<Record<string, string>>;
  /** The process serving slot `i` now (a new one after each restart). */
  instance(i: number): ChildServer;
  /** Every instance now serving. */
  running(): ChildServer[];
  /** `kill -9` (the process group: tsx and the server) and waits until it is gone. */
  kill(i: number): Promise<void>;
  /** SIGTERM (the drain) and waits for the process to exit by itself. Resolves with the exit and how long it took (ms). */
  terminate(i: number, timeoutMs?: number): Promise<{ exit: ChildExit; tookMs: number }>;
  /** Starts slot `i` again on its port; resolves once its /ready answers 200. */
  start(i: number): Promise<ChildServer>;
  /** Subscribers of `stream` over the running instances (each asked directly, not through nginx). */
  subscribers(stream: 'transactions' | 'metrics'): Promise<number>;
  /** Waits until no running instance has a subscriber. */
  settled(timeoutMs?: number): Promise<void>;
}

const STATS_KEY = { transactions: 'transactionConnections', metrics: 'metricsConnections' } as const;

/** Waits until an instance answers /ready with `status` (asked directly). */
export function readyStatus(server: ChildServer, status: number, timeoutMs = 30_000): Promise<true> {
  return waitFor(async () => (await getReady(server)).status === status, {
    timeoutMs,
    what: `${server.http('/ready')} to answer ${status}`,
  });
}

/**
 * Starts an instance on `port`, untracked (the fleet outlives single tests and
 * disposes its instances itself). The port is below the ephemeral range
 * (stablePort), so a restart finds it free.
 */
async function startOn(env: Record<string, string>, port: number): Promise<ChildServer> {
  const server = await startChildServer({ ...env, PORT: String(port) }, 60_000, undefined, { tracked: false });
  try {
    await readyStatus(server, 200);
  } catch (error) {
    await server.dispose();
    throw error;
  }
  return server;
}

/**
 * The suite's fleet: redis-server (with AOF, fsync always: what it
 * acknowledged survives a kill), `size` instances started one after the
 * other with `env`, then nginx. Everything is stopped when the suite ends,
 * whatever the tests did to it.
 */
export function useFleet(size: number, env: Record<string, string>): Fleet {
  return useFixture(
    async () => {
      const redis = await startRedisServer({ persistent: true });
      const prefix = uniquePrefix('fleet');
      const instanceEnv = redisInstanceEnv(redis, prefix, env);
      const slots: ChildServer[] = [];
      const ports: number[] = [];
      track({
        // Whatever runs in each slot at the end, including instances restarted by tests.
        stop: () => Promise.all(slots.map((server) => server.dispose())),
      });
      for (let i = 0; i < size; i++) {
        // A port taken between the probe and the bind: the instance exits at start; try another.
        for (let attempt = 1; ; attempt++) {
          const port = await stablePort();
          try {
            slots[i] = await startOn(instanceEnv, port);
            ports[i] = port;
            break;
          } catch (error) {
            if (attempt === 3) throw error;
          }
        }
      }
      const nginx = await startNginxSite(ports);

      const slot = (i: number): ChildServer => {
        const server = slots[i];
        if (!server) throw new Error(`no instance in slot ${i}`);
        return server;
      };
      const fleet: Fleet = {
        redis,
        nginx,
        prefix,
        size,
        env: instanceEnv,
        instance: slot,
        running: () => slots.filter((server) => !server.exit),
        async kill(i) {
          await slot(i).dispose();
        },
        async terminate(i, timeoutMs = 30_000) {
          const server = slot(i);
          const sentAt = Date.now();
          server.signal('SIGTERM');
          const exit = await Promise.race([
            server.exited,
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error(`instance ${i} still runs ${timeoutMs} ms after SIGTERM`)), timeoutMs).unref(),
            ),
          ]);
          return { exit, tookMs: exit.at - sentAt };
        },
        async start(i) {
          if (!slot(i).exit) throw new Error(`instance ${i} still runs; kill or terminate it first`);
          slots[i] = await startOn(instanceEnv, ports[i] as number);
          return slot(i);
        },
        async subscribers(stream) {
          const stats = await Promise.all(fleet.running().map((server) => getStats(server)));
          return stats.reduce((sum, s) => sum + (s[STATS_KEY[stream]] ?? 0), 0);
        },
        async settled(timeoutMs = 15_000) {
          await waitFor(
            async () => {
              const stats = await Promise.all(fleet.running().map((server) => getStats(server)));
              return stats.every((s) => s.totalConnections === 0);
            },
            { timeoutMs, what: 'no subscriber left on any instance' },
          );
        },
      };
      return fleet;
    },
    { timeoutMs: 240_000, name: 'useFleet()' },
  );
}

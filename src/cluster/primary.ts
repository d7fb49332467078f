import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import { createBus } from '../bus/create.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../ops/logger.ts';
import { addBusSeries } from '../ops/prometheus.ts';
import { sumStats, type WebSocketStats } from '../ops/stats.ts';
import { createSources } from '../sources/create.ts';
import { createStreams } from '../streams/index.ts';
import { STREAM_NAMES, type StreamName } from '../streams/registry.ts';
import { createChannel, type Channel } from './channel.ts';
import { createDirectoryTable, DIRECTORY_KINDS } from './directory.ts';
import { BUS_KINDS, type ForwardedEvent, type Hello, type PublishRequest } from './worker-bus.ts';
import { INSTANCE_KINDS, type PrometheusJson, type WorkerStatus } from './worker.ts';

/** How often the primary asks each worker for its status (subscribers, CPU, memory) for the metrics stream. */
const STATUS_EVERY_MS = 250;
const ASK_TIMEOUT_MS = 2000;
/** A worker that exits while serving is forked again after this (doubling up to 10 s while they keep failing). */
const RESTART_DELAY_MS = 500;

interface Link {
  worker: Worker;
  channel: Channel;
  instance: string;
  /** Set once it said hello: from then on it receives every event. */
  following: boolean;
  status: WorkerStatus | undefined;
  /** CPU time it had used when last asked, µs (kept when it exits, so the instance's CPU never runs backwards). */
  cpuMicros: number;
}

export interface Primary {
  /** Starts the bus and streams, forks the workers, waits until every one listens, then starts the sources. */
  start(): Promise<AddressInfo>;
  /** Stops the workers (each drains, bounded by SHUTDOWN_TIMEOUT_MS), then the sources and the bus. */
  stop(): Promise<void>;
}

/**
 * The primary process of an instance with WORKERS > 1. It serves no client:
 * it owns what must have one owner — the bus (memory or Redis), the sources
 * (simulator, Redis Streams adapter, metrics ticker) and each stream's hub,
 * which numbers events and keeps the history. Workers mirror the hubs (see
 * worker-bus.ts), so a cursor taken on one worker resumes on any other
 * exactly as on a single process.
 *
 * Events leave in publish order, one IPC message per worker per event-loop
 * turn; a history reset is sent after the events before it. Ingest on a
 * worker is published here. `/metrics` and the stats document are summed over
 * the workers here. A worker that exits unexpectedly is forked again; its
 * clients reconnect (to any worker) and resume.
 */
export function createPrimary(config: Config, logger: Logger): Primary {
  const bus = createBus(config, logger);
  const streams = createStreams(bus, { bufferSize: config.replay.bufferSize, ttlMs: config.replay.ttlMs });
  const links = new Map<number, Link>();
  let goneCpuMicros = 0;
  let stopping = false;
  let serving = false;
  let restartDelay = RESTART_DELAY_MS;

  const ownUsage = () => {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  };
  const sources = createSources(config, {
    streams,
    logger,
    instance: {
      connections: () => [...links.values()].reduce((sum, link) => sum + (link.status?.subscribers ?? 0), 0),
      readCpuMicros: () => ownUsage() + goneCpuMicros + [...links.values()].reduce((sum, link) => sum + link.cpuMicros, 0),
      readRssBytes: () => process.memoryUsage.rss() + [...links.values()].reduce((sum, link) => sum + (link.status?.rssBytes ?? 0), 0),
    },
  });

  // The primary's own series (its process, the bus); every worker's are added at scrape time.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  addBusSeries(registry, bus);

  const following = () => [...links.values()].filter((link) => link.following);
  const ask = <T>(kind: string) =>
    Promise.all(following().map((link) => link.channel.request<T>(kind, null, ASK_TIMEOUT_MS).catch(() => undefined)));

  const table = createDirectoryTable((owner, request) => {
    const link = [...links.values()].find((candidate) => candidate.instance === owner);
    link?.channel.send(DIRECTORY_KINDS.forwarded, request);
    return link !== undefined;
  });

  // Events: collected over one turn, then sent to every following worker as one message.
  let outgoing: ForwardedEvent[] = [];
  let scheduled = false;
  const flushEvents = () => {
    scheduled = false;
    if (outgoing.length === 0) return;
    const batch = outgoing;
    outgoing = [];
    for (const link of following()) link.channel.send(BUS_KINDS.events, batch);
  };
  const forward = (event: ForwardedEvent) => {
    outgoing.push(event);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flushEvents);
    }
  };

  let busHealthy = false;
  let statusTimer: NodeJS.Timeout | undefined;
  const poll = async () => {
    const healthy = bus.healthy();
    if (healthy !== busHealthy) {
      busHealthy = healthy;
      for (const link of following()) link.channel.send(BUS_KINDS.health, healthy);
    }
    await Promise.all(
      following().map(async (link) => {
        const status = await link.channel.request<WorkerStatus>(INSTANCE_KINDS.status, null, ASK_TIMEOUT_MS).catch(() => undefined);
        if (!status) return;
        if (status.rssBytes < 0) status.rssBytes = link.status?.rssBytes ?? 0;
        link.status = status;
        link.cpuMicros = Math.max(link.cpuMicros, status.cpuMicros);
      }),
    );
  };

  const attach = (worker: Worker): Link => {
    const channel = createChannel(worker);
    const link: Link = { worker, channel, instance: `worker-${worker.id}`, following: false, status: undefined, cpuMicros: 0 };
    channel.handle(BUS_KINDS.hello, (): Hello => {
      // Anything still collected for the next send is already in these histories: the worker's hubs drop it as a redelivery.
      link.following = true;
      busHealthy = bus.healthy();
      return {
        bus: bus.name,
        healthy: busHealthy,
        histories: Object.fromEntries(STREAM_NAMES.map((name) => [name, streams.hub(name).shared()])),
      };
    });
    channel.handle(BUS_KINDS.publish, ({ stream, event, dedupKey }: PublishRequest) => bus.publish(stream, event as never, { dedupKey }));
    channel.handle(INSTANCE_KINDS.instanceStats, async () =>
      sumStats((await ask<WebSocketStats>(INSTANCE_KINDS.stats)).filter((part) => part !== undefined)),
    );
    channel.handle(INSTANCE_KINDS.instanceMetrics, async () => {
      const parts = (await ask<PrometheusJson>(INSTANCE_KINDS.metrics)).filter((part) => part !== undefined);
      return AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...parts]).metrics();
    });
    table.serve(channel);
    links.set(worker.id, link);
    return link;
  };

  const fork = (): Worker => {
    const worker = cluster.fork();
    attach(worker);
    worker.on('exit', (code, signal) => {
      const link = links.get(worker.id);
      links.delete(worker.id);
      link?.channel.close();
      goneCpuMicros += link?.cpuMicros ?? 0;
      table.forgetOwner(`worker-${worker.id}`);
      if (stopping || !serving) return;
      logger.error({ worker: worker.id, code, signal, restartInMs: restartDelay }, 'worker exited; forking a new one');
      setTimeout(() => {
        if (stopping) return;
        const replacement = fork();
        replacement.once('listening', () => {
          restartDelay = RESTART_DELAY_MS;
        });
      }, restartDelay).unref();
      restartDelay = Math.min(10_000, restartDelay * 2);
    });
    return worker;
  };

  /** Resolves when `worker` listens; rejects when it exits first (a busy port, a bad certificate…: it logged why). */
  const listening = (worker: Worker) =>
    new Promise<AddressInfo>((resolve, reject) => {
      const exited = (code: number | null) =>
        reject(Object.assign(new Error(`worker ${worker.id} exited (${code}) before listening`), { code: 'WORKER_EXITED' }));
      worker.once('exit', exited);
      worker.once('listening', (address: { port: number; address: string | null; addressType: number | string }) => {
        worker.off('exit', exited);
        resolve({ port: address.port, address: address.address ?? '', family: String(address.addressType) });
      });
    });

  return {
    async start() {
      // Events travel as objects (V8 serialization), not as JSON text.
      cluster.setupPrimary({ serialization: 'advanced' });
      await bus.start();
      await streams.start();
      for (const name of STREAM_NAMES) streams.hub(name).listen((item) => forward([name as StreamName, item]));
      // After the hubs adopted the new history (streams registered first): events before it go first, then the reset.
      bus.onHistoryReset((stream) => {
        flushEvents();
        for (const link of following()) link.channel.send(BUS_KINDS.reset, [stream, streams.hub(stream).shared()]);
      });
      const workers = Array.from({ length: config.workers }, () => fork());
      let address: AddressInfo;
      try {
        [address] = (await Promise.all(workers.map(listening))) as [AddressInfo];
      } catch (error) {
        stopping = true;
        for (const worker of workers) worker.process.kill('SIGTERM');
        throw error;
      }
      serving = true;
      for (const source of sources) await source.start(bus.publish);
      statusTimer = setInterval(() => void poll(), STATUS_EVERY_MS);
      statusTimer.unref();
      logger.info(
        { port: address.port, host: address.address, workers: config.workers, sources: sources.map((s) => s.name), bus: bus.name },
        'listening',
      );
      return address;
    },
    async stop() {
      stopping = true;
      clearInterval(statusTimer);
      // Each worker drains itself (ready grace, then its subscriptions and connections) within SHUTDOWN_TIMEOUT_MS.
      const exits = [...links.values()].map(
        ({ worker }) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      );
      await Promise.all(exits);
      for (const source of [...sources].reverse()) await source.stop();
      streams.stop();
      await bus.stop();
    },
  };
}

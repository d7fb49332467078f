import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis-server.ts';
import type { ServerUrls } from './server.ts';
import { describeWithBinary, findSystemBinary } from './system-binaries.ts';
import { track } from './track.ts';
import { waitFor } from './wait.ts';

/**
 * Debian's nginx in front of server instances, run by the test as the current
 * user in a temporary prefix, with the operator's site file from
 * deploy/nginx/ included as it is: only what the site file itself includes
 * from nginx's configuration directory — the `server` lines of the instances
 * and the listen address — is written by the test.
 */

/** The operator's nginx files. */
export const DEPLOY_NGINX_DIR = fileURLToPath(new URL('../../deploy/nginx/', import.meta.url));
/** The site: proxying rules, included unchanged. */
export const SITE_FILE = join(DEPLOY_NGINX_DIR, 'aurigraph-realtime.conf');
/** The example upstream servers; the test keeps their parameters (max_fails, fail_timeout) and swaps the addresses. */
export const UPSTREAM_EXAMPLE = join(DEPLOY_NGINX_DIR, 'aurigraph-realtime', 'upstream.conf');

/** Debian's nginx lives in /usr/sbin, off a normal user's PATH; `NGINX_BIN` names another. */
const NGINX = findSystemBinary({
  name: 'nginx',
  envName: 'NGINX_BIN',
  packageName: 'nginx',
  dirs: ['/usr/sbin', '/usr/bin', '/usr/local/sbin'],
});
export const NGINX_BIN = NGINX.path;
export const NGINX_MISSING_REASON = NGINX.missingReason;

/** A describe block that needs nginx: skipped with the reason when it is missing, failed instead in CI. */
export function describeWithNginx(name: string, body: () => void): void {
  describeWithBinary(NGINX, 'nginx', name, body);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free loopback port below the kernel's ephemeral range, for a process that
 * is killed and started again on the same port: while it is down, no outgoing
 * connection of any process on the machine can be given that port as its
 * local port (which would make the restart fail with EADDRINUSE). Falls back
 * to any free port when the range cannot be read.
 */
export async function stablePort(): Promise<number> {
  let ephemeralLow = 32_768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // not Linux: any free port will do
  }
  const min = 10_000;
  const max = ephemeralLow - 1;
  if (!Number.isInteger(max) || max - min < 1000) return freePort();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min));
    if (await canListen(port)) return port;
  }
  return freePort();
}

/**
 * The deploy example's `server` lines rewritten for these instances: one line
 * per port on 127.0.0.1, with the example's parameters. Throws when the
 * example has no `server` line.
 */
export function upstreamServers(ports: readonly number[], example = readFileSync(UPSTREAM_EXAMPLE, 'utf8')): string {
  const line = example.split('\n').find((l) => /^\s*server\s+\S+/.test(l));
  const parameters = line ? (/^\s*server\s+\S+?(\s[^;]*)?;/.exec(line)?.[1] ?? '') : undefined;
  if (parameters === undefined) throw new Error(`${UPSTREAM_EXAMPLE} has no "server <address> …;" line`);
  return ports.map((port) => `server 127.0.0.1:${port}${parameters};`).join('\n') + '\n';
}

export interface NginxSite extends ServerUrls {
  readonly port: number;
  /** The prefix: nginx.conf, the site's included files, logs, temp paths. */
  readonly dir: string;
  /** One line per request: client address, request, status, upstream address(es) and status(es). */
  accessLog(): string;
  /** nginx's error log and what it printed. */
  errorLog(): string;
  /** Fast shutdown (SIGTERM), SIGKILL for the process group if it lingers; removes the prefix. Safe to call twice. */
  stop(): Promise<void>;
}

function mainConfig(dir: string): string {
  // As root, nginx's workers would switch to `nobody`, who cannot use the temp paths; stay who we are.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  return `# Written by test/helpers/nginx.ts: the process settings; the site is deploy/nginx/ as it is.
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log notice;
${user}
events {
    worker_connections 1024;
}

http {
    default_type application/octet-stream;
    log_format fleet '$remote_addr "$request" $status upstream=$upstream_addr upstream_status=$upstream_status';
    access_log ${dir}/access.log fleet;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    include "${SITE_FILE}";
}
`;
}

function nginxArgs(dir: string): string[] {
  // -e: where errors go before error_log is read (Debian's default is a system path).
  return ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * nginx with the deploy site in front of instances on `instancePorts`
 * (127.0.0.1), listening on a free loopback port. The configuration is
 * checked with `nginx -t` first, so a broken site file fails with nginx's own
 * words. Stopped when the test (or suite scope) ends.
 */
export async function startNginxSite(instancePorts: readonly number[], options: { startTimeoutMs?: number } = {}): Promise<NginxSite> {
  const binary = NGINX_BIN;
  if (!binary) throw new Error(NGINX_MISSING_REASON);
  const dir = mkdtempSync(join(tmpdir(), 'aurigraph-nginx-'));
  const read = (file: string) => {
    try {
      return readFileSync(join(dir, file), 'utf8');
    } catch {
      return '';
    }
  };
  let output = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let running = false;

  const kill = async () => {
    if (!child || !running) return;
    const pid = child.pid as number;
    child.kill('SIGTERM');
    const gone = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => setTimeout(resolve, 5000, false))]);
    if (!gone) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    }
  };

  const launch = async (port: number): Promise<boolean> => {
    mkdirSync(join(dir, 'aurigraph-realtime'), { recursive: true });
    writeFileSync(join(dir, 'nginx.conf'), mainConfig(dir));
    writeFileSync(join(dir, 'aurigraph-realtime', 'upstream.conf'), upstreamServers(instancePorts));
    writeFileSync(join(dir, 'aurigraph-realtime', 'listen.conf'), `listen 127.0.0.1:${port};\n`);
    const check = spawnSync(binary, ['-t', ...nginxArgs(dir)], { encoding: 'utf8', timeout: 15_000 });
    if (check.status !== 0) {
      throw new Error(`nginx -t refused the configuration (site ${SITE_FILE}):\n${check.stderr}${check.stdout}\n${read('error.log')}`);
    }
    const started = spawn(binary, nginxArgs(dir), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child = started;
    running = true;
    exited = new Promise<void>((resolve) => {
      started.once('exit', () => {
        running = false;
        resolve();
      });
      started.once('error', (error) => {
        output += `\n[spawn error] ${error.message}`;
        running = false;
        resolve();
      });
    });
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(async () => !running || (await reachable(port)), {
      timeoutMs: options.startTimeoutMs ?? 15_000,
      what: `nginx to listen on port ${port}`,
    });
    return running;
  };

  let port = 0;
  try {
    // Another process can take the port between the probe and nginx's bind; try a few.
    for (let attempt = 1; ; attempt++) {
      port = await stablePort();
      if (await launch(port)) break;
      if (attempt === 3) throw new Error(`nginx exited at start:\n${output}\n${read('error.log')}`);
    }
  } catch (error) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  let stopped = false;
  return track<NginxSite>({
    port,
    dir,
    http: (path = '') => `http://127.0.0.1:${port}${path}`,
    ws: (path = '') => `ws://127.0.0.1:${port}${path}`,
    accessLog: () => read('access.log'),
    errorLog: () => `${output}\n${read('error.log')}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

export interface PlainResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP request over node:http from a chosen local address (127.0.0.2, …:
 * every 127/8 address is this machine, so a test can be several clients).
 * No keep-alive: each request is its own connection.
 */
export function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

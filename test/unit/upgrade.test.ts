import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { loadConfig } from '../../src/config.ts';
import { RealtimeError } from '../../src/errors.ts';
import { createAdmission, type Admission } from '../../src/security/admission.ts';
import { routeUpgrades, type WebSocketEndpoint } from '../../src/transports/upgrade.ts';
import { onCleanup, track } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';
import { rawUpgrade } from '../helpers/ws-frames.ts';
import { fakeLogger, type FakeLogger } from './fakes.ts';

interface Refusal {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { errors: { message: string; extensions: Record<string, unknown> }[] };
}

interface Rig {
  port: number;
  admission: Admission;
  logger: FakeLogger;
  setAccepting(value: boolean): void;
  /** Requests seen by each endpoint's prepare. */
  prepared: string[];
}

function endpoint(name: string, path: string, prepare?: (request: IncomingMessage) => void | Promise<void>): WebSocketEndpoint {
  const wss = new WebSocketServer({ noServer: true });
  return { name, wss, matches: (pathname) => pathname === path, ...(prepare && { prepare }) };
}

/** A real HTTP server on port 0 routing upgrades to three endpoints, with real admission from the given env. */
async function rig(env: Record<string, string> = {}): Promise<Rig> {
  const config = loadConfig({ CORS_ORIGINS: 'http://allowed.example', ...env });
  const admission = createAdmission(config);
  const logger = fakeLogger();
  const prepared: string[] = [];
  const endpoints = [
    endpoint('open', '/open', (request) => {
      prepared.push(request.url ?? '');
    }),
    endpoint('guarded', '/guarded', async (request) => {
      prepared.push(request.url ?? '');
      await Promise.resolve();
      throw new RealtimeError('AUTH_REQUIRED', 'a bearer token is required');
    }),
    endpoint('buggy', '/buggy', () => {
      throw new TypeError('prepare crashed: secret detail');
    }),
    endpoint('plain', '/plain'),
  ];
  let accepting = true;
  const server: Server = createServer((_, response) => response.writeHead(418).end());
  routeUpgrades(server, endpoints, { accepting: () => accepting, admission, logger, production: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(async () => {
    for (const { wss } of endpoints) for (const socket of wss.clients) socket.terminate();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, admission, logger, setAccepting: (value) => (accepting = value), prepared };
}

/** Tries a WebSocket upgrade with the `ws` client: resolves with the open socket, or with the HTTP refusal. */
function upgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket } | { refusal: Refusal }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
    ws.once('open', () => {
      resolve({ ws: track(ws, (socket) => socket.terminate()) });
    });
    ws.once('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ refusal: { status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(text) as Refusal['body'] } });
      });
    });
    ws.once('error', (error) => {
      if (!String(error.message).includes('Unexpected server response')) reject(error);
    });
  });
}

async function refused(port: number, path: string, headers: Record<string, string> = {}): Promise<Refusal> {
  const result = await upgrade(port, path, headers);
  if (!('refusal' in result)) throw new Error(`${path} was upgraded`);
  return result.refusal;
}

function expectErrorShape(refusal: Refusal, status: number, code: string): void {
  expect(refusal.status).toBe(status);
  expect(refusal.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(refusal.headers['connection']).toBe('close');
  expect(refusal.body.errors).toHaveLength(1);
  expect(refusal.body.errors[0]?.extensions['code']).toBe(code);
  expect(typeof refusal.body.errors[0]?.message).toBe('string');
}

describe('refusals before the handshake', () => {
  test('an unrouted path is 404 NOT_FOUND, before admission counts it', async () => {
    const r = await rig({ RATE_LIMIT_BURST: '2', RATE_LIMIT_PER_IP: '0.001' });
    for (let i = 0; i < 5; i++) {
      const refusal = await refused(r.port, `/nothing/here-${i}?x=1`);
      expectErrorShape(refusal, 404, 'NOT_FOUND');
      expect(refusal.body.errors[0]?.message).toBe(`no WebSocket endpoint at /nothing/here-${i}`);
    }
    // Five 404s took no connection tokens: both of the burst are still there.
    expect('ws' in (await upgrade(r.port, '/open'))).toBe(true);
    expect('ws' in (await upgrade(r.port, '/open'))).toBe(true);
    expect(r.admission.refused.size).toBe(0);
  });

  test('an origin that is not allowed is 403 FORBIDDEN; an allowed one is admitted', async () => {
    const r = await rig();
    const refusal = await refused(r.port, '/open', { origin: 'https://evil.example' });
    expectErrorShape(refusal, 403, 'FORBIDDEN');
    expect(refusal.body.errors[0]?.message).toContain('https://evil.example');
    expect(r.prepared).toEqual([]);
    expect('ws' in (await upgrade(r.port, '/open', { origin: 'http://allowed.example' }))).toBe(true);
  });

  test('too many new connections from one address is 429 RATE_LIMITED with retry-after', async () => {
    const r = await rig({ RATE_LIMIT_BURST: '2', RATE_LIMIT_PER_IP: '0.001' });
    await upgrade(r.port, '/open');
    await upgrade(r.port, '/open');
    const refusal = await refused(r.port, '/open');
    expectErrorShape(refusal, 429, 'RATE_LIMITED');
    expect(refusal.headers['retry-after']).toBe('1');
    expect(r.admission.refused.get('rate')).toBe(1);
  });

  test('at the connection limit it is 503 TOO_MANY_CONNECTIONS; a closed connection frees its place', async () => {
    const r = await rig({ MAX_CONNECTIONS: '1' });
    const first = await upgrade(r.port, '/open');
    if (!('ws' in first)) throw new Error('first connection refused');
    expect(r.admission.open()).toBe(1);
    const refusal = await refused(r.port, '/open');
    expectErrorShape(refusal, 503, 'TOO_MANY_CONNECTIONS');
    expect(refusal.headers['retry-after']).toBe('5');
    first.ws.close();
    await waitFor(() => r.admission.open() === 0, { what: 'the closed connection to be released' });
    expect('ws' in (await upgrade(r.port, '/open'))).toBe(true);
  });

  test('while draining every upgrade is 503 SHUTTING_DOWN, whatever the path', async () => {
    const r = await rig();
    r.setAccepting(false);
    for (const path of ['/open', '/nothing']) {
      const refusal = await refused(r.port, path);
      expectErrorShape(refusal, 503, 'SHUTTING_DOWN');
      expect(refusal.headers['retry-after']).toBe('1');
    }
    expect(r.prepared).toEqual([]);
    expect(r.admission.open()).toBe(0);
  });

  test("an endpoint's prepare that throws a RealtimeError refuses with its status and headers, and releases admission", async () => {
    const r = await rig();
    const refusal = await refused(r.port, '/guarded?stream=x');
    expectErrorShape(refusal, 401, 'AUTH_REQUIRED');
    expect(refusal.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(refusal.body.errors[0]?.message).toBe('a bearer token is required');
    expect(r.prepared).toEqual(['/guarded?stream=x']);
    expect(r.admission.open()).toBe(0);
    expect(r.logger.error).not.toHaveBeenCalled();
  });

  test('a prepare that crashes is 500 `Unexpected error.` in production, logged, and releases admission', async () => {
    const r = await rig();
    const refusal = await refused(r.port, '/buggy');
    expectErrorShape(refusal, 500, 'INTERNAL');
    expect(refusal.body.errors[0]).toEqual({ message: 'Unexpected error.', extensions: { code: 'INTERNAL' } });
    expect(JSON.stringify(refusal.body)).not.toContain('secret detail');
    expect(r.logger.error).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(TypeError) }), 'upgrade failed');
    expect(r.admission.open()).toBe(0);
  });

  test('an unparsable request target is 400 BAD_REQUEST', async () => {
    const r = await rig();
    const raw = await rawUpgrade(r.port, 'http://[bad');
    expect(raw.status).toBe(400);
    await raw.closed;
    const body = raw.bytes().toString('utf8');
    expect(JSON.parse(body)).toEqual({ errors: [{ message: 'unparsable request target', extensions: { code: 'BAD_REQUEST' } }] });
  });
});

describe('admitted upgrades', () => {
  test('hold their admission while open and release it when the socket closes; an endpoint without prepare upgrades directly', async () => {
    const r = await rig();
    const a = await upgrade(r.port, '/open');
    const b = await upgrade(r.port, '/plain');
    if (!('ws' in a) || !('ws' in b)) throw new Error('refused');
    expect(r.admission.open()).toBe(2);
    a.ws.close();
    await waitFor(() => r.admission.open() === 1, { what: 'one release' });
    b.ws.terminate();
    await waitFor(() => r.admission.open() === 0, { what: 'both released' });
  });
});

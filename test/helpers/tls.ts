import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

export interface SelfSignedCertificate {
  certFile: string;
  keyFile: string;
  /** PEM of the certificate: the CA a client trusts. */
  cert: string;
  dispose(): void;
}

/** Whether `openssl` can be run here. */
export function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A throwaway self-signed certificate for localhost and 127.0.0.1 (RSA 2048,
 * one day), written to a temporary directory with `openssl req -x509`.
 */
export function createSelfSignedCertificate(): SelfSignedCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'aurigraph-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'pipe' },
  );
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A `fetch` over node:https that trusts `ca` (Node's global fetch cannot be
 * given a CA without undici). Enough of fetch for graphql-sse and the tests:
 * method, headers, string body, abort signal, streamed response body.
 */
export function httpsFetch(ca: string): typeof fetch {
  return ((input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const headers = new Headers(init.headers);
      const request = httpsRequest(
        url,
        { method: init.method ?? 'GET', headers: Object.fromEntries(headers.entries()), ca },
        (response) => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
            else if (value !== undefined) responseHeaders.set(name, value);
          }
          const status = response.statusCode ?? 500;
          const body = status === 204 || status === 304 ? null : (Readable.toWeb(response) as unknown as ReadableStream<Uint8Array>);
          resolve(new Response(body, { status, headers: responseHeaders }));
        },
      );
      request.on('error', reject);
      const signal = init.signal;
      if (signal) {
        if (signal.aborted) request.destroy(new DOMException('aborted', 'AbortError'));
        signal.addEventListener('abort', () => request.destroy(new DOMException('aborted', 'AbortError')), { once: true });
      }
      if (typeof init.body === 'string') request.end(init.body);
      else request.end();
    })) as typeof fetch;
}

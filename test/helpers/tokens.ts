import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { track } from './track.ts';

/** An HS256 secret of the length the server demands (≥ 32 characters). */
export const TEST_JWT_SECRET = 'aurigraph-test-secret-0123456789-abcdefghij';

export interface TokenClaims {
  /** Space-separated scopes, e.g. `stream:transactions stream:metrics` or `stream:*`. Omitted when undefined. */
  scope?: string | undefined;
  sub?: string;
  iss?: string;
  aud?: string | string[];
  /** Seconds from now until `exp` (negative: already expired). Default one hour; `null` leaves `exp` out. */
  expiresInS?: number | null;
  /** Seconds from now until `nbf`. */
  notBeforeInS?: number;
  /** Extra claims, merged last. */
  extra?: JWTPayload;
}

const nowS = () => Math.floor(Date.now() / 1000);

function buildClaims(claims: TokenClaims): JWTPayload {
  const iat = nowS();
  const payload: JWTPayload = { iat, sub: claims.sub ?? 'test-user' };
  if (claims.scope !== undefined) payload['scope'] = claims.scope;
  if (claims.iss !== undefined) payload.iss = claims.iss;
  if (claims.aud !== undefined) payload.aud = claims.aud;
  const expiresIn = claims.expiresInS === undefined ? 3600 : claims.expiresInS;
  if (expiresIn !== null) payload.exp = iat + expiresIn;
  if (claims.notBeforeInS !== undefined) payload.nbf = iat + claims.notBeforeInS;
  return { ...payload, ...claims.extra };
}

/** An HS256 JWT signed with `secret`. */
export function signHs256(claims: TokenClaims = {}, secret = TEST_JWT_SECRET): Promise<string> {
  return new SignJWT(buildClaims(claims)).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

/** A token with a precise `exp` in milliseconds since the epoch (JWT `exp` has second resolution: rounded up). */
export function signHs256ExpiringAt(expMs: number, claims: Omit<TokenClaims, 'expiresInS'> = {}, secret = TEST_JWT_SECRET) {
  return signHs256({ ...claims, expiresInS: null, extra: { ...claims.extra, exp: Math.ceil(expMs / 1000) } }, secret);
}

/** `alg: none`: an unsigned token any verifier must refuse. */
export function unsignedToken(claims: TokenClaims = {}): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(buildClaims(claims))}.`;
}

/** Replaces the payload of a signed token (keeping header and signature): a forgery. */
export function tamperedToken(token: string, claims: TokenClaims): string {
  const [header, , signature] = token.split('.');
  return `${header}.${Buffer.from(JSON.stringify(buildClaims(claims))).toString('base64url')}.${signature}`;
}

export type AsymmetricAlg = 'RS256' | 'ES256';

interface KeyEntry {
  kid: string;
  alg: AsymmetricAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * An identity provider's JWKS endpoint on 127.0.0.1, port 0. Keys can be
 * added (rotation) and removed; `fetches` counts GETs so tests can see when
 * the server refetched. `mode` makes it answer 500 or garbage. Closed when
 * the test (or suite scope) ends.
 */
export interface JwksServer {
  readonly url: string;
  readonly fetches: number;
  /** Keys currently published, by kid. */
  readonly published: readonly string[];
  mode: 'ok' | 'error' | 'garbage';
  /** Generates a key pair; publishes its public key unless `publish` is false. Returns the kid. */
  addKey(alg: AsymmetricAlg, options?: { kid?: string; publish?: boolean }): Promise<string>;
  publish(kid: string): void;
  unpublish(kid: string): void;
  /** A JWT signed with the key `kid` (published or not). */
  sign(kid: string, claims?: TokenClaims, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  const keys = new Map<string, KeyEntry>();
  const published = new Set<string>();
  let fetches = 0;
  let counter = 0;
  const state = { mode: 'ok' as 'ok' | 'error' | 'garbage' };
  const server: Server = createServer((request, response) => {
    if (request.url !== '/.well-known/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    fetches++;
    if (state.mode === 'error') {
      response.writeHead(500).end('boom');
      return;
    }
    if (state.mode === 'garbage') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [ this is not json');
      return;
    }
    const body = { keys: [...published].map((kid) => (keys.get(kid) as KeyEntry).publicJwk) };
    response.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return track<JwksServer>({
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    get published() {
      return [...published];
    },
    get mode() {
      return state.mode;
    },
    set mode(value) {
      state.mode = value;
    },
    async addKey(alg, options = {}) {
      const kid = options.kid ?? `${alg.toLowerCase()}-${++counter}`;
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
      keys.set(kid, { kid, alg, privateKey, publicJwk });
      if (options.publish !== false) published.add(kid);
      return kid;
    },
    publish(kid) {
      if (!keys.has(kid)) throw new Error(`no key ${kid}`);
      published.add(kid);
    },
    unpublish(kid) {
      published.delete(kid);
    },
    async sign(kid, claims = {}, header = {}) {
      const key = keys.get(kid);
      if (!key) throw new Error(`no key ${kid}`);
      return new SignJWT(buildClaims(claims)).setProtectedHeader({ alg: key.alg, kid, typ: 'JWT', ...header }).sign(key.privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

import { request as httpRequest } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { useTestServer } from '../helpers/server.ts';

/**
 * The pages a newcomer opens first — GraphiQL on /graphql and the status page
 * on / — served as small documents plus assets: compressed by Accept-Encoding
 * (brotli, else gzip), revalidated by ETag (304), versioned assets cached for
 * a year, HEAD answered, and a favicon.
 */

const server = useTestServer();

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw GET/HEAD (fetch would decompress and hide the transfer size). */
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(server.http(path), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const BROWSER = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'accept-encoding': 'gzip, deflate, br' };

/** The asset URLs the GraphiQL page refers to (scripts, styles, icon, Monaco workers). */
async function graphiqlAssetPaths(): Promise<string[]> {
  const page = (await get('/graphql', { accept: BROWSER.accept })).body.toString();
  return [...new Set([...page.matchAll(/"(\/graphiql\/[^"]+)"/g)].map((m) => m[1] as string))];
}

describe('GraphiQL', () => {
  test('the page is a small HTML document that loads versioned assets from this server only', async () => {
    const page = await get('/graphql', BROWSER);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(page.body).length).toBeLessThan(20_000);
    const paths = await graphiqlAssetPaths();
    expect(paths.map((p) => p.replace(/^\/graphiql\/[^/]+\//, '')).sort()).toEqual([
      'editor.worker.js',
      'graphiql.css',
      'graphiql.js',
      'graphql.worker.js',
      'json.worker.js',
    ]);
  });

  test('everything a first visit downloads, compressed, is under 3 MB; each asset is cached for a year', async () => {
    let transferred = (await get('/graphql', BROWSER)).body.length;
    let uncompressed = 0;
    for (const path of await graphiqlAssetPaths()) {
      const brotli = await get(path, { 'accept-encoding': 'gzip, deflate, br' });
      expect(brotli.status, path).toBe(200);
      expect(brotli.headers['cache-control'], path).toBe('public, max-age=31536000, immutable');
      transferred += brotli.body.length;
      if (brotli.headers['content-encoding'] === 'br') {
        const plain = await get(path, { 'accept-encoding': 'identity' });
        expect(plain.headers['content-encoding'], path).toBeUndefined();
        expect(brotliDecompressSync(brotli.body).equals(plain.body), `${path}: brotli decodes to the asset`).toBe(true);
        uncompressed += plain.body.length;
      }
    }
    expect(uncompressed, 'the assets really are large uncompressed').toBeGreaterThan(5_000_000);
    expect(transferred).toBeLessThan(3_000_000);
  });

  test('gzip for a client without brotli; the identity for one that accepts neither', async () => {
    const [script] = (await graphiqlAssetPaths()).filter((p) => p.endsWith('graphiql.js'));
    const gzip = await get(script as string, { 'accept-encoding': 'gzip' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    const plain = await get(script as string, { 'accept-encoding': 'br;q=0, gzip;q=0' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(gunzipSync(gzip.body).equals(plain.body)).toBe(true);
    expect(gzip.headers['vary']).toBe('accept-encoding');
  });

  test('a browser that has the page revalidates it with its ETag and gets 304 with no body', async () => {
    const first = await get('/graphql', BROWSER);
    const etag = first.headers['etag'] as string;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await get('/graphql', { ...BROWSER, 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  test('a GET of /graphql that is not a browser asking for HTML is GraphQL, not the page', async () => {
    const response = await fetch(server.http('/graphql?query=%7B__typename%7D'), { headers: { accept: 'application/json' } });
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('the status page and the rest', () => {
  test('GET / is the status page; its script goes out compressed', async () => {
    const page = await get('/', BROWSER);
    expect(page.status).toBe(200);
    const script = /src="([^"]+\.js)"/.exec(page.body.toString())?.[1] as string;
    const compressed = await get(script, { 'accept-encoding': 'br' });
    const plain = await get(script, {});
    expect(compressed.headers['content-encoding']).toBe('br');
    expect(compressed.body.length).toBeLessThan(plain.body.length / 2);
  });

  test('HEAD / answers like GET / with no body (uptime checkers use HEAD)', async () => {
    const head = await get('/', BROWSER, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.body.length).toBe(0);
  });

  test('/favicon.ico and /favicon.svg are the site icon, not a 404', async () => {
    for (const path of ['/favicon.ico', '/favicon.svg']) {
      const icon = await get(path);
      expect(icon.status, path).toBe(200);
      expect(icon.headers['content-type'], path).toBe('image/svg+xml');
      expect(icon.body.toString(), path).toMatch(/^<svg /);
    }
  });
});

describe('with GRAPHIQL=false', () => {
  const quiet = useTestServer({ GRAPHIQL: 'false' });

  test('no page, no assets: a browser asking /graphql for HTML is told what the path speaks', async () => {
    const response = await fetch(quiet.http('/graphql'), { headers: { accept: 'text/html' } });
    expect(response.status).not.toBe(200);
    const page = await fetch(server.http('/graphql'), { headers: { accept: 'text/html' } });
    const script = /"(\/graphiql\/[^"]+\.js)"/.exec(await page.text())?.[1] as string;
    expect((await fetch(quiet.http(script))).status).toBe(404);
  });
});

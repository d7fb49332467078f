import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import type { Logger } from '../../ops/logger.ts';
import type { HttpExchange, Route } from './router.ts';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** A file the server serves as is: an HTML page, a script, a style sheet, an icon. */
export interface Asset {
  path: string;
  contentType: string;
  load(): Promise<string | Buffer>;
  /**
   * Its URL changes whenever its content does (a version or a hash in the
   * path): browsers keep it for a year without asking again. Otherwise they
   * revalidate each time (a 304 when the ETag still matches).
   */
  immutable?: boolean;
  headers?: Record<string, string>;
  /** Narrows the route further (e.g. only browsers asking for HTML). */
  accepts?: Route['accepts'];
}

interface Loaded {
  body: Buffer;
  etag: string;
  variants: Map<'br' | 'gzip', Promise<Buffer>>;
}

/** Below this, compression costs more than it saves. */
const MIN_COMPRESS_BYTES = 1024;

/** The encoding to answer with: brotli, else gzip, else none (quality values of 0 refuse one). */
function negotiate(acceptEncoding: string | undefined): 'br' | 'gzip' | undefined {
  const offered = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find((v) => v !== undefined);
    offered.set(name, q === undefined ? 1 : Number(q));
  }
  const accepts = (name: string) => (offered.get(name) ?? offered.get('*') ?? 0) > 0;
  if (accepts('br')) return 'br';
  if (accepts('gzip')) return 'gzip';
  return undefined;
}

/**
 * Static assets over HTTP: loaded once and kept, with a strong ETag (a 304
 * for a client that has it), compressed once per encoding (brotli or gzip, by
 * Accept-Encoding, in zlib's thread pool so the event loop never waits on
 * it), and answered to HEAD. A failed load is logged, answered 500 and tried
 * again on the next request.
 */
export function createAssetRoutes(assets: readonly Asset[], options: { logger: Logger }): Route[] {
  const loaded = new Map<string, Promise<Loaded>>();
  const load = (asset: Asset): Promise<Loaded> => {
    let entry = loaded.get(asset.path);
    if (!entry) {
      entry = asset.load().then((content) => {
        const body = Buffer.isBuffer(content) ? content : Buffer.from(content);
        return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`, variants: new Map() };
      });
      entry.catch((error: unknown) => {
        loaded.delete(asset.path);
        options.logger.error({ err: error, path: asset.path }, 'asset failed to load');
      });
      loaded.set(asset.path, entry);
    }
    return entry;
  };
  const variant = (file: Loaded, encoding: 'br' | 'gzip'): Promise<Buffer> => {
    let compressed = file.variants.get(encoding);
    if (!compressed) {
      // Quality 5 / level 6: nearly the smallest output at a fraction of the time of the maximum.
      compressed =
        encoding === 'br'
          ? brotli(file.body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: file.body.length } })
          : gzipAsync(file.body, { level: 6 });
      file.variants.set(encoding, compressed);
    }
    return compressed;
  };

  return assets.map((asset): Route => ({
    name: `asset ${asset.path}`,
    path: asset.path,
    methods: ['GET'],
    ...(asset.accepts && { accepts: asset.accepts }),
    async handle({ request, response }: HttpExchange) {
      const file = await load(asset);
      const headers: Record<string, string> = {
        'content-type': asset.contentType,
        etag: file.etag,
        'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        'x-content-type-options': 'nosniff',
        vary: 'accept-encoding',
        ...asset.headers,
      };
      if (request.headers['if-none-match'] === file.etag) {
        response.writeHead(304, headers).end();
        return;
      }
      const encoding = file.body.length >= MIN_COMPRESS_BYTES ? negotiate(request.headers['accept-encoding']) : undefined;
      const body = encoding ? await variant(file, encoding) : file.body;
      if (encoding) headers['content-encoding'] = encoding;
      headers['content-length'] = String(body.length);
      response.writeHead(200, headers);
      response.end(request.method === 'HEAD' ? undefined : body);
    },
  }));
}

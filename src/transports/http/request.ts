import type { IncomingMessage } from 'node:http';
import { parseOperationParams, type OperationParams } from '../../engine/operations.ts';
import { RealtimeError } from '../../errors.ts';
import type { Authenticator, Principal } from '../../security/auth.ts';

/** Largest operation request body (query, variables, extensions) read. */
export const MAX_OPERATION_BODY_BYTES = 1024 * 1024;

/** Reads a request body up to `limit` bytes; throws PAYLOAD_TOO_LARGE past it. */
export async function readBody(request: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = () => new RealtimeError('PAYLOAD_TOO_LARGE', `body larger than ${limit} bytes`, { limit });
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const parseJson = (text: string, name: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    throw new RealtimeError('BAD_REQUEST', `${name}: not valid JSON`, { argument: name });
  }
};

/**
 * The operation a GraphQL-over-HTTP request carries: from the query string on
 * GET (`query`, `operationName`, `variables` and `extensions` as JSON), from a
 * JSON body on POST. Throws BAD_REQUEST / UNSUPPORTED_MEDIA_TYPE / PAYLOAD_TOO_LARGE.
 */
export async function readOperationParams(request: IncomingMessage, url: URL): Promise<OperationParams> {
  if (request.method === 'GET') {
    const query = url.searchParams;
    const json = (name: string) => {
      const value = query.get(name);
      return value === null ? undefined : parseJson(value, name);
    };
    return parseOperationParams({
      query: query.get('query') ?? undefined,
      operationName: query.get('operationName') ?? undefined,
      variables: json('variables'),
      extensions: json('extensions'),
    });
  }
  const type = request.headers['content-type'] ?? '';
  if (!type.includes('application/json')) {
    throw new RealtimeError('UNSUPPORTED_MEDIA_TYPE', 'send the operation as JSON (content-type: application/json)');
  }
  return parseOperationParams(parseJson(await readBody(request, MAX_OPERATION_BODY_BYTES), 'body'));
}

/**
 * Verifies the caller of an HTTP request: `Authorization: Bearer …`, or
 * `?access_token=` for clients that cannot set headers (EventSource; the URL
 * ends up in access logs — prefer the header). Throws AUTH_REQUIRED / TOKEN_EXPIRED / AUTH_UNAVAILABLE.
 */
export function authenticateRequest(request: IncomingMessage, url: URL, authenticator: Authenticator): Promise<Principal | undefined> {
  return authenticator.verify(request.headers.authorization ?? url.searchParams.get('access_token'));
}

/** Whether the client accepts a media type (`text/event-stream`), by substring as browsers and clients send it. */
export function accepts(request: IncomingMessage, mediaType: string): boolean {
  return (request.headers.accept ?? '').includes(mediaType);
}

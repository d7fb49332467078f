/**
 * Seeded generators of malformed and adversarial inputs for the protocol fuzz
 * test: the same seed gives the same inputs, so a failure reproduces with
 * FUZZ_SEED=<seed>.
 */
import { STREAM_NAMES } from './contract.ts';

/** mulberry32: small, fast, good enough to drive a fuzzer. */
export function createRng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const rng = {
    next,
    /** 0 ≤ n < max */
    int,
    between: (min: number, max: number) => min + int(max - min + 1),
    bool: (p = 0.5) => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    bytes: (length: number) => {
      const out = Buffer.alloc(length);
      for (let i = 0; i < length; i++) out[i] = int(256);
      return out;
    },
    /** A size skewed towards small values, sometimes large. */
    size: (max: number) => Math.floor(max * next() ** 3),
  };
  return rng;
}
export type Rng = ReturnType<typeof createRng>;

/** Strings that trip up decoders, escapers and comparisons. */
export const UNICODE_EDGES: readonly string[] = [
  '\ud800', // lone high surrogate
  '\udfff', // lone low surrogate
  'a\ud83d', // truncated pair
  '\ude00\ud83d', // reversed pair
  '\ud83d\ude00', // emoji
  '\u0000',
  '\ufeff', // BOM
  '\u202e', // right-to-left override
  '\u200b\u200c\u200d', // zero-width
  '\uffff\ufffe',
  '\u2028\u2029', // JS line separators
  'e\u0301', // combining accent
  '𝕏'.repeat(64),
  'Ω'.repeat(2000),
  '\\u0000',
  '%00%ff%c0%af',
  '../../../../etc/passwd',
  '<script>alert(1)</script>',
  "'; DROP TABLE events; --",
  '${7*7}{{7*7}}',
];

/** Byte sequences that are not UTF-8. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xc0, 0xaf]), // overlong '/'
  Buffer.from([0xed, 0xa0, 0x80]), // encoded surrogate
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xe2, 0x82]), // truncated
  Buffer.from([0x80]), // lone continuation
];

export const STREAMS = STREAM_NAMES;

const NAMES = [
  'a',
  'b',
  'x',
  '__typename',
  '__schema',
  '__type',
  'query',
  'subscription',
  'transactions',
  'metrics',
  'seq',
  'on',
  'fragment',
  'true',
  'null',
];
const PUNCT = ['{', '}', '(', ')', '[', ']', ':', '!', '$', '@', '...', '=', '|', '&', ',', '"', '"""', '#', '\n', ' '];

/** Percent-encodes every UTF-8 byte (lone surrogates become U+FFFD instead of throwing like encodeURIComponent). */
export function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/** Nested JSON text of the given depth, built as a string (JSON.stringify would overflow first). */
export function nestedJsonText(depth: number, open = '[', close = ']'): string {
  return open.repeat(depth) + close.repeat(depth);
}

/** A GraphQL document, valid or not, often adversarial. */
export function fuzzDocument(rng: Rng): string {
  switch (rng.int(14)) {
    case 0: {
      const stream = rng.pick(STREAMS);
      return `subscription { ${stream} { seq cursor timestamp } }`;
    }
    case 1: {
      const stream = rng.pick(STREAMS.filter((s) => s !== 'metrics'));
      const args = [
        rng.bool() && `after: ${JSON.stringify(rng.pick([...UNICODE_EDGES, 'djE6ZmZmZjox', '', 'x'.repeat(rng.size(5000))]))}`,
        rng.bool() && `replay: ${rng.pick([-1, 0, 1, 2 ** 31 - 1, 10_000_000])}`,
        rng.bool() && `filter: { status: [${rng.pick(['SUCCESS', 'NOPE', '"x"', '1', ''])}] }`,
      ].filter(Boolean);
      return `subscription { ${stream}${args.length ? `(${args.join(', ')})` : ''} { seq } }`;
    }
    case 2: {
      const depth = rng.pick([20, 200, 2000, 20_000]);
      return '{ a '.repeat(depth) + '}'.repeat(depth);
    }
    case 3:
      return '{'.repeat(rng.pick([100, 5000, 50_000]));
    case 4:
      return 'fragment A on Query { ...B } fragment B on Query { ...A } { ...A }';
    case 5:
      return `{ ${Array.from({ length: rng.between(16, 400) }, (_, i) => `a${i}: recentTransactions(limit: 1000) { txHash from to value }`).join(' ')} }`;
    case 6:
      return `{ __typename ${'@skip(if: false) '.repeat(rng.between(2, 500))}}`;
    case 7:
      return `{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }`;
    case 8:
      return Array.from({ length: rng.size(3000) + 1 }, () => (rng.bool(0.6) ? rng.pick(NAMES) : rng.pick(PUNCT))).join(
        rng.pick(['', ' ']),
      );
    case 9:
      return `{ __typename(${rng.pick(UNICODE_EDGES)}: "${rng.pick(UNICODE_EDGES)}") }`;
    case 10:
      return `query ${rng.pick(UNICODE_EDGES)} { __typename }`;
    case 11:
      return `"""${'\\"""'.repeat(rng.size(2000))}""" { __typename }`;
    case 12:
      return `{ recentTransactions(limit: ${rng.pick(['-1', '0', '99999999999999999999', '1.5', '"1"', 'null', '[1]'])}) { txHash } }`;
    default:
      return rng.pick([
        '',
        ' ',
        '#comment only',
        'query',
        'subscription {',
        '{ __typename }',
        'mutation { x }',
        '{ ...on Query { __typename } }',
      ]);
  }
}

/** Variables: wrong types, huge, deep, prototype-polluting — as JSON text. */
export function fuzzVariablesText(rng: Rng): string {
  switch (rng.int(8)) {
    case 0:
      return 'null';
    case 1:
      return JSON.stringify({ after: 'x'.repeat(rng.pick([10, 100_000, 400_000])) });
    case 2:
      return `{"v": ${nestedJsonText(rng.pick([100, 10_000, 100_000]))}}`;
    case 3:
      return '{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}';
    case 4:
      return JSON.stringify({ filter: { status: Array.from({ length: rng.size(50_000) }, () => 'SUCCESS') } });
    case 5:
      return JSON.stringify(rng.pick([[], 'string', 42, true]));
    case 6:
      return JSON.stringify({ [rng.pick(UNICODE_EDGES)]: rng.pick(UNICODE_EDGES) });
    default:
      return '{}';
  }
}

export interface WsInput {
  data: string | Buffer;
  binary: boolean;
  /** Operation ids this input may have started (to complete afterwards). */
  ids: string[];
  kind: string;
}

let opCounter = 0;

/** One graphql-transport-ws message from an acknowledged client, mostly wrong. */
export function fuzzGraphqlWsMessage(rng: Rng): WsInput {
  const id = rng.bool(0.8) ? `f${++opCounter}` : rng.pick(['', ' ', '0', 'dup', rng.pick(UNICODE_EDGES), 'x'.repeat(10_000)]);
  const text = (kind: string, data: string, ids: string[] = []): WsInput => ({ data, binary: false, ids, kind });
  switch (rng.int(16)) {
    case 0:
      return { data: rng.bytes(rng.size(4096) + 1), binary: rng.bool(), ids: [], kind: 'random-bytes' };
    case 1: {
      const message = JSON.stringify({ type: 'subscribe', id, payload: { query: fuzzDocument(rng) } });
      return text('truncated-json', message.slice(0, rng.int(message.length)));
    }
    case 2:
      return text(
        'wrong-type',
        JSON.stringify({
          type: rng.pick(['next', 'error', 'complete', 'connection_ack', 'pong', 'unknown', '', 42, null, ['subscribe']]),
          id,
          payload: {},
        }),
      );
    case 3:
      return text('not-an-object', rng.pick(['null', '42', '"subscribe"', '[]', '[{"type":"ping"}]', 'true', '{}', '{"type":{}}']));
    case 4:
      return text('subscribe', JSON.stringify({ type: 'subscribe', id, payload: { query: fuzzDocument(rng) } }), [id]);
    case 5:
      return text(
        'subscribe-variables',
        `{"type":"subscribe","id":${JSON.stringify(id)},"payload":{"query":${JSON.stringify(fuzzDocument(rng))},"variables":${fuzzVariablesText(rng)}}}`,
        [id],
      );
    case 6:
      return text(
        'subscribe-bad-payload',
        JSON.stringify({
          type: 'subscribe',
          id,
          payload: rng.pick([
            null,
            42,
            'q',
            [],
            { query: 42 },
            { query: null },
            { query: '{ __typename }', operationName: 42 },
            { query: '{ __typename }', extensions: 'x' },
          ]),
        }),
      );
    case 7: {
      const doc = JSON.stringify({ type: 'subscribe', id: 'dup', payload: { query: 'subscription { network { seq } }' } });
      return text('duplicate-id', doc, ['dup']);
    }
    case 8:
      return text('complete', JSON.stringify({ type: 'complete', id: rng.pick([id, 'never-started', '', 42]) }));
    case 9:
      return text(
        'connection_init-again',
        JSON.stringify({ type: 'connection_init', payload: rng.pick([null, {}, { authorization: rng.pick(UNICODE_EDGES) }]) }),
      );
    case 10:
      return text(
        'ping',
        JSON.stringify({ type: rng.pick(['ping', 'pong']), payload: rng.pick([undefined, { a: rng.pick(UNICODE_EDGES) }, 'x', 42]) }),
      );
    case 11:
      return text(
        'deep-json',
        `{"type":"subscribe","id":"${id}","payload":${nestedJsonText(rng.pick([1000, 50_000, 200_000]), '{"a":', '}')}}`,
      );
    case 12:
      return {
        data: Buffer.concat([Buffer.from('{"type":"ping","payload":{"x":"'), rng.pick(INVALID_UTF8), Buffer.from('"}}')]),
        binary: false,
        ids: [],
        kind: 'invalid-utf8',
      };
    case 13:
      return text(
        'unicode',
        JSON.stringify({
          type: 'subscribe',
          id: rng.pick(UNICODE_EDGES),
          payload: { query: `{ __typename } # ${rng.pick(UNICODE_EDGES)}`, operationName: rng.pick(UNICODE_EDGES) },
        }),
        [],
      );
    case 14:
      return text('empty', rng.pick(['', ' ', '\n', '\u0000']));
    default:
      return text('huge-string', JSON.stringify({ type: 'ping', payload: { junk: 'j'.repeat(rng.pick([1000, 100_000, 900_000])) } }));
  }
}

/** A legacy `/ws/<stream>?…` URL path, often broken. */
export function fuzzLegacyPath(rng: Rng, token: string): string {
  const stream = rng.bool(0.85)
    ? rng.pick(STREAMS)
    : rng.pick(['', 'TRANSACTIONS', 'metrics/', '..%2fmetrics', 'transactions%00', 'nope', rng.pick(UNICODE_EDGES)]);
  const params: string[] = [];
  const n = rng.int(5);
  for (let i = 0; i < n; i++) {
    const key = rng.pick([
      'replay',
      'since',
      'meta',
      'status',
      'from',
      'to',
      'address',
      'minValue',
      'maxValue',
      'validator',
      'state',
      'peerId',
      'connected',
      'intervalMs',
      'access_token',
      'x',
      '',
    ]);
    const value = rng.pick([
      '1',
      '-1',
      '0',
      '99999999999',
      'abc',
      '',
      'true',
      'SUCCESS',
      'SUCCESS,FAILED',
      '0xZZ',
      `0x${'f'.repeat(40)}`,
      '1e309',
      'NaN',
      percentEncode(rng.pick(UNICODE_EDGES)),
      '%',
      '%zz',
      '%ed%a0%80',
      'x'.repeat(rng.size(8000)),
    ]);
    params.push(`${key}=${value}`);
  }
  if (rng.bool(0.9)) params.push(`access_token=${token}`);
  return `/ws/${stream}${params.length ? `?${params.join('&')}` : ''}`;
}

export interface HttpInput {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  kind: string;
}

/** An HTTP request to the GraphQL endpoints (and a few others), often broken. SSE in a share of them. */
export function fuzzHttpRequest(rng: Rng, token: string): HttpInput {
  const sse = rng.bool(0.3);
  const headers: Record<string, string> = {};
  if (rng.bool(0.85)) headers['authorization'] = `Bearer ${token}`;
  else if (rng.bool())
    headers['authorization'] = rng.pick([
      'Bearer',
      'Bearer ',
      'Basic x',
      'Bearer a.b.c',
      `Bearer ${'A'.repeat(rng.size(20_000))}`,
      'bearer  x y',
    ]);
  headers['accept'] = sse
    ? rng.pick(['text/event-stream', 'text/event-stream, application/json', 'text/html, text/event-stream'])
    : rng.pick(['application/json', 'application/graphql-response+json', '*/*', 'text/html', 'multipart/mixed', 'x/y', '']);
  if (rng.bool(0.1)) headers['last-event-id'] = rng.pick(['garbage', 'djE6eHg6MQ', 'x'.repeat(5000), '\u00ff\u00fe']);
  if (rng.bool(0.1)) headers['origin'] = rng.pick(['http://evil.example', 'null', 'http://localhost:5173']);
  const path = rng.pick([
    '/graphql',
    '/graphql',
    '/graphql',
    '/graphql/stream',
    '/graphql/',
    '/graphql?',
    '/graphql/stream/x',
    '/api/v11/websocket/stats',
    '/nope',
    '/graphql%00',
  ]);
  const kind = rng.int(9);
  const json = (obj: string) => ({
    'content-type': rng.pick(['application/json', 'application/json; charset=utf-8', 'application/graphql+json']),
    body: obj,
  });
  switch (kind) {
    case 0:
      return {
        method: 'POST',
        path,
        headers: {
          ...headers,
          'content-type': rng.pick(['application/json', 'text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x', '']),
        },
        body: rng.bytes(rng.size(20_000)),
        kind: 'random-body',
      };
    case 1: {
      const full = JSON.stringify({ query: fuzzDocument(rng) });
      const { body, ...ct } = json(full.slice(0, rng.int(full.length)));
      return { method: 'POST', path, headers: { ...headers, ...ct }, body, kind: 'truncated-json' };
    }
    case 2: {
      const { body, ...ct } = json(`{"query":${JSON.stringify(fuzzDocument(rng))},"variables":${fuzzVariablesText(rng)}}`);
      return { method: 'POST', path, headers: { ...headers, ...ct }, body, kind: sse ? 'sse' : 'document' };
    }
    case 3: {
      const { body, ...ct } = json(
        rng.pick([
          'null',
          '[]',
          '42',
          '"x"',
          '{"query":{}}',
          '{"query":"{ __typename }","operationName":[]}',
          '{"query":"{ __typename }","extensions":{"persistedQuery":{"sha256Hash":"x","version":1}}}',
          nestedJsonText(rng.pick([10, 100_000])),
        ]),
      );
      return { method: 'POST', path, headers: { ...headers, ...ct }, body, kind: 'wrong-shape' };
    }
    case 4: {
      const query = percentEncode(fuzzDocument(rng).slice(0, 2000));
      return {
        method: 'GET',
        path: `/graphql?query=${query}${rng.bool() ? `&variables=${percentEncode(fuzzVariablesText(rng).slice(0, 1000))}` : ''}`,
        headers,
        kind: 'get',
      };
    }
    case 5:
      return {
        method: rng.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND']),
        path,
        headers: { ...headers, 'x-graphql-event-stream-token': rng.pick(['', 'x', 'x'.repeat(1000)]) },
        body: rng.bool() ? rng.bytes(rng.size(1000)) : '',
        kind: 'method',
      };
    case 6: {
      const { body, ...ct } = json(JSON.stringify({ query: `subscription { ${rng.pick(STREAMS)} { seq } }` }));
      return { method: 'POST', path: '/graphql', headers: { ...headers, ...ct, accept: 'text/event-stream' }, body, kind: 'sse-abort' };
    }
    case 7:
      return {
        method: 'GET',
        path: `/graphql?${rng.pick(['query', '%71uery', 'query[]', 'query%00'])}=${encodeURIComponent('{ __typename }')}&${'a=1&'.repeat(rng.size(2000))}`,
        headers,
        kind: 'get-params',
      };
    default: {
      const { body, ...ct } = json(JSON.stringify({ query: `{ __typename }`, [rng.pick(UNICODE_EDGES)]: rng.pick(UNICODE_EDGES) }));
      return { method: 'POST', path, headers: { ...headers, ...ct }, body, kind: 'unicode' };
    }
  }
}

/** Bytes for a bare TCP connection to the server: broken HTTP and broken WebSocket handshakes. */
export function fuzzRawHttp(rng: Rng, port: number): { bytes: Buffer; kind: string } {
  const key = Buffer.from(rng.bytes(16)).toString('base64');
  const upgrade = (path: string, extra: string) =>
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${extra}\r\n`;
  switch (rng.int(8)) {
    case 0:
      return { bytes: rng.bytes(rng.size(8000) + 1), kind: 'random-bytes' };
    case 1:
      return {
        bytes: Buffer.from(
          upgrade(
            '/graphql',
            `Sec-WebSocket-Key: ${rng.pick(['', 'short', key + key, '!!!!'])}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n`,
          ),
        ),
        kind: 'bad-key',
      };
    case 2:
      return {
        bytes: Buffer.from(
          upgrade(
            rng.pick(['/ws/metrics', '/graphql']),
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${rng.pick(['8', '12', '14', 'x', ''])}\r\n`,
          ),
        ),
        kind: 'bad-version',
      };
    case 3:
      return {
        bytes: Buffer.from(
          `${rng.pick(['GET', 'POST', 'BREW', 'G\u0000T'])} ${rng.pick(['/graphql', '*', '//', 'http://evil/', '/%'])} HTTP/${rng.pick(['1.1', '9.9', '1', ''])}\r\n${rng.pick(['Host: x\r\n', '', 'Host: a\r\nHost: b\r\n', 'Content-Length: -1\r\n', 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', 'X: \u0000\r\n'])}\r\n`,
        ),
        kind: 'bad-request-line',
      };
    case 4:
      return {
        bytes: Buffer.from(
          `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${rng.pick(['zz\r\n', 'ffffffff\r\n{', '5\r\n{"q"\r\n', '-1\r\n'])}`,
        ),
        kind: 'bad-chunked',
      };
    case 5:
      return {
        bytes: Buffer.from(
          `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${rng.pick([100000, 10])}\r\n\r\n{"query":`,
        ),
        kind: 'short-body',
      };
    case 6:
      return {
        bytes: Buffer.from(`GET /graphql HTTP/1.1\r\nHost: x\r\n${'X-Junk: y\r\n'.repeat(rng.pick([10, 3000]))}\r\n`),
        kind: 'many-headers',
      };
    default:
      return {
        bytes: Buffer.from(
          `GET /ws/metrics HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: ${rng.pick(['permessage-deflate; client_max_window_bits=0', 'permessage-deflate; server_max_window_bits=99', 'x'.repeat(5000), 'permessage-deflate, permessage-deflate'])}\r\n\r\n`,
        ),
        kind: 'bad-extensions',
      };
  }
}

import { GraphQLError, parse, validate, buildSchema, type GraphQLFormattedError } from 'graphql';
import { describe, expect, test } from 'vitest';
import {
  asRealtimeError,
  ERROR_CODES,
  MASKED_MESSAGE,
  RealtimeError,
  toClientError,
  truncateReason,
  type ErrorCode,
} from '../../src/errors.ts';
import { CLOSE_CODES, FATAL_CLOSE_CODES } from '../../src/protocol/close-codes.ts';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const INTERNAL_CODES: ErrorCode[] = ['INTERNAL', 'CONFIG_INVALID'];
const bytes = (text: string) => Buffer.byteLength(text);

/** Close codes a server may send (RFC 6455 §7.4): registered ones except the reserved 1004–1006 and 1015, or 3000–4999. */
const sendable = (code: number) => (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);

/** `extensions.http` anywhere in a formatted error. */
const hasHttp = (error: GraphQLFormattedError) => error.extensions !== undefined && 'http' in error.extensions;

describe('the error map', () => {
  test.each(CODES)('%s has an HTTP status and a sendable close code', (code) => {
    const error = new RealtimeError(code, 'x');
    expect(Number.isInteger(error.httpStatus)).toBe(true);
    expect(error.httpStatus).toBeGreaterThanOrEqual(200);
    expect(error.httpStatus).toBeLessThan(600);
    expect(sendable(error.closeCode), `${code} → ${error.closeCode}`).toBe(true);
    expect(error.toClose().code).toBe(error.closeCode);
    expect(error.toHttp(false).status).toBe(error.httpStatus);
  });

  test('the decided statuses and close codes (one cause, one code on every transport)', () => {
    const decided: Partial<Record<ErrorCode, [number, number]>> = {
      AUTH_REQUIRED: [401, 4401],
      TOKEN_EXPIRED: [401, 4440],
      FORBIDDEN: [403, 4403],
      RATE_LIMITED: [429, 1013],
      TOO_MANY_OPERATIONS: [429, 1013],
      TOO_MANY_CONNECTIONS: [503, 1013],
      AUTH_UNAVAILABLE: [503, 1013],
      SLOW_CONSUMER: [503, 4008],
      SHUTTING_DOWN: [503, 1001],
      BAD_REQUEST: [400, 4400],
      NOT_FOUND: [404, 4404],
      METHOD_NOT_ALLOWED: [405, 4400],
      NOT_ACCEPTABLE: [406, 4400],
      PAYLOAD_TOO_LARGE: [413, 1009],
      INTERNAL: [500, 1011],
    };
    for (const [code, [http, close]] of Object.entries(decided)) {
      expect([ERROR_CODES[code as ErrorCode].http, ERROR_CODES[code as ErrorCode].close], code).toEqual([http, close]);
    }
  });

  test('retrying cannot fix a fatal close; slow consumer, drain, expiry and try-again-later are retried', () => {
    for (const code of ['BAD_REQUEST', 'AUTH_REQUIRED', 'FORBIDDEN'] as const)
      expect(FATAL_CLOSE_CODES.has(ERROR_CODES[code].close), code).toBe(true);
    for (const code of ['SLOW_CONSUMER', 'SHUTTING_DOWN', 'TOKEN_EXPIRED', 'RATE_LIMITED', 'TOO_MANY_CONNECTIONS', 'INTERNAL'] as const) {
      expect(FATAL_CLOSE_CODES.has(ERROR_CODES[code].close), code).toBe(false);
    }
    expect(CLOSE_CODES.TRY_AGAIN_LATER).toBe(1013);
    expect(new Set(Object.values(CLOSE_CODES)).size).toBe(Object.keys(CLOSE_CODES).length);
  });
});

describe('toClose', () => {
  test('keeps a short reason as it is', () => {
    expect(new RealtimeError('SLOW_CONSUMER', 'slow consumer').toClose()).toEqual({ code: 4008, reason: 'slow consumer' });
  });

  test.each([
    ['ASCII', 'x'.repeat(500)],
    ['two-byte characters', 'é'.repeat(200)],
    ['three-byte characters', '€'.repeat(200)],
    ['four-byte characters', '😀'.repeat(100)],
    ['exactly 124 bytes', 'y'.repeat(124)],
  ])('cuts a long reason (%s) to at most 123 bytes of valid UTF-8', (_, message) => {
    const { reason } = new RealtimeError('BAD_REQUEST', message).toClose();
    expect(bytes(reason)).toBeLessThanOrEqual(123);
    expect(reason.endsWith('…')).toBe(true);
    // No broken surrogate pair or replacement character.
    expect(Buffer.from(reason).toString('utf8')).toBe(reason);
    expect(reason).not.toContain('\uFFFD');
    expect(message.startsWith(reason.slice(0, -1))).toBe(true);
  });

  test('123 bytes exactly is not cut', () => {
    expect(truncateReason('z'.repeat(123))).toBe('z'.repeat(123));
  });
});

describe('toHttp', () => {
  test('one JSON body shape with the code and the details in extensions', () => {
    const { status, headers, body } = new RealtimeError('BAD_REQUEST', 'filter.from[0]: bad', { argument: 'filter.from[0]' }).toHttp(true);
    expect(status).toBe(400);
    expect(headers['content-type']).toBe('application/json; charset=utf-8');
    expect(headers['cache-control']).toBe('no-store');
    expect(JSON.parse(body)).toEqual({
      errors: [{ message: 'filter.from[0]: bad', extensions: { code: 'BAD_REQUEST', argument: 'filter.from[0]' } }],
    });
  });

  test.each([
    ['RATE_LIMITED', '1'],
    ['TOO_MANY_CONNECTIONS', '5'],
    ['AUTH_UNAVAILABLE', '5'],
    ['UNAVAILABLE', '1'],
    ['SHUTTING_DOWN', '1'],
  ] as const)('%s tells the client when to retry (retry-after: %s)', (code, seconds) => {
    expect(new RealtimeError(code, 'later').toHttp(true).headers['retry-after']).toBe(seconds);
  });

  test('no retry-after on answers a retry cannot fix', () => {
    for (const code of ['BAD_REQUEST', 'FORBIDDEN', 'NOT_FOUND', 'INTERNAL'] as const) {
      expect(new RealtimeError(code, 'no').toHttp(true).headers['retry-after'], code).toBeUndefined();
    }
  });

  test('401s carry a Bearer challenge whose description cannot break out of its quotes', () => {
    for (const code of ['AUTH_REQUIRED', 'TOKEN_EXPIRED'] as const) {
      const { headers } = new RealtimeError(code, 'token "abc" expired').toHttp(true);
      expect(headers['www-authenticate']).toBe(
        `Bearer realm="aurigraph-realtime", error="invalid_token", error_description="token 'abc' expired"`,
      );
    }
    expect(new RealtimeError('FORBIDDEN', 'no').toHttp(true).headers['www-authenticate']).toBeUndefined();
  });

  test('405 carries Allow from its details', () => {
    const { status, headers } = new RealtimeError('METHOD_NOT_ALLOWED', 'use GET', { allow: 'GET, HEAD' }).toHttp(true);
    expect(status).toBe(405);
    expect(headers['allow']).toBe('GET, HEAD');
  });

  test.each(INTERNAL_CODES)('%s is masked in production (no message, no details), shown in development', (code) => {
    const error = new RealtimeError(code, 'database password is hunter2', { host: 'db.internal' });
    expect(JSON.parse(error.toHttp(true).body)).toEqual({ errors: [{ message: MASKED_MESSAGE, extensions: { code } }] });
    expect(JSON.parse(error.toHttp(false).body)).toEqual({
      errors: [{ message: 'database password is hunter2', extensions: { code, host: 'db.internal' } }],
    });
  });
});

describe('toClientError', () => {
  const production = { production: true };
  const development = { production: false };

  test('a RealtimeError renders itself', () => {
    const error = new RealtimeError('FORBIDDEN', 'missing scope stream:transactions', { scope: 'stream:transactions' });
    expect(toClientError(error, production)).toEqual({
      message: 'missing scope stream:transactions',
      extensions: { code: 'FORBIDDEN', scope: 'stream:transactions' },
    });
  });

  test('a GraphQLError wrapping a RealtimeError (a resolver threw it) keeps its code, message, locations and path', () => {
    const original = new RealtimeError('BAD_REQUEST', 'filter.status[0]: bad', { argument: 'filter.status[0]' });
    const wrapped = new GraphQLError(original.message, { originalError: original, path: ['transactions'] });
    for (const options of [production, development]) {
      expect(toClientError(wrapped, options)).toEqual({
        message: 'filter.status[0]: bad',
        path: ['transactions'],
        extensions: { code: 'BAD_REQUEST', argument: 'filter.status[0]' },
      });
    }
  });

  test('GraphQL client mistakes keep their message and get the fallback code, in production too', () => {
    const schema = buildSchema('type Query { hello: String }');
    const [mistake] = validate(schema, parse('{ nope }'));
    expect(mistake).toBeInstanceOf(GraphQLError);
    for (const options of [production, development]) {
      const formatted = toClientError(mistake, { ...options, fallbackCode: 'GRAPHQL_VALIDATION_FAILED' });
      expect(formatted.message).toBe(mistake?.message);
      expect(formatted.message).toMatch(/nope/);
      expect(formatted.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
      expect(formatted.locations).toEqual([{ line: 1, column: 3 }]);
    }
  });

  test('a client mistake that already has a code keeps it', () => {
    const error = new GraphQLError('Variable "$n" got invalid value', { extensions: { code: 'BAD_USER_INPUT' } });
    expect(toClientError(error, { production: true, fallbackCode: 'GRAPHQL_VALIDATION_FAILED' })).toEqual({
      message: 'Variable "$n" got invalid value',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  test('an uncoded GraphQLError outside a client-mistake phase is masked in production only', () => {
    const error = new GraphQLError('something odd');
    expect(toClientError(error, production)).toEqual({ message: MASKED_MESSAGE, extensions: { code: 'INTERNAL' } });
    expect(toClientError(error, development)).toEqual({ message: 'something odd', extensions: { code: 'INTERNAL' } });
  });

  test('an internal error inside a GraphQLError (a resolver crashed) is masked in production only, even when it claims a code', () => {
    const crash = new GraphQLError('Cannot read properties of undefined', {
      originalError: new TypeError('Cannot read properties of undefined'),
      path: ['transactions', 'value'],
      extensions: { code: 'BAD_REQUEST' },
    });
    expect(toClientError(crash, production)).toEqual({
      message: MASKED_MESSAGE,
      path: ['transactions', 'value'],
      extensions: { code: 'INTERNAL' },
    });
    expect(toClientError(crash, development)).toEqual({
      message: 'Cannot read properties of undefined',
      path: ['transactions', 'value'],
      extensions: { code: 'INTERNAL' },
    });
  });

  test('anything else thrown is INTERNAL, masked in production only', () => {
    for (const thrown of [new Error('disk full'), 'disk full', { disk: 'full' }]) {
      expect(toClientError(thrown, production)).toEqual({ message: MASKED_MESSAGE, extensions: { code: 'INTERNAL' } });
      expect(toClientError(thrown, development).extensions).toEqual({ code: 'INTERNAL' });
    }
    expect(toClientError(new Error('disk full'), development).message).toBe('disk full');
    expect(asRealtimeError('x')).toMatchObject({ code: 'INTERNAL', message: 'x' });
    const own = new RealtimeError('NOT_FOUND', 'gone');
    expect(asRealtimeError(own)).toBe(own);
  });

  test('yoga’s `extensions.http` never reaches a client, in any branch', () => {
    const http = { status: 400, headers: { 'x-internal': '1' } };
    const cases: [unknown, { production: boolean; fallbackCode?: ErrorCode }][] = [
      [
        new GraphQLError('Syntax Error: Unexpected Name', { extensions: { http } }),
        { production: true, fallbackCode: 'GRAPHQL_PARSE_FAILED' },
      ],
      [new GraphQLError('Syntax Error: Unexpected Name', { extensions: { http } }), { production: false }],
      [new GraphQLError('coded', { extensions: { http, code: 'BAD_USER_INPUT' } }), { production: true }],
      [new GraphQLError('uncoded', { extensions: { http } }), { production: true }],
      [new GraphQLError('crash', { extensions: { http }, originalError: new Error('crash') }), { production: false }],
      [new GraphQLError('wrapped', { extensions: { http }, originalError: new RealtimeError('FORBIDDEN', 'no') }), { production: true }],
    ];
    for (const [error, options] of cases) {
      const formatted = toClientError(error, options);
      expect(hasHttp(formatted), JSON.stringify(formatted)).toBe(false);
      expect(typeof formatted.extensions?.['code']).toBe('string');
    }
    // Other extensions of a client mistake survive.
    const kept = toClientError(new GraphQLError('m', { extensions: { http, code: 'BAD_USER_INPUT', argument: 'n' } }), production);
    expect(kept.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'n' });
  });
});

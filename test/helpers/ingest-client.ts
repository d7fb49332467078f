import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { ConsensusEvent, EventOf, NetworkEvent, StreamName, TransactionEvent, ValidatorEvent } from './contract.ts';
import type { ServerUrls } from './server.ts';

/**
 * What a chain node does: POST events to `/api/v11/ingest/<stream>`, and the
 * valid events it would send. Events are deterministic per (tag, index), so a
 * test can predict every txHash it will see and resend an exact duplicate.
 */

export const TEST_INGEST_TOKEN = 'ingest-token-for-tests-0123456789';

const hex = (input: string, length: number) => createHash('sha256').update(input).digest('hex').repeat(2).slice(0, length);

/** A valid transaction; `tag` keeps runs and tests apart, `index` orders events within one. */
export function makeTransaction(tag: string, index: number, overrides: Partial<TransactionEvent> = {}): TransactionEvent {
  return {
    timestamp: new Date().toISOString(),
    txHash: `0x${hex(`tx:${tag}:${index}`, 64)}`,
    from: `0x${hex(`from:${tag}:${index}`, 40)}`,
    to: `0x${hex(`to:${tag}:${index}`, 40)}`,
    value: `${BigInt(index) * 1_000_000_000_000_000_000n + 7n}`,
    status: 'SUCCESS',
    gasUsed: 21_000 + index,
    ...overrides,
  };
}

export function makeTransactions(tag: string, from: number, count: number): TransactionEvent[] {
  return Array.from({ length: count }, (_, i) => makeTransaction(tag, from + i));
}

export function makeValidator(tag: string, index: number): ValidatorEvent {
  return {
    timestamp: new Date(Date.now() + index).toISOString(),
    validator: `0x${hex(`validator:${tag}:${index}`, 40)}`,
    status: 'ACTIVE',
    votingPower: 1000 + index,
    uptime: 99.5,
    lastBlockProposed: 100 + index,
  };
}

export function makeConsensus(tag: string, index: number): ConsensusEvent {
  return {
    timestamp: new Date().toISOString(),
    leader: `0x${hex(`leader:${tag}`, 40)}`,
    epoch: 7,
    round: index,
    term: 3,
    state: 'COMMITTED',
    performanceScore: 0.97,
    activeValidators: 21,
  };
}

export function makeNetwork(tag: string, index: number): NetworkEvent {
  return {
    timestamp: new Date(Date.now() + index).toISOString(),
    peerId: `peer-${tag}-${index}`,
    ip: `10.0.${index % 250}.${(index * 7) % 250}`,
    connected: index % 2 === 0,
    latency: 12.5,
    version: '1.4.2',
  };
}

export type BlockEvent = EventOf<'blocks'>;

/** A valid committed block at `height`, whose parent is the block `tag` would have at `height - 1`. */
export function makeBlock(tag: string, height: number, overrides: Partial<BlockEvent> = {}): BlockEvent {
  return {
    timestamp: new Date().toISOString(),
    height,
    hash: `0x${hex(`block:${tag}:${height}`, 64)}`,
    parentHash: `0x${hex(`block:${tag}:${height - 1}`, 64)}`,
    proposer: `0x${hex(`proposer:${tag}`, 40)}`,
    txCount: 0,
    gasUsed: 0,
    state: 'COMMITTED',
    ...overrides,
  };
}

export interface IngestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined. */
  json: unknown;
}

export interface IngestOptions {
  /** `null` sends no Authorization header; default the test token. */
  token?: string | null;
  /** Sent as is in Authorization when given (overrides `token`). */
  authorization?: string;
  contentType?: string;
  method?: string;
  /** Send the body chunked, without Content-Length (the server must count while reading). */
  chunked?: boolean;
}

/**
 * One ingest request over node:http. `body` is sent as is when a string or
 * Buffer, else as JSON. Write errors after the server answered (it may close
 * early on an oversized body) do not hide the answer.
 */
export function postIngest(
  server: ServerUrls,
  stream: StreamName | string,
  body: unknown,
  options: IngestOptions = {},
): Promise<IngestResponse> {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const token = options.token === undefined ? TEST_INGEST_TOKEN : options.token;
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  if (options.authorization !== undefined) headers['authorization'] = options.authorization;
  else if (token !== null) headers['authorization'] = `Bearer ${token}`;
  if (!options.chunked) headers['content-length'] = String(payload.length);
  const method = options.method ?? 'POST';
  return new Promise((resolve, reject) => {
    const req = httpRequest(server.http(`/api/v11/ingest/${stream}`), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => {}); // a reset after the full answer is not a failure of the answer
      const finish = () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      };
      res.on('end', finish);
      res.on('close', finish);
    });
    let answered = false;
    req.on('response', () => {
      answered = true;
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    if (method === 'GET' || method === 'HEAD') {
      req.end();
      return;
    }
    if (options.chunked) {
      // Several writes, so the server sees a stream it must stop reading past the limit.
      const step = 16 * 1024;
      for (let offset = 0; offset < payload.length; offset += step) req.write(payload.subarray(offset, offset + step));
      req.end();
    } else {
      req.end(payload);
    }
  });
}

/** NDJSON body: one JSON value per line. */
export function ndjson(items: readonly unknown[]): string {
  return items.map((item) => JSON.stringify(item)).join('\n') + '\n';
}

/** POSTs and insists on 200, returning `{accepted, duplicates}`. */
export async function ingestOk(
  server: ServerUrls,
  stream: StreamName,
  body: unknown,
  options: IngestOptions = {},
): Promise<{ accepted: number; duplicates: number }> {
  const response = await postIngest(server, stream, body, options);
  if (response.status !== 200) throw new Error(`ingest answered ${response.status}: ${response.text}`);
  return response.json as { accepted: number; duplicates: number };
}

/** The one HTTP error body (`{"errors":[{"message","extensions":{"code",…}}]}`), checked for its shape. */
export interface IngestError {
  message: string;
  code: string;
  extensions: Record<string, unknown>;
}

/**
 * The single error of an error answer, or a thrown Error naming what is wrong
 * with the body: every refusal uses the one JSON error shape of the server.
 */
export function errorOf(response: IngestResponse): IngestError {
  const body = response.json as { errors?: unknown } | undefined;
  const errors = body?.errors;
  if (!Array.isArray(errors) || errors.length !== 1) {
    throw new Error(`expected {"errors":[one error]} from a ${response.status}, got: ${response.text.slice(0, 500)}`);
  }
  const error = errors[0] as { message?: unknown; extensions?: { code?: unknown } & Record<string, unknown> };
  if (typeof error.message !== 'string' || typeof error.extensions?.code !== 'string') {
    throw new Error(`error without message or extensions.code: ${response.text.slice(0, 500)}`);
  }
  return { message: error.message, code: error.extensions.code, extensions: error.extensions };
}

/** The `problems` an ingest 400 lists (in `extensions.problems` of the one error). */
export function problemsOf(response: IngestResponse): { index: number; field: string; reason: string }[] {
  const error = errorOf(response);
  if (error.code !== 'BAD_REQUEST') throw new Error(`expected BAD_REQUEST, got ${error.code}: ${error.message}`);
  const problems = error.extensions['problems'];
  if (!Array.isArray(problems)) throw new Error(`BAD_REQUEST without extensions.problems: ${response.text.slice(0, 500)}`);
  return problems as { index: number; field: string; reason: string }[];
}

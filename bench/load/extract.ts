/**
 * Cheap extraction of `"timestamp":"…"` and `"seq":N` from a frame without
 * JSON.parse: the load generator reads 50k frames/s on one core, and these two
 * fields are all it needs per frame (a sample of frames is fully parsed for
 * validation). A batch frame (a legacy JSON array, a GraphQL batch result)
 * holds many events: `extractEachFromBuffer`/`extractEachFromString` walk
 * them all, pairing the n-th `timestamp` with the n-th `seq`.
 */
const TS_KEY = Buffer.from('"timestamp":"', 'latin1');
const SEQ_KEY = Buffer.from('"seq":', 'latin1');
const TS_KEY_S = '"timestamp":"';
const SEQ_KEY_S = '"seq":';
const TS_LEN = 24; // 2025-10-25T09:35:00.123Z

export interface Extracted {
  tsMs: number;
  /** -1 when the frame carries no seq. */
  seq: number;
}

const d = (c: number) => c - 48;

/** Parses YYYY-MM-DDTHH:MM:SS.mmmZ from char codes; NaN if it is anything else. */
function isoToMs(at: (i: number) => number): number {
  if (at(4) !== 45 || at(10) !== 84 || at(19) !== 46 || at(23) !== 90) return Number.NaN;
  const y = d(at(0)) * 1000 + d(at(1)) * 100 + d(at(2)) * 10 + d(at(3));
  const mo = d(at(5)) * 10 + d(at(6));
  const da = d(at(8)) * 10 + d(at(9));
  const h = d(at(11)) * 10 + d(at(12));
  const mi = d(at(14)) * 10 + d(at(15));
  const s = d(at(17)) * 10 + d(at(18));
  const ms = d(at(20)) * 100 + d(at(21)) * 10 + d(at(22));
  return Date.UTC(y, mo - 1, da, h, mi, s, ms);
}

// A burst delivers the same event to every client: remember the last timestamp parsed.
let lastTs: Buffer = Buffer.alloc(TS_LEN);
let lastTsMs = Number.NaN;
let lastTsS = '';
let lastTsSMs = Number.NaN;

export function extractFromBuffer(buf: Buffer): Extracted | null {
  const i = buf.indexOf(TS_KEY);
  if (i < 0) return null;
  const tsMs = timestampAt(buf, i + TS_KEY.length);
  if (Number.isNaN(tsMs)) return null;
  const j = buf.indexOf(SEQ_KEY);
  return { tsMs, seq: j < 0 ? -1 : seqAt(buf, j + SEQ_KEY.length) };
}

/**
 * Every event in a frame, in order: calls `each` with the timestamp (ms) and
 * seq (-1 without one) of each `"timestamp":"…"` found. Returns how many.
 */
export function extractEachFromBuffer(buf: Buffer, each: (tsMs: number, seq: number) => void): number {
  let count = 0;
  let i = buf.indexOf(TS_KEY);
  let j = buf.indexOf(SEQ_KEY);
  for (let guard = 0; i >= 0 && guard < 1_000_000; guard++) {
    const tsMs = timestampAt(buf, i + TS_KEY.length);
    const seq = j < 0 ? -1 : seqAt(buf, j + SEQ_KEY.length);
    if (!Number.isNaN(tsMs)) {
      each(tsMs, seq);
      count++;
    }
    i = buf.indexOf(TS_KEY, i + TS_KEY.length);
    if (j >= 0) j = buf.indexOf(SEQ_KEY, j + SEQ_KEY.length);
  }
  return count;
}

/** The digits at `k` as a number; -1 when there are none. */
function seqAt(buf: Buffer, k: number): number {
  let n = 0;
  let digits = 0;
  for (; k < buf.length; k++) {
    const c = buf[k] as number;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
    digits++;
  }
  return digits > 0 ? n : -1;
}

/** The ISO timestamp starting at `start` (right after its opening quote), in ms; NaN if there is none. */
function timestampAt(buf: Buffer, start: number): number {
  if (start + TS_LEN > buf.length) return Number.NaN;
  let tsMs: number;
  if (buf.compare(lastTs, 0, TS_LEN, start, start + TS_LEN) === 0) tsMs = lastTsMs;
  else {
    tsMs = isoToMs((k) => buf[start + k] as number);
    if (Number.isNaN(tsMs)) {
      const end = buf.indexOf(34, start); // closing quote
      tsMs = Date.parse(buf.toString('latin1', start, end < 0 ? buf.length : end));
    } else {
      lastTs = Buffer.from(buf.subarray(start, start + TS_LEN));
      lastTsMs = tsMs;
    }
  }
  return tsMs;
}

/** The same for a string block (an SSE event); `from` is where to start looking. */
export function extractFromString(text: string, from = 0): Extracted | null {
  const i = text.indexOf(TS_KEY_S, from);
  if (i < 0) return null;
  const tsMs = timestampAtS(text, i + TS_KEY_S.length);
  if (Number.isNaN(tsMs)) return null;
  const j = text.indexOf(SEQ_KEY_S, from);
  return { tsMs, seq: j < 0 ? -1 : seqAtS(text, j + SEQ_KEY_S.length) };
}

/** extractEachFromBuffer for a string block (an SSE event). */
export function extractEachFromString(text: string, each: (tsMs: number, seq: number) => void): number {
  let count = 0;
  let i = text.indexOf(TS_KEY_S);
  let j = text.indexOf(SEQ_KEY_S);
  for (let guard = 0; i >= 0 && guard < 1_000_000; guard++) {
    const tsMs = timestampAtS(text, i + TS_KEY_S.length);
    const seq = j < 0 ? -1 : seqAtS(text, j + SEQ_KEY_S.length);
    if (!Number.isNaN(tsMs)) {
      each(tsMs, seq);
      count++;
    }
    i = text.indexOf(TS_KEY_S, i + TS_KEY_S.length);
    if (j >= 0) j = text.indexOf(SEQ_KEY_S, j + SEQ_KEY_S.length);
  }
  return count;
}

function seqAtS(text: string, k: number): number {
  let n = 0;
  let digits = 0;
  for (; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
    digits++;
  }
  return digits > 0 ? n : -1;
}

function timestampAtS(text: string, start: number): number {
  if (start + TS_LEN > text.length) return Number.NaN;
  const ts = text.slice(start, start + TS_LEN);
  let tsMs: number;
  if (ts === lastTsS) tsMs = lastTsSMs;
  else {
    tsMs = isoToMs((k) => ts.charCodeAt(k));
    if (Number.isNaN(tsMs)) {
      const end = text.indexOf('"', start);
      tsMs = Date.parse(text.slice(start, end < 0 ? text.length : end));
    } else {
      lastTsS = ts;
      lastTsSMs = tsMs;
    }
  }
  return tsMs;
}

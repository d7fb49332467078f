/**
 * Cheap extraction of `"timestamp":"…"` and `"seq":N` from a frame without
 * JSON.parse: the load generator reads 50k frames/s on one core, and these two
 * fields are all it needs per frame (a sample of frames is fully parsed for
 * validation).
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
  const start = i + TS_KEY.length;
  if (start + TS_LEN > buf.length) return null;
  let tsMs: number;
  if (buf.compare(lastTs, 0, TS_LEN, start, start + TS_LEN) === 0) tsMs = lastTsMs;
  else {
    tsMs = isoToMs((k) => buf[start + k] as number);
    if (Number.isNaN(tsMs)) {
      const end = buf.indexOf(34, start); // closing quote
      tsMs = Date.parse(buf.toString('latin1', start, end < 0 ? buf.length : end));
      if (Number.isNaN(tsMs)) return null;
    } else {
      lastTs = Buffer.from(buf.subarray(start, start + TS_LEN));
      lastTsMs = tsMs;
    }
  }
  let seq = -1;
  const j = buf.indexOf(SEQ_KEY);
  if (j >= 0) {
    let k = j + SEQ_KEY.length;
    let n = 0;
    let digits = 0;
    for (; k < buf.length; k++) {
      const c = buf[k] as number;
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      digits++;
    }
    if (digits > 0) seq = n;
  }
  return { tsMs, seq };
}

/** The same for a string block (an SSE event); `from` is where to start looking. */
export function extractFromString(text: string, from = 0): Extracted | null {
  const i = text.indexOf(TS_KEY_S, from);
  if (i < 0) return null;
  const start = i + TS_KEY_S.length;
  if (start + TS_LEN > text.length) return null;
  const ts = text.slice(start, start + TS_LEN);
  let tsMs: number;
  if (ts === lastTsS) tsMs = lastTsSMs;
  else {
    tsMs = isoToMs((k) => ts.charCodeAt(k));
    if (Number.isNaN(tsMs)) {
      const end = text.indexOf('"', start);
      tsMs = Date.parse(text.slice(start, end < 0 ? text.length : end));
      if (Number.isNaN(tsMs)) return null;
    } else {
      lastTsS = ts;
      lastTsSMs = tsMs;
    }
  }
  let seq = -1;
  const j = text.indexOf(SEQ_KEY_S, from);
  if (j >= 0) {
    let k = j + SEQ_KEY_S.length;
    let n = 0;
    let digits = 0;
    for (; k < text.length; k++) {
      const c = text.charCodeAt(k);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      digits++;
    }
    if (digits > 0) seq = n;
  }
  return { tsMs, seq };
}

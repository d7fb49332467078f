import { randomBytes } from 'node:crypto';

/**
 * How a stream's shared history lives in Redis, and how an instance notices
 * that Redis lost or rewound it.
 *
 * Per stream, Redis holds three keys: `<prefix>:history:<stream>` (a hash: the
 * history's `id`, its generation `gen`, and `prev`, the ids it replaced), the
 * counter `<prefix>:seq:<stream>` (INCR hands out `seq`), and the Redis stream
 * `<prefix>:events:<stream>` whose entry ids are `<seq>-0`. Every entry carries
 * its history id (`h`) and a token unique to that one append (`k`).
 *
 * An instance remembers, per stream, what it has seen: the history id and
 * generation, and the newest entry it read (seq and token). Redis can lose what
 * it acknowledged in several ways — restarted empty, `FLUSHALL`, a key deleted
 * or expired, restored from an older snapshot, failed over to a replica that
 * lagged — and the history id alone does not reveal the last two (a snapshot
 * keeps it). So one script compares Redis with what the caller has seen:
 *
 * - no history hash: lost (restart without persistence, FLUSHALL, deleted);
 * - the counter behind the newest entry: the counter was deleted or rewound;
 * - same id, counter below the newest seq the caller saw: rewound (snapshot, lagging replica);
 * - same id, the entry at the caller's newest seq has another token: rewound and
 *   then continued by an instance that knew no better (a fork);
 * - another id of the same or an older generation: rewound to an older history.
 *
 * Any of these, atomically inside the script, starts a NEW history: a new id,
 * a higher generation, the counter at 0, the old entries deleted (their
 * numbers would collide), and `prev` naming the histories it replaces, so a
 * cursor from one of them is recognised later on any instance. A newer
 * generation than the caller knows is another instance's reset: the caller
 * adopts it. Every instance runs the check before each read and inside each
 * publish, so a regression is caught by the first instance that touches the
 * stream, and the publish that finds it lands in the new history.
 */

/** What an instance has seen of one stream's history in Redis. */
export interface SeenHistory {
  /** The history id ('' before this instance learned any). */
  id: string;
  gen: number;
  /** The newest entry read: its seq (0: none) and append token ('' unknown). */
  seq: number;
  token: string;
}

export const NOTHING_SEEN: SeenHistory = { id: '', gen: 0, seq: 0, token: '' };

/** What Redis holds for a stream after the check. */
export interface HistoryInfo {
  id: string;
  gen: number;
  /** Ids of the histories this one replaced, newest first. */
  replaced: string[];
  /** Why the script started this history just now ('' when it did not). */
  started: '' | 'missing' | 'counter-behind-stream' | 'rewound' | 'forked' | 'older';
}

/** Predecessors kept in `prev`: enough for clients that come back after a few resets. */
const MAX_REPLACED = 8;

/**
 * `check(...)`: KEYS[1] history hash, KEYS[2] counter, KEYS[3] events; ARGV[1..5]
 * seen id, seen gen, seen seq (decimal text), seen token, candidate id for a new
 * history. Returns {id, gen, prev, started}.
 */
const CHECK_FUNCTION = `
local function check(seenId, seenGen, seenSeqText, seenToken, candidate)
  local stored = redis.call('HMGET', KEYS[1], 'id', 'gen', 'prev')
  local id = stored[1]
  local gen = tonumber(stored[2]) or 0
  local prev = stored[3] or ''
  local seq = tonumber(redis.call('GET', KEYS[2])) or 0
  local seenSeq = tonumber(seenSeqText)
  local started = ''
  if not id then
    started = 'missing'
  else
    local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
    if top and tonumber(string.match(top[1], '^%d+')) > seq then
      started = 'counter-behind-stream'
    elseif id == seenId then
      if seq < seenSeq then
        started = 'rewound'
      elseif seenToken ~= '' and seenSeq > 0 then
        local at = redis.call('XRANGE', KEYS[3], seenSeqText .. '-0', seenSeqText .. '-0')[1]
        if at and at[2][2] ~= seenToken then started = 'forked' end
      end
    elseif gen <= seenGen then
      started = 'older'
    end
  end
  if started ~= '' then
    local replaced = {}
    local function remember(old)
      if old and old ~= '' and old ~= candidate and #replaced < ${MAX_REPLACED} then
        for _, known in ipairs(replaced) do if known == old then return end end
        table.insert(replaced, old)
      end
    end
    remember(id)
    remember(seenId)
    for old in string.gmatch(prev, '%S+') do remember(old) end
    prev = table.concat(replaced, ' ')
    gen = math.max(gen, seenGen) + 1
    id = candidate
    redis.call('DEL', KEYS[3])
    redis.call('SET', KEYS[2], 0)
    redis.call('HSET', KEYS[1], 'id', id, 'gen', gen, 'prev', prev)
  end
  return {id, gen, prev, started}
end
`;

/** Checks (and if need be restarts) the history; returns {id, gen, prev, started}. */
export const CHECK_SCRIPT = `${CHECK_FUNCTION}
return check(ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])
`;

/**
 * The check, then: drop a duplicate (SET NX on KEYS[4] for ARGV[8] ms; a window
 * of 0 means the event has no natural key and KEYS[4] is never touched — it is
 * still a real key name under the prefix, so an ACL limited to it admits it), take the next seq, append the event as `<seq>-0` with its history
 * id and append token, trim. One script, so instances publishing at once get
 * one global order without gaps, and no event lands in a history Redis rewound.
 * ARGV[6] event JSON, ARGV[7] MAXLEN, ARGV[8] dedup window ms, ARGV[9] token.
 * Returns {appended 1 | duplicate 0, seq, id, gen, prev, started}.
 */
export const PUBLISH_SCRIPT = `${CHECK_FUNCTION}
local h = check(ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])
if tonumber(ARGV[8]) > 0 then
  if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[8]) then return {0, 0, h[1], h[2], h[3], h[4]} end
end
local seq = redis.call('INCR', KEYS[2])
local now = redis.call('TIME')
local at = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], seq .. '-0', 'k', ARGV[9], 'h', h[1], 'e', ARGV[6], 't', at)
return {1, seq, h[1], h[2], h[3], h[4]}
`;

export interface HistoryKeys {
  history: string;
  counter: string;
  events: string;
}

export function historyKeys(prefix: string, stream: string): HistoryKeys {
  return { history: `${prefix}:history:${stream}`, counter: `${prefix}:seq:${stream}`, events: `${prefix}:events:${stream}` };
}

/** A new history id: hex, as cursors require (see streams/cursor.ts). */
export function newHistoryId(): string {
  return randomBytes(6).toString('hex');
}

/** The script arguments that describe what the caller has seen, plus a candidate id. */
export function checkArgs(seen: SeenHistory): string[] {
  return [seen.id, String(seen.gen), String(seen.seq), seen.token, newHistoryId()];
}

/** Reads the {id, gen, prev, started} part of a script reply, from `offset`. */
export function parseHistoryInfo(reply: unknown[], offset = 0): HistoryInfo {
  const prev = String(reply[offset + 2] ?? '');
  return {
    id: String(reply[offset]),
    gen: Number(reply[offset + 1]),
    replaced: prev.split(' ').filter(Boolean),
    started: String(reply[offset + 3] ?? '') as HistoryInfo['started'],
  };
}

/** Append tokens: unique per append across instances (an instance nonce and a counter), cheap to make. */
export function createTokens(): () => string {
  const nonce = randomBytes(5).toString('hex');
  let next = 0;
  return () => `${nonce}.${(next++).toString(36)}`;
}

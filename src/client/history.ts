/**
 * What the kit reads from a result to tell a repeat from a new event without
 * trusting sequence numbers alone: the history (epoch) a cursor belongs to, and
 * a fingerprint of the result. Browser-safe (no Buffer).
 */

/**
 * The history (epoch) a server cursor names, or undefined for anything else.
 * Cursors are opaque to applications; the kit knows their form (base64url of
 * `v1:<epoch>:<seq>`, see the server's streams/cursor.ts) only to notice that a
 * stream went on in another history, where sequence numbers start again.
 */
export function historyOf(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor.length > 128 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let text: string;
  try {
    const base64 = cursor.replaceAll('-', '+').replaceAll('_', '/');
    text = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  } catch {
    return undefined;
  }
  const match = /^v1:([0-9a-f]{1,32}):\d{1,16}$/.exec(text);
  return match?.[1];
}

/** A 32-bit FNV-1a hash of a result's data: equal for a repeat, different (but for 1 in 2^32) for another event. */
export function fingerprint(data: unknown): number {
  const text = JSON.stringify(data) ?? '';
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

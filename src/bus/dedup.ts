/**
 * Remembers keys for a window, so a redelivered event is dropped. Bounded: the
 * oldest keys go first when `maxKeys` is reached.
 */
export function createDedupWindow(options: { windowMs: number; maxKeys: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const seen = new Map<string, number>(); // key → expiry; Map keeps insertion order, oldest first
  return {
    /** True the first time a key is seen inside the window. */
    firstSeen(key: string): boolean {
      const at = now();
      for (const [oldest, expiry] of seen) {
        if (expiry > at && seen.size < options.maxKeys) break;
        seen.delete(oldest);
      }
      const expiry = seen.get(key);
      if (expiry !== undefined && expiry > at) return false;
      seen.delete(key);
      seen.set(key, at + options.windowMs);
      return true;
    },
    get size() {
      return seen.size;
    },
  };
}

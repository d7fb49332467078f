import { RealtimeError } from '../errors.ts';
import type { StartPosition } from './hub.ts';

/**
 * Checks where a subscriber asks to start: `after` (a cursor: resume) or
 * `replay` (the last N retained events), never both. Argument names are the
 * transport's own (`after`/`replay` in GraphQL, `since`/`replay` on legacy
 * paths), so errors name what the client wrote. Throws BAD_REQUEST.
 */
export function parseStartPosition(
  input: { after?: string | null | undefined; replay?: number | null | undefined; resumeFrom?: string | undefined },
  limits: { replayBufferSize: number },
  names: { after: string; replay: string } = { after: 'after', replay: 'replay' },
): StartPosition {
  const { replay } = input;
  if (replay !== null && replay !== undefined && (!Number.isInteger(replay) || replay < 0 || replay > limits.replayBufferSize)) {
    throw new RealtimeError('BAD_REQUEST', `${names.replay}: must be between 0 and ${limits.replayBufferSize}`, { argument: names.replay });
  }
  if (input.after !== null && input.after !== undefined && replay !== null && replay !== undefined) {
    throw new RealtimeError('BAD_REQUEST', `${names.after}: use either ${names.after} (resume) or ${names.replay} (last N), not both`, {
      argument: names.after,
    });
  }
  // A transport-level resume point (SSE's Last-Event-ID) counts as `after` when the operation gives none.
  const after = input.after ?? input.resumeFrom;
  return { after: after ?? undefined, replay: replay ?? undefined };
}

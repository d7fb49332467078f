/**
 * What the delivery engine hands an outlet: text, bytes, or bytes in parts.
 * A group renders an event once; a subscriber whose frame differs only around
 * it (graphql-ws splices its operation id) gets a SplicedFrame that shares the
 * rendered bytes instead of a copy of them.
 */
export type Frame = string | Buffer | SplicedFrame;

/** A frame assembled from parts, without joining them: a per-socket prefix, the shared payload, a per-socket suffix. */
export class SplicedFrame {
  readonly length: number;
  constructor(readonly parts: readonly Buffer[]) {
    let length = 0;
    for (const part of parts) length += part.length;
    this.length = length;
  }

  /** The parts as one Buffer (a copy): for the paths that cannot write parts, and for tests. */
  join(): Buffer {
    return Buffer.concat(this.parts as Buffer[], this.length);
  }
}

/** The frame as one string or Buffer, for outlets that write whole chunks (HTTP responses). */
export function wholeFrame(frame: Frame): string | Buffer {
  return frame instanceof SplicedFrame ? frame.join() : frame;
}

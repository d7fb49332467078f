/**
 * What the delivery engine hands an outlet: text, bytes, or bytes in parts.
 * A group renders an event once; a subscriber whose frame differs only around
 * it (graphql-ws splices its operation id) gets a SplicedFrame that shares the
 * rendered bytes instead of a copy of them.
 */
export type Frame = string | Buffer | SplicedFrame;

const NOTHING = Buffer.alloc(0);

/**
 * A frame in three parts, never joined on the fast path: this subscriber's own head (e.g. `{"id":"…","payload":`),
 * the bytes its group shares, and an optional tail. One object per delivery, no array.
 */
export class SplicedFrame {
  readonly length: number;
  constructor(
    readonly head: Buffer,
    readonly shared: Buffer,
    readonly tail: Buffer = NOTHING,
  ) {
    this.length = head.length + shared.length + tail.length;
  }

  /** The parts as one Buffer (a copy): for the paths that cannot write parts, and for tests. */
  join(): Buffer {
    return Buffer.concat([this.head, this.shared, this.tail], this.length);
  }
}

/** The frame as one string or Buffer, for outlets that write whole chunks (HTTP responses). */
export function wholeFrame(frame: Frame): string | Buffer {
  return frame instanceof SplicedFrame ? frame.join() : frame;
}

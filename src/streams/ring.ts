/**
 * A fixed-capacity ring of the newest entries, oldest first. Pushing past the
 * capacity overwrites the oldest; capacity 0 keeps nothing. No allocation per
 * push once full.
 */
export class Ring<T> {
  private readonly slots: (T | undefined)[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.slots = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(entry: T): void {
    if (this.capacity === 0) return;
    if (this.size < this.capacity) {
      this.slots[(this.start + this.size) % this.capacity] = entry;
      this.size++;
    } else {
      this.slots[this.start] = entry;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** The entry `index` places from the oldest (0) to the newest (length − 1). */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.size) return undefined;
    return this.slots[(this.start + index) % this.capacity];
  }

  newest(): T | undefined {
    return this.at(this.size - 1);
  }

  clear(): void {
    this.slots.fill(undefined);
    this.start = 0;
    this.size = 0;
  }

  /** Oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.size; i++) yield this.slots[(this.start + i) % this.capacity] as T;
  }
}

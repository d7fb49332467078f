/**
 * A fixed-bucket, log-linear histogram (HDR-style): exact below 128 units,
 * then 64 linear sub-buckets per power of two (≤ 1.6 % relative error).
 * Recording is an array increment, so the load generator can record every
 * message at 50k msgs/s without keeping samples. Values are non-negative
 * integers in whatever unit the caller picks (the bench uses microseconds).
 */
const LINEAR = 128;
const SUB = 64;
const MAX_SHIFT = 40; // 64 · 2^40 µs ≈ 2 years: nothing real overflows it
const BUCKETS = LINEAR + MAX_SHIFT * SUB;

export interface HistogramJSON {
  count: number;
  min: number;
  max: number;
  sum: number;
  /** Sparse [bucketIndex, count] pairs. */
  buckets: [number, number][];
}

function indexOf(value: number): number {
  if (value < LINEAR) return value;
  const msb = Math.floor(Math.log2(value));
  const shift = Math.min(MAX_SHIFT, msb - 6);
  const top = Math.min(2 * SUB - 1, Math.floor(value / 2 ** shift));
  return LINEAR + (shift - 1) * SUB + (top - SUB);
}

/** The value a bucket stands for: the middle of its range. */
function valueOf(index: number): number {
  if (index < LINEAR) return index;
  const shift = Math.floor((index - LINEAR) / SUB) + 1;
  const top = ((index - LINEAR) % SUB) + SUB;
  return (top + 0.5) * 2 ** shift;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  record(value: number): void {
    const v = value > 0 ? Math.round(value) : 0;
    this.counts[indexOf(v)]! += 1;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** p in [0, 100]. The bucket's representative value, clamped to the exact min/max. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    if (p >= 100) return this.max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, valueOf(i)));
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
    }
  }

  toJSON(): HistogramJSON {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!]);
    return { count: this.count, min: this.count ? this.min : 0, max: this.max, sum: this.sum, buckets };
  }

  static fromJSON(json: HistogramJSON): Histogram {
    const h = new Histogram();
    for (const [i, c] of json.buckets) if (i >= 0 && i < BUCKETS) h.counts[i] = c;
    h.count = json.count;
    h.min = json.count ? json.min : Number.POSITIVE_INFINITY;
    h.max = json.max;
    h.sum = json.sum;
    return h;
  }
}

/**
 * Latency per command id, as HDR-style log-linear histograms in one Float64Array: values below
 * 32 µs exactly, above that 16 buckets per power of two (at most 1/16 relative error). One
 * observation is a clz32, a shift and an increment, with no allocation and no label lookup;
 * that is why this is hand-written rather than a prom-client Histogram per command (its
 * observe hashes the labels each call) or an HDR library (its record does more than needed).
 * Workers send their non-empty rows to the primary, which adds them up (`merge`); the primary
 * renders `INFO latencystats` lines (Redis 7 format) and Prometheus histograms from the sums.
 */
const EXACT = 32; // values 0..31 µs get their own bucket
const SUB_BITS = 4; // 16 buckets per power of two above that
const SUB = 1 << SUB_BITS;
const MAX_EXP = 36; // 2^36 µs ≈ 19 hours: longer is clamped into the last bucket
export const BUCKETS = EXACT + (MAX_EXP - 5 + 1) * SUB;
const MAX_VALUE = 2 ** (MAX_EXP + 1) - 1;

/** Bucket of a value in µs (integer arithmetic only: this runs once per reply). */
export function bucketOf(us: number): number {
  if (!(us >= 1)) return 0;
  if (us < EXACT) return us | 0;
  if (us > MAX_VALUE) us = MAX_VALUE;
  if (us < 0x80000000) {
    const v = us | 0;
    const e = 31 - Math.clz32(v);
    return EXACT + (e - 5) * SUB + ((v >>> (e - SUB_BITS)) & (SUB - 1));
  }
  // Above 2^31 µs (35 minutes) the exponent comes from log2.
  const e = Math.floor(Math.log2(us));
  return EXACT + (e - 5) * SUB + (Math.floor(us / 2 ** (e - SUB_BITS)) & (SUB - 1));
}

/** Highest value (µs) that lands in bucket `b` (what a percentile reports, as HDR does). */
export function bucketHigh(b: number): number {
  if (b < EXACT) return b;
  const e = Math.floor((b - EXACT) / SUB) + 5;
  const sub = (b - EXACT) % SUB;
  return (SUB + sub + 1) * 2 ** (e - SUB_BITS) - 1;
}

/** One worker's (or the merged) histograms: row `id` is command id `id`. */
export class LatencyHistograms {
  readonly counts: Float64Array;
  readonly sums: Float64Array;
  readonly totals: Float64Array;

  constructor(readonly commands: number) {
    this.counts = new Float64Array(commands * BUCKETS);
    this.sums = new Float64Array(commands);
    this.totals = new Float64Array(commands);
  }

  record(id: number, us: number): void {
    this.counts[id * BUCKETS + bucketOf(us)]++;
    this.sums[id] += us;
    this.totals[id]++;
  }

  /** Non-empty rows as plain data (IPC): id → [sum, [bucket, count, bucket, count, ...]]. */
  snapshot(): HistogramSnapshot {
    const rows: HistogramSnapshot = {};
    for (let id = 0; id < this.commands; id++) {
      if (this.totals[id] === 0) continue;
      const pairs: number[] = [];
      const base = id * BUCKETS;
      for (let b = 0; b < BUCKETS; b++) if (this.counts[base + b] !== 0) pairs.push(b, this.counts[base + b]);
      rows[id] = [this.sums[id], pairs];
    }
    return rows;
  }

  merge(snapshot: HistogramSnapshot): void {
    for (const [key, [sum, pairs]] of Object.entries(snapshot)) {
      const id = Number(key);
      if (!(id >= 0 && id < this.commands)) continue;
      this.sums[id] += sum;
      for (let i = 0; i < pairs.length; i += 2) {
        this.counts[id * BUCKETS + pairs[i]] += pairs[i + 1];
        this.totals[id] += pairs[i + 1];
      }
    }
  }

  /** The value (µs, bucket high end) at percentile `p` (0-100) of command `id`. */
  percentile(id: number, p: number): number {
    const total = this.totals[id];
    if (total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p * total) / 100 - 1e-9));
    let seen = 0;
    const base = id * BUCKETS;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[base + b];
      if (seen >= rank) return bucketHigh(b);
    }
    return bucketHigh(BUCKETS - 1);
  }

  /** Count of observations of `id` at or below `us`, for Prometheus `le` buckets (by bucket high end). */
  countAtOrBelow(id: number, us: number): number {
    let n = 0;
    const base = id * BUCKETS;
    for (let b = 0; b < BUCKETS && bucketHigh(b) <= us; b++) n += this.counts[base + b];
    return n;
  }

  /** Redis 7 `INFO latencystats` lines: `latency_percentiles_usec_<cmd>:p50=..,p99=..,p99.9=..`. */
  infoLines(names: readonly string[]): string[] {
    const out: string[] = [];
    for (let id = 0; id < this.commands; id++) {
      if (this.totals[id] === 0) continue;
      const f = (p: number) => this.percentile(id, p).toFixed(3);
      out.push(`latency_percentiles_usec_${names[id]}:p50=${f(50)},p99=${f(99)},p99.9=${f(99.9)}`);
    }
    return out;
  }
}

export type HistogramSnapshot = Record<number, [number, number[]]>;

/** Prometheus `le` bounds (seconds) for kvstore_command_duration_seconds. */
export const PROMETHEUS_BOUNDS_US = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000];

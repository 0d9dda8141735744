/**
 * Hot-key detection by sampling: one key access in `1/sampleRate` (on average; the gap is
 * randomized so a periodic workload cannot alias with it) hands its key to a space-saving
 * sketch (Metwally et al.: at most `capacity` counters; a new key takes over a smallest
 * counter and inherits its count as its possible error, so any key with more than
 * total/capacity samples is kept). The smallest counter is looked for among 8 neighbours at a
 * cursor that sweeps the counters (O(1) per sample; a hot key's large count keeps it unless
 * all 8 are larger). Once a second the window's guaranteed counts (count minus
 * inherited error: with many keys of similar rates, the inherited part is most of every count)
 * become rates (samples / sampleRate / seconds), blended into an exponentially decaying rate
 * per key; keys at or above `hitsPerSec` are hot.
 * The per-command cost when not sampling is one subtraction and compare (`sampleAt`).
 */
export interface HotKey {
  key: string;
  /** Estimated hits per second (decayed). */
  hitsPerSec: number;
  /** Unix ms when it was last seen at or above the threshold. */
  lastHotAt: number;
}

const DECAY = 0.5; // weight of the previous rate at each 1 s window

/** Counters compared per takeover. */
const LOOK = 8;
/** Bytes of a sampled key kept for its name (longer keys are reported cut; told apart by hash). */
const KEY_BYTES = 1024;

/**
 * FNV-1a of buf[start, end), 30 bits (a small integer in V8: no allocation as a Map key). Two
 * keys with the same hash share a counter: with 256 counters live, rare enough for an estimate.
 */
function keyHash(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let p = start; p < end; p++) h = Math.imul(h ^ buf[p], 0x01000193);
  return h & 0x3fffffff;
}

export class HotKeys {
  private countdown: number;
  /**
   * The sketch allocates nothing per sample: key hash → counter index, and per counter its
   * key's bytes (a slab), hash, count and inherited error; key names are made once a second,
   * in `tick`. (A string per sampled key, held by the sketch until another key took its
   * counter, lived long enough under load to be promoted and collected by the major GC.)
   */
  private readonly byHash = new Map<number, number>();
  private keyBytes: Buffer | null = null;
  private readonly keyLengths: Int32Array;
  private readonly hashes: Int32Array;
  private readonly counts: Float64Array;
  /** The count a counter's key inherited when it took the counter over. */
  private readonly errors: Float64Array;
  /** Counters in use. */
  private used = 0;
  /** Where the next takeover looks (sweeps the counters). */
  private cursor = 0;
  private readonly rates = new Map<string, number>();
  private readonly hot = new Map<string, HotKey>();
  private windowStart: number;

  constructor(
    public sampleRate: number,
    public hitsPerSec: number,
    private readonly capacity = 256,
    now = Date.now(),
    private readonly random: () => number = Math.random,
    private readonly onHot: (key: HotKey) => void = () => undefined,
  ) {
    this.countdown = this.gap();
    this.windowStart = now;
    this.keyLengths = new Int32Array(capacity);
    this.hashes = new Int32Array(capacity);
    this.counts = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
  }

  /** Average gap 1/sampleRate, uniformly spread over [1, 2/sampleRate - 1]. */
  private gap(): number {
    if (this.sampleRate <= 0) return Number.MAX_SAFE_INTEGER;
    if (this.sampleRate >= 1) return 1;
    return 1 + Math.floor(this.random() * (2 / this.sampleRate - 1));
  }

  /**
   * Per keyed command with `keys` keys: the index of its key to sample, or -1 (most commands).
   * The countdown runs over keys, not commands, so an MGET of 10 keys hands over one key about
   * as often as ten GETs do, and a sampled command costs one key's string and map update, not
   * ten; the rate estimate (samples / sampleRate) is per key access either way.
   */
  sampleAt(keys: number): number {
    const left = this.countdown - keys;
    if (left > 0) {
      this.countdown = left;
      return -1;
    }
    const index = this.countdown - 1;
    this.countdown = this.gap();
    return index;
  }

  /** One key access: sampled or not. */
  shouldSample(): boolean {
    return this.sampleAt(1) >= 0;
  }

  /** A sampled key, by name (tests, callers without the bytes at hand). */
  sample(key: string): void {
    const bytes = Buffer.from(key, 'latin1');
    this.sampleBytes(bytes, 0, bytes.length);
  }

  /** A sampled key: buf[start, end) (a view into the read; copied only when it takes a counter). */
  sampleBytes(buf: Uint8Array, start: number, end: number): void {
    const hash = keyHash(buf, start, end);
    const at = this.byHash.get(hash);
    if (at !== undefined) {
      this.counts[at]++;
      return;
    }
    const n = this.used;
    let slot: number;
    if (n < this.capacity) {
      slot = this.used++;
      this.errors[slot] = 0;
      this.counts[slot] = 1;
    } else {
      // Space-saving: take over the smallest of LOOK counters at the cursor.
      const counts = this.counts;
      slot = this.cursor;
      for (let i = 1, j = (this.cursor + 1) % n; i < LOOK && counts[slot] > 1; i++, j = (j + 1) % n) if (counts[j] < counts[slot]) slot = j;
      this.cursor = (this.cursor + LOOK) % n;
      this.byHash.delete(this.hashes[slot]);
      this.errors[slot] = counts[slot];
      counts[slot]++;
    }
    this.byHash.set(hash, slot);
    this.hashes[slot] = hash;
    const length = Math.min(end - start, KEY_BYTES);
    this.keyLengths[slot] = length;
    const keys = (this.keyBytes ??= Buffer.allocUnsafeSlow(this.capacity * KEY_BYTES));
    const to = slot * KEY_BYTES;
    for (let i = 0; i < length; i++) keys[to + i] = buf[start + i];
  }

  private keyName(slot: number): string {
    const from = slot * KEY_BYTES;
    return this.keyBytes!.toString('latin1', from, from + this.keyLengths[slot]);
  }

  /** Close the window if a second has passed (called from a timer, not per command). */
  tick(now = Date.now()): void {
    const seconds = (now - this.windowStart) / 1000;
    if (seconds < 1 || this.sampleRate <= 0) return;
    this.windowStart = now;
    const scale = 1 / this.sampleRate / seconds;
    const next = new Map<string, number>();
    for (const [k, r] of this.rates) next.set(k, r * DECAY);
    for (let i = 0; i < this.used; i++) {
      const guaranteed = this.counts[i] - this.errors[i];
      if (guaranteed <= 0) continue;
      const k = this.keyName(i);
      next.set(k, (next.get(k) ?? 0) + guaranteed * scale * (1 - DECAY));
    }
    this.byHash.clear();
    this.used = 0;
    this.cursor = 0;
    this.rates.clear();
    // Keep the largest rates only (bounded memory); forget what decayed below 1 hit/s.
    const kept = [...next].filter(([, r]) => r >= 1).sort((a, b) => b[1] - a[1]).slice(0, this.capacity);
    for (const [k, r] of kept) {
      this.rates.set(k, r);
      if (r >= this.hitsPerSec) {
        const known = this.hot.get(k);
        const entry = { key: k, hitsPerSec: Math.round(r), lastHotAt: now };
        this.hot.set(k, entry);
        if (!known) this.onHot(entry);
      } else if (this.hot.has(k)) {
        this.hot.get(k)!.hitsPerSec = Math.round(r);
      }
    }
    // A key hot once stays listed for a minute after it cooled down.
    for (const [k, e] of this.hot) if (now - e.lastHotAt > 60_000) this.hot.delete(k);
  }

  /** Hot keys, hottest first. */
  list(): HotKey[] {
    return [...this.hot.values()].sort((a, b) => b.hitsPerSec - a.hitsPerSec);
  }

  reconfigure(sampleRate: number, hitsPerSec: number): void {
    this.sampleRate = sampleRate;
    this.hitsPerSec = hitsPerSec;
    this.countdown = this.gap();
  }
}

/** Hot keys of several workers: rates add up (each worker saw its own clients). */
export function mergeHotKeys(lists: readonly HotKey[][]): HotKey[] {
  const byKey = new Map<string, HotKey>();
  for (const list of lists) {
    for (const h of list) {
      const e = byKey.get(h.key);
      if (e) {
        e.hitsPerSec += h.hitsPerSec;
        e.lastHotAt = Math.max(e.lastHotAt, h.lastHotAt);
      } else byKey.set(h.key, { ...h });
    }
  }
  return [...byKey.values()].sort((a, b) => b.hitsPerSec - a.hitsPerSec);
}

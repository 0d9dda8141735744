/**
 * Hot-key detection by sampling: one key access in `1/sampleRate` (on average; the gap is
 * randomized so a periodic workload cannot alias with it) hands its key to a space-saving
 * sketch (Metwally et al.: at most `capacity` counters; a new key takes over the smallest
 * counter and inherits its count as its possible error, so any key with more than
 * total/capacity samples is kept). Once a second the window's guaranteed counts (count minus
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

export class HotKeys {
  private countdown: number;
  private readonly counts = new Map<string, number>();
  /** The count a key inherited when it took over a counter (absent: 0). */
  private readonly errors = new Map<string, number>();
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

  sample(key: string): void {
    const counts = this.counts;
    const c = counts.get(key);
    if (c !== undefined) {
      // Moved to the end: the Map's front then holds the keys seen least recently.
      counts.delete(key);
      counts.set(key, c + 1);
      return;
    }
    if (counts.size < this.capacity) {
      counts.set(key, 1);
      return;
    }
    // Space-saving takes over the smallest counter. Finding the exact minimum costs a scan of
    // every counter per new key; the smallest of the 8 least recently seen counters (where
    // one-off keys collect; a hot key is always near the end) keeps a sample O(1).
    let minKey = '';
    let min = Infinity;
    let looked = 0;
    for (const k of counts.keys()) {
      const v = counts.get(k)!;
      if (v < min) {
        min = v;
        minKey = k;
      }
      if (++looked === 8 || min === 1) break;
    }
    counts.delete(minKey);
    this.errors.delete(minKey);
    counts.set(key, min + 1);
    this.errors.set(key, min);
  }

  /** Close the window if a second has passed (called from a timer, not per command). */
  tick(now = Date.now()): void {
    const seconds = (now - this.windowStart) / 1000;
    if (seconds < 1 || this.sampleRate <= 0) return;
    this.windowStart = now;
    const scale = 1 / this.sampleRate / seconds;
    const next = new Map<string, number>();
    for (const [k, r] of this.rates) next.set(k, r * DECAY);
    for (const [k, c] of this.counts) {
      const guaranteed = c - (this.errors.get(k) ?? 0);
      next.set(k, (next.get(k) ?? 0) + guaranteed * scale * (1 - DECAY));
    }
    this.counts.clear();
    this.errors.clear();
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

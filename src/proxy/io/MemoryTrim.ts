/**
 * When a worker gives free native memory back to the kernel (trimNativeMemory, glibc's
 * malloc_trim). Why a policy: free() returns only the top of malloc's heap, so after a burst of
 * accepts and first commands the holes left between the long-lived per-stream state (output
 * buffers beyond the pool, the Buffer backing stores of dropped per-command state) stay resident
 * — measured at ~250-650 B per idle client (benchmarks/client-heap.ts --breakdown). A trim walks
 * malloc's free lists (≈0.1 ms when there is little to give back), so it is not done per client:
 * the worker's idle sweep (ProxyServer, once a second) reports how many clients went quiet or
 * closed; once enough have, one trim runs, and follow-ups 2, 4, 8, 16 and 32 passes later: much
 * of the memory is released only when V8 collects the dropped per-command state (Buffer backing
 * stores of SLOWLOG's request logs: ~300 B per client measured), and an idle worker allocates
 * nothing, so V8 would not collect at all. So once the worker has been quiet for
 * JS_COLLECT_AT passes after a burst (no new burst restarted the follow-ups), the trim also tells
 * V8 of memory pressure (incremental marking, then compaction and a shrunk young generation — the
 * burst grew it by up to ~16 MB), and the later follow-ups give back what that collection freed.
 * A worker with steady churn restarts the follow-ups every pass and is never asked (it allocates,
 * so V8 collects on its own); bursts in a row ask at most once per JS_COLLECT_MIN_PASSES.
 */

/** Clients gone quiet or closed since the last trim that make the next trim worth its walk. */
export const TRIM_AFTER_CLIENTS = 256;
/** Sweep passes after a trim at which it is repeated (for memory V8 frees at its later GCs). */
export const TRIM_FOLLOW_UPS: readonly number[] = [2, 4, 8, 16, 32];
/** The follow-up (passes after the burst's trim) that also asks V8 to collect. */
export const JS_COLLECT_AT = 2;
/** Passes at least between two requests to V8 to collect. */
export const JS_COLLECT_MIN_PASSES = 10;

export class MemoryTrim {
  private quieted = 0;
  /** Passes since the last trim that enough quiet clients caused (-1: no follow-up due). */
  private since = -1;
  /** Passes since V8 was last asked to collect. */
  private sinceCollect = JS_COLLECT_MIN_PASSES;

  /** `trim(collectJs)`: give free memory back; collectJs: have V8 collect as well. */
  constructor(private readonly trim: (collectJs: boolean) => unknown) {}

  /** `n` clients shed their per-command state or closed. */
  note(n: number): void {
    this.quieted += n;
  }

  /** A trim is still due (the sweep keeps running for it). */
  get pending(): boolean {
    return this.since >= 0 || this.quieted >= TRIM_AFTER_CLIENTS;
  }

  /** One sweep pass: trim when enough clients went quiet, or when a follow-up is due. */
  pass(): void {
    this.sinceCollect++;
    if (this.quieted >= TRIM_AFTER_CLIENTS) {
      this.quieted = 0;
      this.since = 0;
      this.trim(false);
      return;
    }
    if (this.since < 0) return;
    const since = ++this.since;
    if (!TRIM_FOLLOW_UPS.includes(since)) return;
    const collectJs = since === JS_COLLECT_AT && this.sinceCollect >= JS_COLLECT_MIN_PASSES;
    if (collectJs) this.sinceCollect = 0;
    this.trim(collectJs);
    if (since >= TRIM_FOLLOW_UPS[TRIM_FOLLOW_UPS.length - 1]) this.since = -1;
  }
}

/**
 * Batches socket writes: every connection that has output this event-loop turn is flushed once,
 * in the check phase right after the poll phase that produced the output. So commands from all
 * clients read in one turn reach a backend in one write, and replies from all backends reach a
 * client in one write. When the native streams deliver a turn's reads as one batch, the flush
 * runs right at the end of that batch (`readBatch`) instead of in a setImmediate.
 */
export interface Flushable {
  flushScheduled: boolean;
  flush(): void;
}

// Two queues, swapped per run; entries past `queued` are stale. The arrays are never truncated
// (`length = 0` would give their backing store back, and the next turn's pushes grow it again:
// an allocation per turn that showed as most of the proxy's garbage at -P 1).
let queue: (Flushable | null)[] = [];
let queued = 0;
let spare: (Flushable | null)[] = [];
let armed = false;
let inBatch = false;
/**
 * The batch's clock readings: [Date.now() at its start, performance.now() in µs on first use
 * (-1: not read yet)]. In a Float64Array, not module variables: storing a fractional number
 * into a module variable allocates a heap number each time.
 */
const batchClock = new Float64Array([0, -1]);
const BATCH_TIME = 0;
const BATCH_MICROS = 1;

/** Date.now(), read once per read batch (timestamps of backend writes, ms resolution). */
export function turnNow(): number {
  return inBatch ? batchClock[BATCH_TIME] : Date.now();
}

/**
 * A monotonic clock in µs for command latencies (src/observability): within a read batch read
 * once, on first use, so timing every command costs no clock read of its own.
 */
export function turnMicros(): number {
  if (!inBatch) return performance.now() * 1000;
  const c = batchClock;
  if (c[BATCH_MICROS] < 0) c[BATCH_MICROS] = performance.now() * 1000;
  return c[BATCH_MICROS];
}

function run(): void {
  armed = false;
  const batch = queue;
  const n = queued;
  queue = spare;
  queued = 0;
  for (let i = 0; i < n; i++) {
    const item = batch[i]!;
    batch[i] = null;
    item.flushScheduled = false;
    item.flush();
  }
  spare = batch;
}

export function scheduleFlush(item: Flushable): void {
  if (item.flushScheduled) return;
  item.flushScheduled = true;
  if (queued < queue.length) queue[queued] = item;
  else queue.push(item);
  queued++;
  if (!armed && !inBatch) {
    armed = true;
    setImmediate(run);
  }
}

/** Run `deliver` (all reads of one turn); what it queues is flushed when it returns. */
export function readBatch(deliver: (count: number) => void, count: number): void {
  if (inBatch) return deliver(count);
  inBatch = true;
  batchClock[BATCH_TIME] = Date.now();
  batchClock[BATCH_MICROS] = -1;
  try {
    deliver(count);
  } finally {
    inBatch = false;
    if (queued > 0) run();
  }
}

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

let queue: Flushable[] = [];
let spare: Flushable[] = [];
let armed = false;
let inBatch = false;
let batchTime = 0;

/** Date.now(), read once per read batch (timestamps of backend writes, ms resolution). */
export function turnNow(): number {
  return inBatch ? batchTime : Date.now();
}

let batchMicros = -1;

/**
 * A monotonic clock in µs for command latencies (src/observability): within a read batch read
 * once, on first use, so timing every command costs no clock read of its own.
 */
export function turnMicros(): number {
  if (!inBatch) return performance.now() * 1000;
  if (batchMicros < 0) batchMicros = performance.now() * 1000;
  return batchMicros;
}

function run(): void {
  armed = false;
  const batch = queue;
  queue = spare;
  for (let i = 0; i < batch.length; i++) {
    const item = batch[i];
    item.flushScheduled = false;
    item.flush();
  }
  batch.length = 0;
  spare = batch;
}

export function scheduleFlush(item: Flushable): void {
  if (item.flushScheduled) return;
  item.flushScheduled = true;
  queue.push(item);
  if (!armed && !inBatch) {
    armed = true;
    setImmediate(run);
  }
}

/** Run `deliver` (all reads of one turn); what it queues is flushed when it returns. */
export function readBatch(deliver: (count: number) => void, count: number): void {
  if (inBatch) return deliver(count);
  inBatch = true;
  batchTime = Date.now();
  batchMicros = -1;
  try {
    deliver(count);
  } finally {
    inBatch = false;
    if (queue.length > 0) run();
  }
}

/**
 * Batches socket writes: every connection that has output this event-loop turn is flushed once,
 * in the check phase right after the poll phase that produced the output. So commands from all
 * clients read in one turn reach a backend in one write, and replies from all backends reach a
 * client in one write.
 */
export interface Flushable {
  flushScheduled: boolean;
  flush(): void;
}

let queue: Flushable[] = [];
let spare: Flushable[] = [];
let armed = false;

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
  if (!armed) {
    armed = true;
    setImmediate(run);
  }
}

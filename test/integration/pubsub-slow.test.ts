/**
 * A subscriber that never reads, under a flood many times its output limit, with the real
 * program (`kvstore start`, 1 worker: the slow and the fast subscribers share the worker):
 * the proxy's memory is measured from outside through what it exposes, not inferred.
 *   - native buffered bytes (GET /stats `nativeBuffers`: the largest queue of one stream and the
 *     total): under limits.pubsubOutputHardBytes plus a small margin throughout, back near zero
 *     after the cut (cross-checked in /metrics and INFO);
 *   - the worker's JS memory (GET /stats `workers[].memory`, process.memoryUsage()): its growth
 *     during the flood stays far below the flood's size;
 *   - the fast subscribers get every message, in order, batch after batch (counted), before and
 *     after the cut.
 * No timing is asserted: sizes and counts only.
 */
import test from 'ava';
import net from 'node:net';
import Redis from 'ioredis';
import { eventually, startKvstore } from '../helpers/kvstore';
import { encodeCommand } from '../helpers/raw';
import type { AggregatedStats } from '../../src/supervisor/stats';

const MiB = 1 << 20;
const HARD = 4 * MiB;
const PAYLOAD = 64 * 1024;
const BATCH = 16; // messages per batch: 1 MiB
const BATCHES = 128; // 128 MiB to every subscriber, 32 times the limit
/**
 * What one stream may hold above the hard limit: the check runs after each turn's write, so one
 * turn's messages (the worker reads at most its 1 MiB arena per turn) can land on top of a queue
 * just under the limit.
 */
const STREAM_MARGIN = 2 * MiB;
const FLOOD = BATCHES * BATCH * PAYLOAD;
/** Spare output buffers the addon keeps (native/stream_core.h BufferPool: 256 × 16 KiB). */
const POOL_MAX = 4 * MiB;
/** JS peak growth allowed (uncollected garbage), well under what one subscriber is sent. */
const JS_PEAK_MARGIN = 64 * MiB;
/** JS growth allowed in what survives garbage collection. */
const JS_FLOOR_MARGIN = 16 * MiB;

interface Sample {
  total: number;
  maxStream: number;
  /** Native output buffer capacity held by the streams plus spare (pooled) buffers. */
  held: number;
  js: number;
  rss: number;
}

function sampleOf(stats: AggregatedStats): Sample {
  const w = stats.workers[0];
  const nb = stats.nativeBuffers;
  return { total: nb.outputQueued, maxStream: nb.maxStreamQueued, held: nb.outputAllocated + nb.poolBytes, js: w.memory!.heapUsed + w.memory!.external, rss: w.memory!.rss };
}

test('a non-reading subscriber under a flood: native and JS buffers bounded, back down after the cut; the others get every message', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 1, config: { io: 'native', limits: { pubsubOutputHardBytes: HARD, pubsubOutputSoftBytes: 2 * MiB, pubsubOutputSoftSeconds: 3600 } }, env: { KVSTORE_IO: 'native' } });
  const stats = async () => (await kv.admin<AggregatedStats>('GET', '/stats')).body;
  t.true((await stats()).workers[0].nativeIo, 'the addon\'s sockets (native buffers to measure)');

  // The slow subscriber: subscribes, then never reads (a plain socket, paused).
  const slow = net.connect({ port: kv.port, host: '127.0.0.1' });
  slow.on('error', () => undefined);
  t.teardown(() => slow.destroy());
  let slowClosed = false;
  slow.on('close', () => (slowClosed = true));
  await new Promise<void>((resolve) => slow.once('data', () => resolve()).write(encodeCommand(['SUBSCRIBE', 'feed'])));
  slow.pause();

  // Two fast subscribers count their messages and check the order (seq in the first 4 bytes).
  const fast = [0, 1].map(() => {
    const c = new Redis({ port: kv.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    t.teardown(() => c.disconnect());
    const state = { client: c, got: 0, outOfOrder: 0 };
    c.on('messageBuffer', (_ch: Buffer, msg: Buffer) => {
      if (msg.readUInt32BE(0) !== state.got) state.outOfOrder++;
      state.got++;
    });
    return state;
  });
  for (const f of fast) t.is(await f.client.subscribe('feed'), 1);
  const pub = new Redis({ port: kv.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  t.teardown(() => pub.disconnect());

  const before = sampleOf(await stats());
  // Between batches (every subscriber but the slow one has read everything): deterministic samples.
  const atRest: Sample[] = [];
  // Meanwhile, as often as /stats answers: samples in mid-flood (upper bounds only).
  const midFlood: Sample[] = [];
  let flooding = true;
  const sampler = (async () => {
    while (flooding) {
      midFlood.push(sampleOf(await stats()));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  let published = 0;
  let cutAfterBatch = -1;
  for (let batch = 0; batch < BATCHES; batch++) {
    const pipeline = pub.pipeline();
    for (let i = 0; i < BATCH; i++) {
      const payload = Buffer.alloc(PAYLOAD, 0x61);
      payload.writeUInt32BE(published++, 0);
      pipeline.publish('feed', payload);
    }
    const replies = (await pipeline.exec())!;
    t.true(replies.every(([err]) => err === null), `batch ${batch} published`);
    await eventually(() => fast.every((f) => f.got === published), 30_000, `batch ${batch} at every fast subscriber`);
    const s = await stats();
    atRest.push(sampleOf(s));
    if (cutAfterBatch < 0 && s.pubsub.slowClientsCut > 0) cutAfterBatch = batch;
  }
  flooding = false;
  await sampler;

  const final = await stats();
  t.is(final.pubsub.slowClientsCut, 1, 'the slow subscriber was cut, and only it');
  t.true(cutAfterBatch >= 0 && cutAfterBatch < BATCHES / 4, `cut after batch ${cutAfterBatch}`);
  for (const f of fast) {
    t.is(f.got, BATCHES * BATCH, 'every message at every fast subscriber');
    t.is(f.outOfOrder, 0, 'in publish order');
  }

  // The native queue of one stream: it grew toward the limit (the slow subscriber's backlog at
  // rest before the batch that crossed it) and never beyond the limit plus one turn.
  const maxAtRest = Math.max(...atRest.map((s) => s.maxStream));
  const maxStream = Math.max(maxAtRest, ...midFlood.map((s) => s.maxStream));
  const maxTotal = Math.max(...atRest.map((s) => s.total), ...midFlood.map((s) => s.total));
  t.true(maxAtRest >= HARD - BATCH * (PAYLOAD + 64), `the slow subscriber's backlog was seen (${maxAtRest} bytes at rest)`);
  t.true(maxStream <= HARD + STREAM_MARGIN, `one stream held at most ${maxStream} bytes`);
  t.true(final.pubsub.peakClientOutput > HARD && final.pubsub.peakClientOutput <= HARD + STREAM_MARGIN, `peak output of one subscribed client ${final.pubsub.peakClientOutput}`);
  // The total adds what the fast subscribers have in flight in mid-flood (a batch each at most).
  t.true(maxTotal <= HARD + STREAM_MARGIN + 2 * BATCH * (PAYLOAD + 64), `all streams held at most ${maxTotal} bytes`);
  // After the cut, at rest: nothing left queued.
  const afterCut = atRest.slice(cutAfterBatch + 1);
  t.true(afterCut.length > BATCHES / 2);
  t.true(afterCut.every((s) => s.total < 256 * 1024), `queued at rest after the cut: at most ${Math.max(...afterCut.map((s) => s.total))} bytes`);

  // JS: V8 collects garbage lazily (a young generation of up to 16 MiB semi-spaces, Buffers freed
  // at the next collection), so the peak carries garbage; the floor of the last quarter of the
  // flood (what survives collections) must not have grown with the bytes that passed.
  const maxJs = Math.max(...atRest.map((s) => s.js), ...midFlood.map((s) => s.js));
  const quarter = Math.floor(midFlood.length / 4);
  const floorFirst = Math.min(...midFlood.slice(0, quarter).map((s) => s.js));
  const floorLast = Math.min(...midFlood.slice(-quarter).map((s) => s.js));
  t.true(maxJs - before.js < JS_PEAK_MARGIN, `JS heap + external peaked ${maxJs - before.js} bytes above the start while ${FLOOD * 3} bytes passed`);
  t.true(floorLast - before.js < JS_FLOOR_MARGIN, `JS heap + external floor in the last quarter ${floorLast - before.js} bytes above the start (first quarter ${floorFirst - before.js})`);

  // The same figures in /metrics and INFO.
  const metrics = (await kv.admin('GET', '/metrics')).text;
  t.regex(metrics, /^kvstore_pubsub_slow_clients_cut_total 1$/m);
  const queuedMetric = Number(/^kvstore_native_buffered_bytes\{kind="output_queued"\} (\d+)$/m.exec(metrics)?.[1]);
  t.true(queuedMetric < 256 * 1024, `output_queued ${queuedMetric}`);
  t.regex(metrics, /^kvstore_worker_memory_bytes\{kind="heap_used"\} \d+$/m);
  const info = (await pub.info('proxy')).toString();
  t.regex(info, /\r\npubsub_slow_clients_cut:1\r\n/);
  t.true(Number(/\r\nnative_max_stream_output:(\d+)\r\n/.exec(info)?.[1]) < 256 * 1024);

  // What the kernel took before the cut is still readable; then the connection ends.
  let slowBytes = 0;
  slow.on('data', (d: Buffer) => (slowBytes += d.length));
  slow.resume();
  await eventually(() => slowClosed, 10_000, 'the slow subscriber closed');
  t.true(slowBytes < FLOOD / 4, `the slow subscriber got ${slowBytes} bytes before the end`);

  t.log(`hard limit ${HARD}: one stream at most ${maxStream} (at rest ${maxAtRest}), all streams at most ${maxTotal}, peak client output ${final.pubsub.peakClientOutput}; cut after batch ${cutAfterBatch} of ${BATCHES} (${BATCH * PAYLOAD} bytes each); ${midFlood.length} mid-flood samples`);
  // Buffers held (capacity): the queues above, plus spare buffers (the pool keeps at most 256 of
  // at most 16 KiB: 4 MiB).
  const maxHeld = Math.max(...atRest.map((s) => s.held), ...midFlood.map((s) => s.held));
  t.true(maxHeld <= HARD + STREAM_MARGIN + 2 * BATCH * (PAYLOAD + 64) + POOL_MAX, `native buffers held at most ${maxHeld}`);
  t.true(afterCut[afterCut.length - 1].held <= POOL_MAX + 256 * 1024, `native buffers held at the end ${afterCut[afterCut.length - 1].held}`);
  t.log(`native output buffers + spare: ${before.held} before, at most ${maxHeld}, ${afterCut[afterCut.length - 1].held} at the end`);
  t.log(`worker JS heap+external: ${before.js} before, at most ${maxJs} (+${maxJs - before.js}), floor in the first/last quarter of the flood +${floorFirst - before.js}/+${floorLast - before.js}; rss ${before.rss} → at most ${Math.max(...atRest.map((s) => s.rss), ...midFlood.map((s) => s.rss))}; slow subscriber read ${slowBytes} bytes after resuming`);
});

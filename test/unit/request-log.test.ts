/**
 * SLOWLOG's RequestLog under a client that always has requests in flight (a deep pipeline that
 * never drains), driven as ClientConnection drives it: one `add` per read with the ref of the
 * oldest request in flight, refs reserved per command, replies in order some requests behind.
 * The log must stay bounded (it drops the bytes of answered requests) while every request in
 * flight reads back exactly, SLOWLOG entries pinned to its bytes survive the moves, and a slow
 * command late in the stream is logged with its full arguments.
 */
import test from 'ava';
import { MAX_BYTES, RequestLog, requestRef } from '../../src/observability/RequestLog';
import { SlowLog } from '../../src/observability/SlowLog';

const MiB = 1024 * 1024;

function command(i: number): string {
  const key = `key:${i}`;
  const value = `v${i}:`.padEnd(40 + (i % 97), 'x'); // varied lengths, so reads and cuts do not line up
  return `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`;
}

function valueOf(i: number): string {
  return command(i).split('\r\n')[6];
}

interface Run {
  log: RequestLog;
  slowlog: SlowLog;
  maxLength: number;
  maxCapacity: number;
  wrong: string[];
  /** Refs of the requests still in flight at the end (oldest first) and their commands' numbers. */
  inFlight: Array<{ ref: number; i: number }>;
  streamed: number;
}

/**
 * Stream `bytes` of pipelined SETs in reads of `perRead` commands, each read in its own buffer
 * after 3 bytes of something else; answer in order while more than `window` are in flight.
 * Every answered request is read back from the log; every 500th becomes a SLOWLOG entry.
 */
function neverDraining(bytes: number, window: number, perRead: number, wrap?: number): Run {
  const log = new RequestLog(wrap);
  const slowlog = new SlowLog(128);
  const inFlight: Array<{ ref: number; i: number }> = [];
  const wrong: string[] = [];
  let maxLength = 0;
  let maxCapacity = 0;
  let streamed = 0;
  let i = 0;
  while (streamed < bytes) {
    const texts = Array.from({ length: perRead }, (_, k) => command(i + k));
    const read = Buffer.from(`abc${texts.join('')}`, 'latin1');
    const oldest = inFlight.length > 0 ? inFlight[0].ref : Number.NaN;
    const delta = log.add(read, 3, read.length, inFlight.length === 0, oldest);
    if (Number.isNaN(delta)) wrong.push(`read at ${streamed} not kept`);
    let at = 3;
    for (const text of texts) {
      inFlight.push({ ref: requestRef(at + delta, text.length), i: i++ });
      at += text.length;
    }
    streamed += read.length - 3;
    maxLength = Math.max(maxLength, log.length);
    maxCapacity = Math.max(maxCapacity, log.bytes!.length);
    // Replies arrive for the oldest ones; the client never gets below `window` in flight.
    while (inFlight.length > window) {
      const answered = inFlight.shift()!;
      const args = log.argsAt(answered.ref);
      if (args === null || args.map(String).join(' ') !== `SET key:${answered.i} ${valueOf(answered.i)}`) {
        if (wrong.length < 5) wrong.push(`request ${answered.i}: ${args === null ? 'not held' : args.map(String).join(' ')}`);
      }
      if (answered.i % 500 === 0) slowlog.addRequest(20_000, log, answered.ref, 'set', '127.0.0.1:1', '', 1_000_000 + answered.i);
    }
  }
  return { log, slowlog, maxLength, maxCapacity, wrong, inFlight, streamed };
}

test('a pipeline that never drains: the log stays bounded over 24 MiB and every request reads back whole', (t) => {
  const run = neverDraining(24 * MiB, 300, 40);
  t.true(run.streamed >= 24 * MiB);
  t.deepEqual(run.wrong, []);
  // ~300 requests of ~150 bytes in flight (45 KB): the log keeps about twice that, never MAX_BYTES.
  t.true(run.maxLength < 256 * 1024, `longest log ${run.maxLength} bytes`);
  t.true(run.maxCapacity < 512 * 1024, `largest buffer ${run.maxCapacity} bytes`);
  t.true(run.maxLength < MAX_BYTES / 8);

  // A slow command late in the stream (still in flight) is logged with its full arguments.
  const late = run.inFlight[run.inFlight.length - 1];
  run.slowlog.addRequest(50_000, run.log, late.ref, 'set', '127.0.0.1:1', 'late', 9_000_000);
  const [entry] = run.slowlog.get(1);
  t.deepEqual(entry.args, ['SET', `key:${late.i}`, valueOf(late.i)]);
  t.is(entry.name, 'late');

  // Entries pinned to the log's bytes before it moved them kept their own requests.
  const entries = run.slowlog.get(-1).slice(1);
  t.true(entries.length > 100);
  for (const e of entries) t.deepEqual(e.args.slice(0, 2), ['SET', `key:${e.timeMs - 1_000_000}`]);
});

test('stream offsets wrap (a small wrap here): refs in flight across the wrap still read back', (t) => {
  const run = neverDraining(40 * MiB, 1000, 64, 8 * MiB);
  t.deepEqual(run.wrong, []);
  t.true(run.maxLength < 1 * MiB, `longest log ${run.maxLength} bytes`);
  const late = run.inFlight[run.inFlight.length - 1];
  t.deepEqual(run.log.argsAt(late.ref)!.map(String).slice(0, 2), ['SET', `key:${late.i}`]);
});

test('a burst grows the log; once the pipeline is shallow again the dropped front gives the memory back', (t) => {
  const log = new RequestLog();
  const inFlight: number[] = [];
  let i = 0;
  const read = (n: number, window: number) => {
    const texts = Array.from({ length: n }, () => command(i++));
    const chunk = Buffer.from(texts.join(''), 'latin1');
    const delta = log.add(chunk, 0, chunk.length, inFlight.length === 0, inFlight.length > 0 ? inFlight[0] : Number.NaN);
    let at = 0;
    for (const text of texts) {
      inFlight.push(requestRef(at + delta, text.length));
      at += text.length;
    }
    while (inFlight.length > window) inFlight.shift();
  };
  read(1, 0);
  read(1, 1);
  for (let r = 0; r < 40; r++) read(500, 20_000); // ~3 MB in flight
  const burst = log.bytes!.length;
  t.true(burst > 2 * MiB, `burst buffer ${burst}`);
  for (let r = 0; r < 200; r++) read(20, 40);
  t.true(log.bytes!.length < burst / 8, `buffer ${log.bytes!.length} after the burst`);
  t.deepEqual(log.argsAt(inFlight[0])!.map(String).slice(0, 2), ['SET', `key:${i - 40}`]);
});

test('an unknown oldest ref (its read was not kept) keeps everything; idle starts over at offset 0', (t) => {
  const log = new RequestLog();
  const chunk = Buffer.from(command(1).repeat(200), 'latin1');
  t.is(log.add(chunk, 0, chunk.length, true), 0);
  const first = requestRef(0, command(1).length);
  log.add(chunk, 0, chunk.length, false, Number.NaN);
  log.add(chunk, 0, chunk.length, false, requestRef(Number.NaN, 10));
  t.is(log.length, 3 * chunk.length);
  t.deepEqual(log.argsAt(first)!.map(String).slice(0, 2), ['SET', 'key:1']);
  // The oldest request in flight in the second half: the front goes, later refs still read back.
  const late = requestRef(2 * chunk.length, command(1).length);
  log.add(chunk, 0, chunk.length, false, late);
  t.is(log.length, 2 * chunk.length);
  t.false(log.holds(first));
  t.deepEqual(log.argsAt(late)!.map(String).slice(0, 2), ['SET', 'key:1']);
  t.is(log.add(chunk, 0, chunk.length, true), 0);
  t.is(log.length, chunk.length);
});

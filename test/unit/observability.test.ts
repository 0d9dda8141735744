/**
 * Unit tests of src/observability/: histogram buckets and percentiles, SLOWLOG entries
 * (Redis's truncation and redaction), hot-key sampling, big keys, token buckets.
 */
import test from 'ava';
import fc from 'fast-check';
import { BigKeys, mergeBigKeys } from '../../src/observability/BigKeys';
import { HotKeys, mergeHotKeys } from '../../src/observability/HotKeys';
import { BUCKETS, bucketHigh, bucketOf, LatencyHistograms } from '../../src/observability/LatencyHistograms';
import { mergeSlowlogs, SLOWLOG_KEPT_BYTES, SlowLog, slowlogArgs, slowlogReply } from '../../src/observability/SlowLog';
import { LONG_REQUEST, refLength, refOffset, RequestLog, requestRef } from '../../src/observability/RequestLog';
import { parseRequestArgs } from '../../src/observability/requestArgs';
import { TokenBucket } from '../../src/observability/TokenBucket';
import { decodeReply } from '../../src/resp';

test('histogram buckets: exact below 32 µs, at most 1/16 relative error above, monotonic', (t) => {
  for (let v = 0; v < 32; v++) t.is(bucketHigh(bucketOf(v)), v);
  fc.assert(
    fc.property(fc.integer({ min: 32, max: 2 ** 37 - 1 }), (v) => {
      const b = bucketOf(v);
      const high = bucketHigh(b);
      return b < BUCKETS && high >= v && (b === 0 || bucketHigh(b - 1) < v) && (high - v) / v <= 1 / 16;
    }),
  );
  t.is(bucketOf(2 ** 45), BUCKETS - 1, 'clamped');
  for (let b = 1; b < BUCKETS; b++) if (bucketHigh(b) <= bucketHigh(b - 1)) t.fail(`bucket ${b}`);
});

test('histograms: percentiles, merge of worker snapshots, INFO latencystats lines', (t) => {
  const w1 = new LatencyHistograms(3);
  const w2 = new LatencyHistograms(3);
  for (let i = 1; i <= 990; i++) w1.record(1, 10);
  for (let i = 1; i <= 9; i++) w2.record(1, 1000);
  w2.record(1, 100000);
  const total = new LatencyHistograms(3);
  total.merge(w1.snapshot());
  total.merge(w2.snapshot());
  t.is(total.totals[1], 1000);
  t.is(total.percentile(1, 50), 10);
  t.is(total.percentile(1, 99), 10);
  t.true(total.percentile(1, 99.9) >= 1000 && total.percentile(1, 99.9) <= 1000 * (1 + 1 / 16));
  t.true(total.percentile(1, 100) >= 100000);
  t.is(total.countAtOrBelow(1, 10), 990);
  t.is(total.sums[1], 990 * 10 + 9 * 1000 + 100000);
  t.deepEqual(total.infoLines(['a', 'get', 'set']), [`latency_percentiles_usec_get:p50=10.000,p99=10.000,p99.9=${total.percentile(1, 99.9).toFixed(3)}`]);
  t.deepEqual(Object.keys(w1.snapshot()), ['1'], 'only non-empty rows travel');
});

test('SLOWLOG arguments: 32 at most (the last counts the rest), 128 bytes each, AUTH redacted', (t) => {
  const many = ['rpush', 'l', ...Array.from({ length: 38 }, (_, i) => String(i + 1))].map((s) => Buffer.from(s));
  const args = slowlogArgs(many);
  t.is(args.length, 32);
  t.is(args[31], '... (9 more arguments)');
  t.is(args[30], '29');
  t.deepEqual(slowlogArgs([Buffer.from('set'), Buffer.alloc(200, 'k'), Buffer.from('v')]), ['set', `${'k'.repeat(128)}... (72 more bytes)`, 'v']);
  t.deepEqual(slowlogArgs(['auth', 'u', 'p'].map((s) => Buffer.from(s))), ['auth', '(redacted)', '(redacted)']);
  t.deepEqual(slowlogArgs(['hello', '2', 'AUTH', 'u', 'p', 'SETNAME', 'n'].map((s) => Buffer.from(s))), ['hello', '2', 'AUTH', '(redacted)', '(redacted)', '(redacted)', '(redacted)']);
  t.deepEqual(slowlogArgs([Buffer.from([0x67, 0xff])]), [Buffer.from([0x67, 0xff]).toString('latin1')]);
});

test('request log: arguments read back by ref; a read not kept, malformed or cut requests give null', (t) => {
  const read = Buffer.from('xx*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$2\r\nab\r\nGET inline k2\r\n');
  const log = new RequestLog();
  const delta = log.add(read, 2, read.length, true);
  const ref = (at: number, end: number) => requestRef(at + delta, end - at);
  const get = read.indexOf('*2');
  const inline = read.indexOf('GET inline');
  t.deepEqual(log.argsAt(ref(2, get))!.map(String), ['SET', 'k', '']);
  t.deepEqual(log.argsAt(ref(get, inline))!.map(String), ['GET', 'ab']);
  t.deepEqual(log.argsAt(ref(inline, read.length))!.map(String), ['GET', 'inline', 'k2']);
  t.is(refOffset(ref(inline, read.length)), inline + delta);
  t.is(refLength(ref(inline, read.length)), read.length - inline);
  t.is(refLength(requestRef(7, 1 << 20)), LONG_REQUEST);
  t.is(refOffset(requestRef(4 << 20, 1 << 20)), 4 << 20);
  t.false(log.holds(requestRef(Number.NaN, 3)));
  t.is(log.argsAt(requestRef(Number.NaN, 3)), null);
  t.is(log.argsAt(requestRef(log.length, 3)), null);
  t.is(parseRequestArgs(Buffer.from('*2\r\n$3\r\nGET\r\n$5\r\nab\r\n'), 0), null); // cut
  t.is(parseRequestArgs(Buffer.from('*x\r\n'), 0), null);
  t.is(parseRequestArgs(Buffer.from('*1\r\n$-1\r\n'), 0), null);
  t.is(parseRequestArgs(Buffer.from('*99999999\r\n$1\r\na\r\n'), 0), null);
  // Not idle: the next read is appended (offsets of requests in flight stay valid); idle: starts over.
  t.is(log.add(Buffer.from('*1\r\n$4\r\nPING\r\n'), 0, 14, false), read.length - 2);
  t.deepEqual(log.argsAt(ref(get, inline))!.map(String), ['GET', 'ab']);
  t.is(log.add(Buffer.from('*1\r\n$4\r\nPING\r\n'), 0, 14, true), 0);
});

test('SLOWLOG entries refer to the request log until it overwrites them: decoded when read, AUTH redacted, a re-encoded request named only', (t) => {
  const log = new SlowLog(3);
  const requests = new RequestLog();
  // One read of a client, its commands logged as slow one by one; `idle` starts a new read over the old bytes.
  const read = (texts: string[], idle = true) => {
    const chunk = Buffer.from(`junk${texts.join('')}`);
    const delta = requests.add(chunk, 4, chunk.length, idle);
    let at = 4;
    return texts.map((text) => {
      const ref = requestRef(at + delta, text.length);
      at += text.length;
      return ref;
    });
  };
  const [mset, auth, config] = read(['*3\r\n$4\r\nMSET\r\n$1\r\nk\r\n$1\r\nv\r\n', 'AUTH secret\r\n', '*1\r\n$3\r\nGET\r\n']);
  log.addRequest(12_000.4, requests, mset, 'mset', '1.2.3.4:5', 'app', 5_000);
  log.addRequest(11_000, requests, auth, 'auth', 'c', '');
  log.addRequest(10_000, requests, config, 'config|get', 'c', '');
  t.deepEqual(log.get(1)[0].args, ['config get']);
  // The next read overwrites the log: the entries still in the ring copied their bytes first.
  const [ping] = read(['*1\r\n$4\r\nPING\r\n']);
  log.addRequest(10_000, requests, ping, 'ping', 'c', ''); // pushes MSET out
  const [pingEntry, configEntry, authEntry] = log.get(-1);
  t.deepEqual(pingEntry.args, ['PING']);
  t.deepEqual(configEntry.args, ['config get']);
  t.deepEqual(authEntry.args, ['AUTH', '(redacted)']);
  t.is(log.length, 3);
  t.is(log.get(1)[0].args, pingEntry.args, 'decoded once');
  // Several overwrites in a row, a slot taken over by a shorter request, pins of entries pushed out.
  for (let i = 0; i < 5; i++) {
    const [get] = read([`*2\r\n$3\r\nGET\r\n$1\r\n${i}\r\n`]);
    log.addRequest(10_000, requests, get, 'get', 'c', '');
  }
  read(['*1\r\n$4\r\nQUIT\r\n', '*1\r\n$4\r\nQUIT\r\n']);
  t.deepEqual(log.get(-1).map((e) => e.args), [['GET', '4'], ['GET', '3'], ['GET', '2']]);
  // Not idle: the log grows (its buffer may be replaced), older offsets stay valid.
  const [a] = read(['*2\r\n$3\r\nGET\r\n$1\r\na\r\n']);
  log.addRequest(10_000, requests, a, 'get', 'c', '');
  const [b] = read([`*2\r\n$3\r\nSET\r\n$600\r\n${'b'.repeat(600)}\r\n`], false);
  log.addRequest(10_000, requests, b, 'set', 'c', '');
  read(['*1\r\n$4\r\nQUIT\r\n']);
  t.deepEqual(log.get(2).map((e) => e.args), [['SET', `${'b'.repeat(128)}... (472 more bytes)`], ['GET', 'a']]);
  // A client that always has requests in flight: entries copy their bytes every 64 pins.
  for (let i = 0; i < 200; i++) {
    const [c] = read([`*2\r\n$3\r\nGET\r\n$3\r\n${String(i).padStart(3, '0')}\r\n`], false);
    log.addRequest(10_000, requests, c, 'get', 'c', '');
  }
  t.deepEqual(log.get(-1).map((e) => e.args[1]), ['199', '198', '197']);
  // Not kept: the name alone; longer than SLOWLOG_KEPT_BYTES or of unknown length: decoded at once.
  log.addRequest(10_000, null, 0, 'client|list', 'c', '');
  t.deepEqual(log.get(1)[0].args, ['client list']);
  log.addRequest(10_000, requests, requestRef(Number.NaN, 10), 'get', 'c', '');
  t.deepEqual(log.get(1)[0].args, ['get']);
  const big = `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${SLOWLOG_KEPT_BYTES}\r\n${'v'.repeat(SLOWLOG_KEPT_BYTES)}\r\n`;
  const [bigRef] = read([big]);
  log.addRequest(10_000, requests, bigRef, 'set', 'c', '');
  log.addRequest(10_000, requests, requestRef(refOffset(bigRef), 1 << 20), 'set', 'c', ''); // length unknown: walked
  read(['*1\r\n$4\r\nQUIT\r\n']);
  for (const e of log.get(2)) t.deepEqual(e.args, ['SET', 'k', `${'v'.repeat(128)}... (${SLOWLOG_KEPT_BYTES - 128} more bytes)`]);
  const one = new SlowLog(2);
  const [m] = read(['*3\r\n$4\r\nMSET\r\n$1\r\nk\r\n$1\r\nv\r\n']);
  one.addRequest(12_000.4, requests, m, 'mset', '1.2.3.4:5', 'app', 5_000);
  t.deepEqual(one.get(1), [{ id: 0, time: 5, timeMs: 5_000, durationUs: 12_000, args: ['MSET', 'k', 'v'], client: '1.2.3.4:5', name: 'app' }]);
  // A smaller maxLen keeps the newest entries, in order.
  one.add(1, [Buffer.from('b')], 'c', '');
  one.add(1, [Buffer.from('c')], 'c', '');
  one.setMaxLen(1);
  t.deepEqual(one.get(-1).map((e) => e.args), [['c']]);
  one.setMaxLen(3);
  one.add(1, [Buffer.from('d')], 'c', '');
  t.deepEqual(one.get(-1).map((e) => e.args), [['d'], ['c']]);
});

test('SLOWLOG ring: newest first, maxLen, ids unique across workers, merged, Redis reply shape', (t) => {
  const a = new SlowLog(2, 2, 0);
  const b = new SlowLog(5, 2, 1);
  a.add(100, [Buffer.from('get'), Buffer.from('k')], '127.0.0.1:1', 'n1', 1_000_000);
  a.add(200, [Buffer.from('get'), Buffer.from('k2')], '127.0.0.1:1', 'n1', 2_000_000);
  a.add(300, [Buffer.from('get'), Buffer.from('k3')], '127.0.0.1:1', 'n1', 3_000_000);
  b.add(400, [Buffer.from('eval')], '127.0.0.1:2', '', 2_500_000);
  t.is(a.length, 2);
  t.deepEqual(a.get().map((e) => e.id), [4, 2]);
  const merged = mergeSlowlogs([a.get(-1), b.get(-1)], 10);
  t.deepEqual(merged.map((e) => [e.id, e.time, e.durationUs]), [[4, 3000, 300], [1, 2500, 400], [2, 2000, 200]]);
  t.deepEqual(mergeSlowlogs([a.get(-1), b.get(-1)], 1).length, 1);
  const reply = decodeReply(slowlogReply(merged.slice(0, 1)), { strings: true });
  t.deepEqual(reply, [[4, 3000, 300, ['get', 'k3'], '127.0.0.1:1', 'n1']]);
  a.reset();
  t.is(a.length, 0);
});

test('hot keys: a key above hitsPerSec is found from samples; a cold one is not; rates decay', (t) => {
  let now = 0;
  const found: string[] = [];
  const hot = new HotKeys(0.1, 500, 16, now, () => 0.5, (h) => found.push(h.key));
  // 1 s of traffic: 2,000 hits/s on "hot", 100/s on each of 50 others.
  for (let second = 0; second < 3; second++) {
    for (let i = 0; i < 2000; i++) if (hot.shouldSample()) hot.sample('hot');
    for (let k = 0; k < 50; k++) for (let i = 0; i < 100; i++) if (hot.shouldSample()) hot.sample(`cold${k}`);
    now += 1000;
    hot.tick(now);
  }
  const list = hot.list();
  t.deepEqual(list.map((h) => h.key), ['hot']);
  t.true(list[0].hitsPerSec > 1000 && list[0].hitsPerSec <= 2000, String(list[0].hitsPerSec));
  t.deepEqual(found, ['hot'], 'reported once when it became hot');
  // No more traffic: the rate decays, the key stays listed for a minute, then goes.
  for (let s = 0; s < 5; s++) hot.tick((now += 1000));
  t.true(hot.list()[0].hitsPerSec < list[0].hitsPerSec / 10);
  hot.tick((now += 61_000));
  t.deepEqual(hot.list(), []);
  t.deepEqual(mergeHotKeys([[{ key: 'a', hitsPerSec: 300, lastHotAt: 1 }], [{ key: 'a', hitsPerSec: 400, lastHotAt: 2 }]]), [{ key: 'a', hitsPerSec: 700, lastHotAt: 2 }]);
});

test('hot keys: uniform traffic over many keys finds none (counts inherited by space-saving are not hits)', (t) => {
  // The benchmark's traffic: 400,000 hits/s spread over 100,000 keys (4 hits/s each), 1% sampled
  // into 256 counters. Counting inherited counts as hits reported 256 new "hot" keys a second.
  let now = 0;
  const found: string[] = [];
  let seed = 1;
  const random = () => ((seed = (seed * 48271) % 0x7fffffff) / 0x7fffffff);
  const h = new HotKeys(0.01, 500, 256, now, random, (k) => found.push(k.key));
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < 400_000; i++) if (h.shouldSample()) h.sample(`key:${Math.floor(random() * 100_000)}`);
    h.tick((now += 1000));
  }
  t.deepEqual(found, []);
  // One key at 2,000 hits/s among them is found.
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < 400_000; i++) if (h.shouldSample()) h.sample(i % 200 === 0 ? 'hot' : `key:${Math.floor(random() * 100_000)}`);
    h.tick((now += 1000));
  }
  t.deepEqual(found, ['hot']);
  t.true(h.list()[0].hitsPerSec >= 1000, String(h.list()[0].hitsPerSec));
});

test('hot keys: keys sampled as bytes of a read are counted by content; names made when reported, cut at 1 KiB', (t) => {
  let now = 0;
  const h = new HotKeys(1, 100, 8, now);
  const long = `long:${'x'.repeat(2000)}`;
  for (let i = 0; i < 300; i++) {
    const read = Buffer.from(`*2\r\n$3\r\nGET\r\n$7\r\nhot:key\r\n${long}`);
    h.sampleBytes(read, read.indexOf('hot:key'), read.indexOf('hot:key') + 7); // a fresh buffer each time
    h.sampleBytes(read, read.indexOf('long:'), read.length);
    h.sample(`cold:${i}`);
  }
  h.tick((now += 1000));
  t.deepEqual(h.list().map((k) => k.key).sort(), ['hot:key', long.slice(0, 1024)]);
  t.true(h.list().every((k) => k.hitsPerSec >= 100));
});

test('hot keys: sampling 1 key access in N on average, any key of a command, never when the rate is 0', (t) => {
  const h = new HotKeys(0.01, 500, 16, 0);
  let n = 0;
  for (let i = 0; i < 100000; i++) if (h.shouldSample()) n++;
  t.true(n > 800 && n < 1200, String(n));
  const off = new HotKeys(0, 500, 16, 0);
  for (let i = 0; i < 10000; i++) if (off.shouldSample() || off.sampleAt(10) >= 0) t.fail('sampled with sampleRate 0');
  // Commands of 10 keys: about 1 key access in 100 sampled, each key position as often.
  const multi = new HotKeys(0.01, 500, 16, 0);
  const positions = new Array(10).fill(0);
  for (let i = 0; i < 100000; i++) {
    const k = multi.sampleAt(10);
    if (k >= 0) positions[k]++;
  }
  const sampled = positions.reduce((a, b) => a + b, 0);
  t.true(sampled > 8000 && sampled < 12000, String(sampled));
  for (const p of positions) t.true(p > sampled / 10 / 2 && p < (sampled / 10) * 2, positions.join(','));
});

test('big keys: biggest first, repeated sightings counted, merged over workers', (t) => {
  const seen: string[] = [];
  const b = new BigKeys(1000, 2, (e) => seen.push(`${e.kind}:${e.key}`));
  b.record('request', 'k1', 1, 'set', 5000, 'c1', 1);
  b.record('request', 'k1', 1, 'set', 6000, 'c2', 2);
  b.record('reply', null, 7, 'get', 7000, 'c1', 3);
  b.record('request', 'k2', 2, 'set', 1000, 'c1', 4);
  t.deepEqual(b.list().map((e) => [e.kind, e.key, e.bytes, e.count]), [['reply', null, 7000, 1], ['request', 'k1', 6000, 2]]);
  t.deepEqual(seen, ['request:k1', 'reply:null', 'request:k2']);
  const merged = mergeBigKeys([b.list(), [{ key: 'k1', slot: 1, command: 'set', kind: 'request', bytes: 9000, client: 'c3', seenAt: 9, count: 1 }]]);
  t.deepEqual(merged.map((e) => [e.key, e.bytes, e.count, e.client]), [['k1', 9000, 3, 'c3'], [null, 7000, 1, 'c1']]);
});

test('token bucket: a second of burst, then the rate', (t) => {
  const bucket = new TokenBucket(10, 0);
  let ok = 0;
  for (let i = 0; i < 20; i++) if (bucket.take(0)) ok++;
  t.is(ok, 10);
  t.false(bucket.take(50));
  t.true(bucket.take(100));
  t.false(bucket.take(100));
  ok = 0;
  for (let ms = 100; ms <= 1100; ms += 10) if (bucket.take(ms)) ok++;
  t.true(ok >= 10 && ok <= 11, String(ok));
});

/**
 * Backend trouble and backpressure: a shard killed in the middle of a pipeline, a stalled shard,
 * a master replaced by a topology change, a client that never reads its replies.
 */
import test from 'ava';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import { startProxy } from '../helpers/proxy';
import { RawClient, encodeCommand } from '../helpers/raw';
import { MemoryPeaks, sampleMemory } from '../helpers/memory';

const hasher = new ReferenceHotPath();
hasher.configure({ maxBulkBytes: 1 << 29, maxInlineBytes: 65536, hash: 'crc16', murmurSeed: 0 });
function shardOf(key: string, shards = 3): number {
  return evenOwner(hasher.keySlot(Buffer.from(key)), shards);
}
function evenOwner(slot: number, n: number): number {
  for (let i = 0; i < n; i++) if (slot <= Math.floor(((i + 1) * 16384) / n) - 1) return i;
  return n - 1;
}
function keysOn(shard: number, count: number, prefix = 'key', shards = 3): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (shardOf(`${prefix}${i}`, shards) === shard) out.push(`${prefix}${i}`);
  return out;
}

/** A Lua script that keeps a redis-server busy for about `ms`. */
function busyScript(ms: number): string {
  return `local t = redis.call('TIME'); local start = t[1] * 1000 + t[2] / 1000
    while true do local n = redis.call('TIME'); if n[1] * 1000 + n[2] / 1000 - start > ${ms} then break end end
    return 1`;
}

test('a shard killed in the middle of a pipeline fails only its requests, then comes back', async (t) => {
  const kv = await startProxy(t, { shards: 3, config: { timeouts: { requestMs: 3000 } } });
  const r = kv.client();
  const victim = 1;
  const victimKeys = keysOn(victim, 20);
  const otherKeys = [...keysOn(0, 20), ...keysOn(2, 20)];
  for (const k of [...victimKeys, ...otherKeys]) await r.set(k, k);

  const raw = await RawClient.connect(kv.port);
  t.teardown(() => raw.close());
  // Keep the victim busy so requests pile up on it, then kill it while they are in flight.
  const pipeline: Buffer[] = [encodeCommand(['EVAL', busyScript(1500), '1', victimKeys[0]])];
  const expectations: ('ok' | 'fail')[] = ['fail'];
  for (let i = 0; i < 20; i++) {
    pipeline.push(encodeCommand(['GET', victimKeys[i]]), encodeCommand(['GET', otherKeys[i]]), encodeCommand(['GET', otherKeys[20 + i]]));
    expectations.push('fail', 'ok', 'ok');
  }
  raw.write(Buffer.concat(pipeline));
  const inFlightBy = Date.now() + 5000;
  while (kv.proxy.stats().backends[`s${victim}`].pending < 21 && Date.now() < inFlightBy) await new Promise((res) => setTimeout(res, 5));
  const killedAt = Date.now();
  await kv.redis[victim].kill();
  const replies = await raw.replies(expectations.length, 10_000);
  const elapsed = Date.now() - killedAt;
  t.log(`all ${replies.length} replies ${elapsed} ms after the kill`);
  t.true(elapsed < 3000, 'failures arrive well within the request timeout');
  const victimAddress = kv.redis[victim].address;
  replies.forEach((reply, i) => {
    const text = reply.toString();
    if (expectations[i] === 'fail') t.true(text.startsWith(`-ERR Kvstore: shard 's${victim}' (${victimAddress})`), text);
    else t.regex(text, /^\$\d+\r\nkey\d+\r\n$/);
  });
  // Meanwhile and afterwards, the other shards serve normally; the dead one fails fast.
  t.is(await r.get(otherKeys[0]), otherKeys[0]);
  await t.throwsAsync(r.get(victimKeys[0]), { message: new RegExp(`shard 's${victim}' \\(${victimAddress.replace(/\./g, '\\.')}\\)`) });
  // Restart: the proxy reconnects by itself (backoff) and the shard serves again.
  await kv.redis[victim].restart();
  const deadline = Date.now() + 10_000;
  let value: string | null | Error = null;
  while (Date.now() < deadline) {
    value = await r.set(victimKeys[0], 'again').catch((e: Error) => e);
    if (value === 'OK') break;
    await new Promise((res) => setTimeout(res, 100));
  }
  t.is(value, 'OK');
  t.is(await r.get(victimKeys[0]), 'again');
  t.true(kv.proxy.stats().backends[`s${victim}`].errors >= 1);
});

test('a stalled shard times out its requests; others keep serving; it recovers', async (t) => {
  const kv = await startProxy(t, { shards: 3, config: { timeouts: { requestMs: 1500 } } });
  const r = kv.client();
  const stalled = 2;
  const [slowKey] = keysOn(stalled, 1);
  const [fastKey] = keysOn(0, 1);
  await r.set(slowKey, 'v');
  process.kill(kv.redis[stalled].pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(kv.redis[stalled].pid, 'SIGCONT');
    } catch {
      /* already gone */
    }
  });
  const started = Date.now();
  const slow = r.get(slowKey).catch((e: Error) => e);
  t.is(await r.set(fastKey, 'fine'), 'OK');
  t.is(await r.get(fastKey), 'fine');
  const err = (await slow) as Error;
  const took = Date.now() - started;
  t.log(`stalled request failed after ${took} ms (requestMs 1500)`);
  t.regex(err.message, new RegExp(`^ERR Kvstore: shard 's${stalled}' \\(127\\.0\\.0\\.1:\\d+\\) timed out after 1500 ms`));
  // Generous upper bound: a loaded CI machine must not turn this into a timing test.
  t.true(took >= 1400 && took < 6000, `took ${took} ms`);
  process.kill(kv.redis[stalled].pid, 'SIGCONT');
  const deadline = Date.now() + 10_000;
  let value: unknown = null;
  while (Date.now() < deadline) {
    value = await r.get(slowKey).catch((e: Error) => e);
    if (value === 'v') break;
    await new Promise((res) => setTimeout(res, 100));
  }
  t.is(value, 'v');
});

test('a master replaced by a topology change: in-flight requests fail clearly, new ones go to the new master', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const r = kv.client();
  const [key] = keysOn(0, 1, 'key', 2);
  await r.set(key, 'old');
  // A spare server becomes shard 0's master.
  const spare = await startProxy(t, { shards: 1 });
  const newMaster = spare.redis[0];
  await spare.shardClient(0).set(key, 'new');
  const inFlight = r.eval(busyScript(800), 1, key).catch((e: Error) => e);
  const deadline = Date.now() + 5000;
  while (kv.proxy.stats().backends.s0.pending === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
  kv.proxy.applyTopology({
    ...kv.topology,
    epoch: 2,
    shards: kv.topology.shards.map((s, i) => (i === 0 ? { ...s, master: newMaster.address } : s)),
  });
  const err = (await inFlight) as Error;
  t.regex(err.message, new RegExp(`^ERR Kvstore: shard 's0' \\(${kv.redis[0].address}\\) master changed to ${newMaster.address}`));
  t.is(await r.get(key), 'new');
});

test.serial('a client that never reads: the proxy stops reading from it, memory stays bounded', async (t) => {
  const highWater = 1 << 20;
  const kv = await startProxy(t, { shards: 3, config: { limits: { clientOutputHighWater: highWater, maxPipeline: 128 } } });
  const r = kv.client();
  const value = 'x'.repeat(100 * 1024);
  const keys = ['big:a', 'big:b', 'big:c'];
  for (const k of keys) await r.set(k, value);
  if (global.gc) global.gc();
  const peaks = new MemoryPeaks(sampleMemory());
  const greedy = await RawClient.connect(kv.port);
  greedy.socket.pause(); // never reads
  t.teardown(() => greedy.close());
  // 3,000 GETs of 100 KB: 300 MB of replies if the proxy buffered them all.
  const batch = Buffer.concat(Array.from({ length: 100 }, (_, i) => encodeCommand(['GET', keys[i % 3]])));
  for (let i = 0; i < 30; i++) greedy.write(batch);
  for (let i = 0; i < 20; i++) {
    await new Promise((res) => setTimeout(res, 100));
    peaks.sample();
  }
  const stats = kv.proxy.stats();
  t.log(`greedy client: ${peaks.describe()} (300 MB of replies requested), rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
  t.true(peaks.total < 64 * 1024 * 1024, `bounded: ${peaks.describe()}`);
  if (kv.proxy.stats().nativeIo) {
    // The client's output waits in its native stream: bounded by the high-water mark plus what
    // one turn adds; and it is really there (the stat sees the queue the pause is about).
    t.true(peaks.maxStreamQueued >= highWater, `the queue reached the high-water mark: ${peaks.describe()}`);
    t.true(peaks.maxStreamQueued < 16 * highWater, `one client's native output stays bounded: ${peaks.describe()}`);
    t.true(peaks.nativeHeld < 32 * 1024 * 1024, `native buffers stay bounded: ${peaks.describe()}`);
  }
  // Other clients are unaffected.
  t.is(await r.get('big:a'), value);
  t.is(stats.clients, 2);
  // Once it reads, it gets every reply, in order.
  greedy.socket.resume();
  const replies = await greedy.replies(3000, 60_000);
  t.is(replies.length, 3000);
  t.true(replies.every((rep) => rep.length === value.length + 11));
});

test('maxPipeline: a client with a deep pipeline is paused and resumed, nothing lost', async (t) => {
  const kv = await startProxy(t, { shards: 3, config: { limits: { maxPipeline: 8 } } });
  const r = kv.client();
  const p = r.pipeline();
  for (let i = 0; i < 5000; i++) p.set(`p${i}`, String(i));
  for (let i = 0; i < 5000; i++) p.get(`p${i}`);
  const res = await p.exec();
  t.deepEqual(res!.slice(5000).map(([, v]) => v), Array.from({ length: 5000 }, (_, i) => String(i)));
});

test('idle clients are closed after timeouts.clientIdleMs; busy ones are not', async (t) => {
  const kv = await startProxy(t, { shards: 1, config: { timeouts: { clientIdleMs: 1500 } } });
  const idle = await RawClient.connect(kv.port);
  const busy = await RawClient.connect(kv.port);
  t.teardown(() => {
    idle.close();
    busy.close();
  });
  const closed = idle.closesWithin(5000);
  for (let i = 0; i < 25; i++) {
    t.is((await busy.call('PING')).toString(), '+PONG\r\n');
    await new Promise((res) => setTimeout(res, 100));
  }
  t.true(await closed);
  t.false(busy.closed);
});

test('close(drainMs) lets in-flight requests finish', async (t) => {
  const kv = await startProxy(t, { shards: 1 });
  const raw = await RawClient.connect(kv.port);
  t.teardown(() => raw.close());
  raw.write(encodeCommand(['EVAL', busyScript(300), '0']));
  // Close once the command is in flight on the shard (not merely sent by the test).
  const deadline = Date.now() + 5000;
  while (kv.proxy.stats().backends.s0.pending === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
  await kv.proxy.close(3000);
  t.is((await raw.reply()).toString(), ':1\r\n');
  t.true(await raw.closesWithin(1000));
});

test.serial('a stalled shard with a client pushing large writes at it: queued bytes stay near backendHighWater', async (t) => {
  const highWater = 2 * 1024 * 1024;
  const kv = await startProxy(t, {
    shards: 2,
    config: { limits: { backendHighWater: highWater, maxPipeline: 100_000 }, timeouts: { requestMs: 3000 } },
  });
  const [key] = keysOn(0, 1, 'key', 2);
  const r = kv.client();
  t.is(await r.set(key, 'warm'), 'OK');
  process.kill(kv.redis[0].pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(kv.redis[0].pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  });
  if (global.gc) global.gc();
  const peaks = new MemoryPeaks(sampleMemory());
  const pusher = await RawClient.connect(kv.port);
  t.teardown(() => pusher.close());
  const command = encodeCommand(['SET', key, 'x'.repeat(64 * 1024)]);
  // 2,000 x 64 KB = 128 MB aimed at a shard that reads nothing.
  let written = 0;
  const writer = (async () => {
    for (let i = 0; i < 2000 && !pusher.closed; i++) {
      if (!pusher.socket.write(command)) await Promise.race([new Promise((res) => pusher.socket.once('drain', res)), pusher.closedPromise]);
      written++;
    }
  })();
  for (let i = 0; i < 15; i++) {
    await new Promise((res) => setTimeout(res, 100));
    peaks.sample();
  }
  t.log(`stalled shard: client got ${written} of 2000 SETs (64 KB) accepted by the kernel, ${peaks.describe()}`);
  t.true(peaks.total < 48 * 1024 * 1024, `bounded: ${peaks.describe()}`);
  if (kv.proxy.stats().nativeIo) {
    // The commands wait in the stalled backend's native output: up to about backendHighWater.
    t.true(peaks.maxStreamQueued >= highWater / 2, `the backend queue is visible: ${peaks.describe()}`);
    t.true(peaks.nativeQueued < 8 * highWater, `the backend's native output stays near backendHighWater: ${peaks.describe()}`);
  }
  t.true(written < 2000, 'the client was held back');
  // The other shard still serves.
  const [other] = keysOn(1, 1, 'key', 2);
  t.is(await r.set(other, 'ok'), 'OK');
  process.kill(kv.redis[0].pid, 'SIGCONT');
  pusher.close();
  await writer;
});

test('backend pools: clients are pinned to one of poolSize connections per shard', async (t) => {
  // No idle dedicated connections: only the shared pool is counted.
  const kv = await startProxy(t, { shards: 2, config: { backend: { poolSize: 3 }, dedicated: { idlePerShard: 0 } } });
  const clients = Array.from({ length: 6 }, () => kv.client());
  await Promise.all(
    clients.map(async (c, n) => {
      const p = c.pipeline();
      for (let i = 0; i < 300; i++) p.set(`c${n}:${i % 20}`, String(i)).get(`c${n}:${i % 20}`);
      const res = (await p.exec())!;
      for (let i = 0; i < 300; i++) t.is(res[i * 2 + 1][1], String(i));
    }),
  );
  const backends = kv.proxy.stats().backends;
  t.deepEqual(Object.keys(backends).sort(), ['s0#0', 's0#1', 's0#2', 's1#0', 's1#1', 's1#2']);
  t.true(Object.values(backends).every((b) => b.connected));
  const shardClients = (await kv.shardClient(0).client('LIST')) as string;
  t.is(shardClients.trim().split('\n').length, 3 + 1, 'three proxy connections plus this one');
});

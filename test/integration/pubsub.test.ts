/**
 * Pub/sub through the proxy against real redis-servers (src/proxy/pubsub/): frames byte-equal to
 * a direct redis-server, channels placed on the shard of their slot, patterns and keyspace
 * notifications from every shard, sharded pub/sub, one subscriber connection per shard per
 * worker, slow subscribers cut off, subscriptions moved when a slot moves.
 */
import test from 'ava';
import net from 'node:net';
import calculateSlot from 'cluster-key-slot';
import { evenTopology, startProxy } from '../helpers/proxy';
import { startRedis } from '../helpers/redis';
import { evenSlotRanges } from '../../src/topology/slots';
import { RawClient, encodeCommand } from '../helpers/raw';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => Promise<boolean> | boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(25);
  }
  return check();
}

/** The shard (0..2 of evenTopology(3)) owning a channel. */
function shardOf(name: string, shards = 3): number {
  const slot = calculateSlot(name);
  return evenSlotRanges(shards).findIndex(([first, last]) => slot >= first && slot <= last);
}

/** Connections a redis-server has (CLIENT LIST lines), minus the asking one. */
async function connectionCount(port: number): Promise<number> {
  const c = await RawClient.connect(port);
  const reply = (await c.call('CLIENT', 'LIST')).toString('latin1');
  c.close();
  return reply.split('\n').filter((l) => l.includes('id=')).length - 1;
}

/**
 * The subscribed-mode script, run on a raw socket against `port`; `publish` runs mid-way (from
 * another connection) and the frames it causes are read in order.
 */
async function subscribedScript(port: number, publish: () => Promise<void>): Promise<Buffer[]> {
  const c = await RawClient.connect(port);
  const out: Buffer[] = [];
  const run = async (args: string[], replies: number) => {
    c.write(encodeCommand(args));
    out.push(...(await c.replies(replies)));
  };
  await run(['SUBSCRIBE', 'news', '{t}x'], 2);
  await run(['SSUBSCRIBE', '{t}s1', '{t}s2'], 2);
  await run(['PSUBSCRIBE', 'ne*'], 1);
  await run(['GET', 'x'], 1);
  await run(['CLIENT', 'ID'], 1);
  await run(['PING'], 1);
  await run(['PING', 'hi'], 1);
  await publish();
  out.push(...(await c.replies(4)));
  await run(['SUNSUBSCRIBE', 'nope'], 1);
  await run(['UNSUBSCRIBE', 'news', 'never'], 2);
  await run(['UNSUBSCRIBE'], 1);
  await run(['PUNSUBSCRIBE'], 1);
  await run(['SUNSUBSCRIBE', '{t}s1'], 1);
  await run(['SUNSUBSCRIBE'], 1);
  await run(['UNSUBSCRIBE'], 1);
  await run(['PUNSUBSCRIBE'], 1);
  await run(['SUNSUBSCRIBE'], 1);
  await run(['GET', 'x'], 1);
  await run(['PING'], 1);
  await run(['SUBSCRIBE', 'a'], 1);
  await run(['RESET'], 1);
  await run(['GET', 'x'], 1);
  await run(['SUBSCRIBE', 'a'], 1);
  await run(['QUIT'], 1);
  c.close();
  return out;
}

test('subscribed mode: every frame and error byte-equal to a direct redis-server', async (t) => {
  const direct = await startRedis();
  t.teardown(() => direct.stop());
  const kv = await startProxy(t, { shards: 3 });
  const publishVia = (port: number) => async () => {
    const p = await RawClient.connect(port);
    t.is((await p.call('PUBLISH', 'news', 'hello')).toString(), ':2\r\n'); // the channel and the pattern
    await p.call('PUBLISH', '{t}x', 'two');
    await p.call('SPUBLISH', '{t}s2', 'three');
    p.close();
  };
  const expected = await subscribedScript(direct.port, publishVia(direct.port));
  const got = await subscribedScript(kv.port, publishVia(kv.port));
  t.is(got.length, expected.length);
  for (let i = 0; i < expected.length; i++) t.is(got[i].toString('latin1'), expected[i].toString('latin1'), `frame ${i}`);
});

test('1,000 channels over 3 shards: every subscriber gets every message once, in order per channel', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const channels = Array.from({ length: 1000 }, (_, i) => `ch:${i}`);
  t.true([0, 1, 2].every((s) => channels.some((c) => shardOf(c) === s)));
  const subscribers = [kv.client(), kv.client(), kv.client()];
  const received = subscribers.map(() => new Map<string, string[]>());
  subscribers.forEach((sub, i) => sub.on('message', (ch: string, msg: string) => {
    const list = received[i].get(ch) ?? [];
    list.push(msg);
    received[i].set(ch, list);
  }));
  for (const sub of subscribers) t.is(await sub.subscribe(...channels), 1000);
  // Each shard holds the channels of its slots (one proxy connection subscribed to them).
  for (let s = 0; s < 3; s++) {
    const onShard = (await kv.shardClient(s).call('PUBSUB', 'CHANNELS', 'ch:*')) as string[];
    t.deepEqual(onShard.sort(), channels.filter((c) => shardOf(c) === s).sort(), `shard ${s}`);
  }
  const pub = kv.client();
  for (let round = 0; round < 3; round++) {
    const pipeline = pub.pipeline();
    for (const ch of channels) pipeline.publish(ch, `${ch}#${round}`);
    const results = (await pipeline.exec())!;
    t.true(results.every(([err, n]) => err === null && n === 1));
  }
  t.true(await eventually(() => received.every((m) => [...m.values()].reduce((a, l) => a + l.length, 0) === 3000)));
  for (const m of received) for (const ch of channels) t.deepEqual(m.get(ch), [`${ch}#0`, `${ch}#1`, `${ch}#2`]);
});

test('a pattern sees channels of every shard; PUBSUB answers over all shards', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const sub = kv.client();
  const got: string[] = [];
  sub.on('pmessage', (pattern: string, ch: string, msg: string) => got.push(`${pattern}|${ch}|${msg}`));
  t.is(await sub.psubscribe('room:*'), 1);
  const names = ['room:a', 'room:b', 'room:c', 'room:d', 'room:e', 'room:f', 'room:g', 'room:h'];
  t.deepEqual([...new Set(names.map((n) => shardOf(n)))].sort(), [0, 1, 2]);
  const pub = kv.client();
  for (const n of names) t.is(await pub.publish(n, 'hi'), 1);
  t.true(await eventually(() => got.length === names.length));
  t.deepEqual(got.sort(), names.map((n) => `room:*|${n}|hi`).sort());
  t.is(await pub.call('PUBSUB', 'NUMPAT'), 1);

  const listener = kv.client();
  await listener.subscribe('room:a', 'room:b');
  const other = kv.client();
  await other.subscribe('room:a');
  t.deepEqual(((await pub.call('PUBSUB', 'CHANNELS')) as string[]).sort(), ['room:a', 'room:b']);
  t.deepEqual(await pub.call('PUBSUB', 'NUMSUB', 'room:a', 'room:b', 'room:z'), ['room:a', 2, 'room:b', 1, 'room:z', 0]);
});

test('sharded pub/sub: SSUBSCRIBE / SPUBLISH by slot, CROSSSLOT across slots', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const sub = kv.client();
  const got: string[] = [];
  sub.on('smessage', (ch: string, msg: string) => got.push(`${ch}=${msg}`));
  t.is(await sub.ssubscribe('{u1}a', '{u1}b'), 2);
  await t.throwsAsync(sub.ssubscribe('x1', 'x2'), { message: "CROSSSLOT Keys in request don't hash to the same slot" });
  const pub = kv.client();
  t.is(await pub.spublish('{u1}a', '1'), 1);
  t.is(await pub.spublish('{u1}b', '2'), 1);
  t.is(await pub.spublish('{u1}c', '3'), 0);
  t.true(await eventually(() => got.length === 2));
  t.deepEqual(got, ['{u1}a=1', '{u1}b=2']);
  t.deepEqual(((await pub.call('PUBSUB', 'SHARDCHANNELS')) as string[]).sort(), ['{u1}a', '{u1}b']);
  t.deepEqual(await pub.call('PUBSUB', 'SHARDNUMSUB', '{u1}a'), ['{u1}a', 1]);
});

test('keyspace events of keys on all 3 shards through one PSUBSCRIBE', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  for (let s = 0; s < 3; s++) t.is(await kv.shardClient(s).config('SET', 'notify-keyspace-events', 'KEA'), 'OK');
  const sub = kv.client();
  const got: string[] = [];
  sub.on('pmessage', (_p: string, ch: string, msg: string) => got.push(`${ch} ${msg}`));
  await sub.psubscribe('__keyspace@0__:*');
  const keys = ['k:a', 'k:b', 'k:c', 'k:d', 'k:e', 'k:f', 'k:g'];
  t.deepEqual([...new Set(keys.map((k) => shardOf(k)))].sort(), [0, 1, 2]);
  const c = kv.client();
  for (const k of keys) await c.set(k, '1');
  t.true(await eventually(() => got.length === keys.length));
  t.deepEqual(got.sort(), keys.map((k) => `__keyspace@0__:${k} set`).sort());
});

test('2,000 subscribed clients: a handful of backend connections per shard', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const before = await Promise.all(kv.redis.map((r) => connectionCount(r.port)));
  const sockets: net.Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  let confirmed = 0;
  for (let i = 0; i < 2000; i++) {
    const s = net.connect({ port: kv.port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    s.on('data', () => confirmed++);
    s.write(encodeCommand(['SUBSCRIBE', `c:${i % 50}`, 'common']));
    sockets.push(s);
    if (i % 200 === 199) await sleep(20);
  }
  // A generous deadline: on a loaded machine (other tests flooding) 2,000 connects take long.
  const started = Date.now();
  t.true(await eventually(() => confirmed >= 2000, 60_000), `${confirmed} of 2,000 confirmed after ${Date.now() - started} ms`);
  t.log(`2,000 confirmations in ${Date.now() - started} ms`);
  const after = await Promise.all(kv.redis.map((r) => connectionCount(r.port)));
  // One subscriber connection per shard (one worker here), whatever the number of clients.
  for (let s = 0; s < 3; s++) t.true(after[s] - before[s] <= 1, `shard ${s}: ${before[s]} → ${after[s]}`);
  const pub = kv.client();
  t.is(await pub.publish('common', 'x'), 1); // one proxy connection is the shard's only subscriber
});

test('a subscriber that does not read is cut off; the others still get every message', async (t) => {
  const kv = await startProxy(t, { shards: 2, config: { limits: { pubsubOutputHardBytes: 4 << 20 } } });
  const slow = await RawClient.connect(kv.port);
  slow.write(encodeCommand(['SUBSCRIBE', 'feed']));
  await slow.reply();
  slow.socket.pause();
  const fast = kv.client();
  let got = 0;
  fast.on('messageBuffer', () => got++);
  await fast.subscribe('feed');
  const pub = kv.client();
  const payload = Buffer.alloc(64 * 1024, 0x61);
  // In batches the reading subscriber (in this process) keeps up with; the other never reads.
  for (let batch = 0; batch < 60; batch++) {
    await Promise.all(Array.from({ length: 10 }, () => pub.publish('feed', payload)));
    await eventually(() => got === (batch + 1) * 10, 5000);
  }
  t.true(await eventually(() => kv.proxy.pubsub.slowClientsCut === 1));
  t.true(await eventually(() => got === 600, 20000));
  // What the kernel had taken before the cut is still readable, then the connection ends.
  slow.socket.resume();
  t.true(await slow.closesWithin(5000));
  t.true(slow.leftover.length < 16 << 20);
});

test('re-subscription after a slot move (new topology)', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const sub = kv.client();
  const got: string[] = [];
  sub.on('message', (_ch: string, msg: string) => got.push(msg));
  await sub.subscribe('moving');
  const pub = kv.client();
  t.is(await pub.publish('moving', 'before'), 1);
  const from = shardOf('moving');
  // Rotate the servers: every slot now lives on another redis-server.
  const addresses = kv.redis.map((r) => r.address);
  const rotated = addresses.map((_, i) => addresses[(i + 1) % 3]);
  await kv.proxy.applyTopology(evenTopology(rotated, 2));
  t.true(await eventually(async () => (await kv.shardClient((from + 1) % 3).call('PUBSUB', 'NUMSUB', 'moving') as [string, number])[1] === 1));
  t.is(await pub.publish('moving', 'after'), 1);
  t.true(await eventually(() => got.length === 2));
  t.deepEqual(got, ['before', 'after']);
});

test('a lost subscriber connection is reopened and resubscribed', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const sub = kv.client();
  const got: string[] = [];
  sub.on('message', (_ch: string, msg: string) => got.push(msg));
  sub.on('pmessage', (_p: string, _ch: string, msg: string) => got.push(`p:${msg}`));
  await sub.subscribe('lost');
  await sub.psubscribe('lo*');
  const owner = kv.shardClient(shardOf('lost'));
  t.true((await owner.call('CLIENT', 'KILL', 'TYPE', 'pubsub')) as number >= 1);
  const pub = kv.client();
  t.true(await eventually(async () => (await pub.publish('lost', 'x')) === 2));
  t.true(await eventually(() => got.includes('x') && got.includes('p:x')));
});

test('RESP3 (HELLO 3): push frames and no subscribed-mode restriction, byte-equal to a direct redis-server', async (t) => {
  const direct = await startRedis();
  t.teardown(() => direct.stop());
  const kv = await startProxy(t, { shards: 3 });
  const script = async (port: number): Promise<string[]> => {
    const c = await RawClient.connect(port);
    await c.call('HELLO', '3'); // its reply names the server: not compared
    const out: string[] = [];
    const run = async (args: string[], replies: number) => {
      c.write(encodeCommand(args));
      for (const r of await c.replies(replies)) out.push(r.toString('latin1'));
    };
    await run(['SUBSCRIBE', 'news3'], 1);
    await run(['PSUBSCRIBE', 'new*'], 1);
    await run(['GET', 'x'], 1);
    await run(['PING'], 1);
    const p = await RawClient.connect(port);
    await p.call('PUBLISH', 'news3', 'hello');
    p.close();
    for (const r of await c.replies(2)) out.push(r.toString('latin1'));
    await run(['UNSUBSCRIBE'], 1);
    await run(['PUNSUBSCRIBE'], 1);
    await run(['UNSUBSCRIBE'], 1);
    c.close();
    return out;
  };
  const expected = await script(direct.port);
  t.deepEqual(await script(kv.port), expected);
  t.true(expected.some((f) => f.startsWith('>4\r\n$8\r\npmessage')));
});

/**
 * Key rewrite through an in-process ProxyServer over 3 real redis-servers: rules arrive as
 * topology pushes (as the supervisor sends them), and clients see families dropped, restored and
 * dropped again, across single-key, split and same-slot commands and the key-name commands.
 */
import test from 'ava';
import type Redis from 'ioredis';
import { RESERVED_PREFIX } from '../../src/keyrewrite/derivedName';
import type { KeyRewriteRule } from '../../src/topology/types';
import { loadHotPath } from '../../src/native';
import { startProxy, StartedProxy, StartProxyOptions } from '../helpers/proxy';

// One hot path for every proxy of this file, as in a worker process.
const hotPath = loadHotPath();
const start = (t: import('ava').ExecutionContext, options: StartProxyOptions) => startProxy(t, { hotPath, ...options });

let epoch = 1;
function push(kv: StartedProxy, rules: KeyRewriteRule[]): void {
  epoch++;
  kv.proxy.applyTopology({ ...kv.topology, epoch, keyRewrite: rules });
}

async function scanAll(redis: Redis, match?: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = match ? await redis.scan(cursor, 'MATCH', match, 'COUNT', 50) : await redis.scan(cursor, 'COUNT', 50);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out.sort();
}

async function backendSize(kv: StartedProxy): Promise<number> {
  let n = 0;
  for (let i = 0; i < kv.redis.length; i++) n += await kv.shardClient(i).dbsize();
  return n;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('add drops a family, writes go to the new generation, remove restores, add again drops again', async (t) => {
  const kv = await start(t, { shards: 3 });
  const redis = kv.client();
  for (const i of range(30)) {
    await redis.set(`user:${i}`, `old${i}`);
    await redis.set(`item:${i}`, `item${i}`);
  }
  await redis.sadd('user:{7}:a', 'x', 'y');
  await redis.sadd('item:{7}', 'y', 'z');
  const before = await backendSize(kv);

  push(kv, [{ pattern: 'user:*', generation: 2 }]);

  // Invisible: GET nil, EXISTS 0; other keys untouched.
  t.is(await redis.get('user:1'), null);
  t.is(await redis.exists('user:1'), 0);
  t.is(await redis.get('item:1'), 'item1');
  t.is(await redis.exists('user:1', 'item:1', 'user:2', 'item:2'), 2);
  t.deepEqual(await redis.smembers('user:{7}:a'), []);

  // New writes are visible (and stored under another name: the old plain key is still there).
  await redis.set('user:1', 'new1');
  await redis.set('user:2', 'new2');
  t.is(await redis.get('user:1'), 'new1');
  t.is(await backendSize(kv), before + 2);

  // MGET / DEL mixing matching and non-matching keys across shards.
  t.deepEqual(await redis.mget('user:1', 'item:1', 'user:3', 'item:2', 'user:2'), ['new1', 'item1', null, 'item2', 'new2']);
  t.is(await redis.del('user:2', 'item:2', 'user:3'), 2);
  t.deepEqual(await redis.mget('user:2', 'item:2'), [null, null]);
  await redis.mset('user:5', 'm5', 'item:5', 'mi5', 'user:6', 'm6');
  t.deepEqual(await redis.mget('user:5', 'item:5', 'user:6'), ['m5', 'mi5', 'm6']);

  // Same-slot commands with a hash tag: a rewritten and a plain key still share a slot.
  await redis.sadd('user:{7}:a', 'y', 'w');
  t.deepEqual((await redis.sinter('user:{7}:a', 'item:{7}')).sort(), ['y']);
  t.is(await redis.sinterstore('user:{7}:b', 'user:{7}:a', 'item:{7}'), 1);
  t.deepEqual(await redis.smembers('user:{7}:b'), ['y']);
  t.is(await redis.rename('user:{7}:b', 'user:{7}:c'), 'OK');
  t.deepEqual(await redis.smembers('user:{7}:c'), ['y']);

  // Key names: only visible keys, under their original names, each once.
  const visibleUsers = ['user:1', 'user:5', 'user:6', 'user:{7}:a', 'user:{7}:c'];
  const items = [...range(30).filter((i) => i !== 2).map((i) => `item:${i}`), 'item:{7}'].sort();
  t.deepEqual((await redis.keys('user:*')).sort(), visibleUsers.sort());
  t.deepEqual((await redis.keys('*')).sort(), [...visibleUsers, ...items].sort());
  t.deepEqual(await scanAll(redis, 'user:*'), visibleUsers.sort());
  t.deepEqual(await scanAll(redis), [...visibleUsers, ...items].sort());
  t.deepEqual((await redis.keys('user:?')).sort(), ['user:1', 'user:5', 'user:6']);
  const visible = new Set([...visibleUsers, ...items]);
  for (let i = 0; i < 40; i++) {
    const k = await redis.randomkey();
    t.true(k !== null && visible.has(k), `RANDOMKEY gave ${k}`);
  }
  // Nothing of the reserved names leaks.
  t.false((await redis.keys('*')).some((k) => k.startsWith('\xff')));

  // Remove: the old values are back; writes made under the rule are hidden again.
  push(kv, []);
  t.is(await redis.get('user:1'), 'old1');
  t.is(await redis.get('user:2'), 'old2');
  t.is(await redis.exists('user:3'), 1);
  t.deepEqual(await redis.smembers('user:{7}:c'), []);
  t.deepEqual((await redis.keys('user:*')).length, 31);
  t.deepEqual((await scanAll(redis, 'user:*')).length, 31);

  // A second add drops the family again, including what was written in the first generation.
  push(kv, [{ pattern: 'user:*', generation: 4 }]);
  t.is(await redis.get('user:1'), null);
  t.is(await redis.get('user:5'), null);
  t.deepEqual(await redis.keys('user:*'), []);
  t.is(await redis.get('item:1'), 'item1');
  await redis.set('user:1', 'gen4');
  t.is(await redis.get('user:1'), 'gen4');
  push(kv, [{ pattern: 'user:*', generation: 6 }]);
  t.is(await redis.get('user:1'), null);
});

test('several rules: the newest matching rule decides, removing it restores the older view', async (t) => {
  const kv = await start(t, { shards: 2 });
  const redis = kv.client();
  push(kv, [{ pattern: 'user:*', generation: 10 }]);
  await redis.set('user:10', 'a');
  push(kv, [
    { pattern: 'user:*', generation: 10 },
    { pattern: 'user:1*', generation: 11 },
  ]);
  t.is(await redis.get('user:10'), null);
  await redis.set('user:10', 'b');
  t.deepEqual(await redis.keys('user:*'), ['user:10']);
  push(kv, [{ pattern: 'user:*', generation: 10 }]);
  t.is(await redis.get('user:10'), 'a');
});

test('commands returning key names give the original names; reserved names are refused', async (t) => {
  const kv = await start(t, { shards: 2 });
  const redis = kv.client();
  push(kv, [{ pattern: 'q:*', generation: 3 }]);
  await redis.rpush('q:{1}:a', 'one', 'two');
  t.deepEqual(await redis.call('LMPOP', '2', 'q:{1}:empty', 'q:{1}:a', 'LEFT'), ['q:{1}:a', ['one']]);
  await redis.zadd('q:{2}', 1, 'm');
  t.deepEqual(await redis.call('ZMPOP', '1', 'q:{2}', 'MIN'), ['q:{2}', [['m', '1']]]);
  await redis.xadd('q:s', '1-1', 'f', 'v');
  const xread = (await redis.call('XREAD', 'STREAMS', 'q:s', '0')) as [string, unknown][];
  t.is(xread[0][0], 'q:s');
  await redis.xadd('q:{3}:a', '1-1', 'f', 'a');
  await redis.xadd('q:{3}:b', '1-1', 'f', 'b');
  await redis.xadd('x:{3}', '1-1', 'f', 'x');
  const multi = (await redis.call('XREAD', 'COUNT', '5', 'STREAMS', 'q:{3}:a', 'x:{3}', 'q:{3}:b', '0', '0', '0')) as [string, [string, string[]][]][];
  t.deepEqual(multi.map((s) => [s[0], s[1][0][1][1]]), [['q:{3}:a', 'a'], ['x:{3}', 'x'], ['q:{3}:b', 'b']]);
  t.is(await redis.call('LMPOP', '1', 'q:{1}:none', 'LEFT'), null);

  const reserved = Buffer.concat([RESERVED_PREFIX, Buffer.from('3{x}q:1')]);
  await t.throwsAsync(redis.set(reserved, 'x'), { message: /reserved key-rewrite prefix/ });
  await t.throwsAsync(redis.mget('a', reserved), { message: /reserved key-rewrite prefix/ });
  // Also without rules: a reserved name can never be planted for a later rule to reveal.
  push(kv, []);
  await t.throwsAsync(redis.set(reserved, 'x'), { message: /reserved key-rewrite prefix/ });
});

test('keys in scripts, numkeys and keyword positions are rewritten too', async (t) => {
  const kv = await start(t, { shards: 2 });
  const redis = kv.client();
  await redis.set('user:{s}:1', 'old');
  push(kv, [{ pattern: 'user:*', generation: 7 }]);
  t.is(await redis.eval("return redis.call('GET', KEYS[1])", 1, 'user:{s}:1'), null);
  await redis.set('user:{s}:1', 'new');
  t.is(await redis.eval("return redis.call('GET', KEYS[1])", 1, 'user:{s}:1'), 'new');
  await redis.zadd('user:{z}:a', 1, 'x');
  await redis.zadd('other:{z}', 2, 'y');
  t.is(await redis.zunionstore('user:{z}:u', 2, 'user:{z}:a', 'other:{z}'), 2);
  t.deepEqual(await redis.zrange('user:{z}:u', 0, -1), ['x', 'y']);
  await redis.geoadd('user:{g}:geo', 13.361389, 38.115556, 'Palermo');
  t.is(await redis.call('GEORADIUS', 'user:{g}:geo', '15', '37', '200', 'km', 'STORE', 'user:{g}:near'), 1);
  t.deepEqual(await redis.zrange('user:{g}:near', 0, -1), ['Palermo']);
  push(kv, []);
  t.deepEqual(await redis.zrange('user:{g}:near', 0, -1), []);
  t.is(await redis.get('user:{s}:1'), 'old');
});

test('with the murmur hash, rewritten keys keep their slot too', async (t) => {
  const kv = await start(t, { shards: 3, config: { hash: 'murmur', murmurSeed: 42 } });
  kv.topology.hash = 'murmur';
  const redis = kv.client();
  await redis.set('user:plain', 'old');
  push(kv, [{ pattern: 'user:*', generation: 5 }]);
  t.is(await redis.get('user:plain'), null);
  await redis.sadd('user:{m}:a', 'x', 'y');
  await redis.sadd('item:{m}', 'y');
  t.deepEqual(await redis.sinter('user:{m}:a', 'item:{m}'), ['y']);
  await redis.mset(...Array.from({ length: 40 }, (_, i) => [`user:${i}`, `v${i}`]).flat());
  t.deepEqual(await redis.mget(...Array.from({ length: 40 }, (_, i) => `user:${i}`)), Array.from({ length: 40 }, (_, i) => `v${i}`));
  t.is((await redis.keys('user:*')).length, 41);
});

test('without rules nothing is rewritten, but reserved names are refused all the same', async (t) => {
  const kv = await start(t, { shards: 2 });
  const redis = kv.client();
  await redis.set('user:1', 'v');
  const onShards = [...(await kv.shardClient(0).keys('*')), ...(await kv.shardClient(1).keys('*'))];
  t.deepEqual(onShards, ['user:1']);
  // A client cannot plant a derived-looking name that a later rule would reveal.
  const forged = Buffer.concat([Buffer.from([0xff]), Buffer.from('kr:3{x}user:2')]);
  await t.throwsAsync(redis.set(forged, 'evil'), { message: /reserved key-rewrite prefix/ });
  push(kv, [{ pattern: 'user:*', generation: 2 }]);
  t.is(await redis.get('user:1'), null);
  push(kv, []);
  t.is(await redis.get('user:1'), 'v');
  const after = [...(await kv.shardClient(0).keys('*')), ...(await kv.shardClient(1).keys('*'))];
  t.deepEqual(after, ['user:1']);
});

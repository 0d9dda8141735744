/**
 * The proxy over 3 real redis-servers: every routing class, ordering under pipelining, multi-key
 * commands across shards, hash tags, CROSSSLOT, SCAN completeness, proxy-answered commands.
 * Where it matters, the test checks on the shards themselves where keys landed.
 */
import test from 'ava';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import { startProxy, StartedProxy } from '../helpers/proxy';
import { RawClient } from '../helpers/raw';

const slotHasher = new ReferenceHotPath();
slotHasher.configure({ maxBulkBytes: 1 << 29, maxInlineBytes: 65536, hash: 'crc16', murmurSeed: 0 });
function slotOf(key: string): number {
  return slotHasher.keySlot(Buffer.from(key));
}
/** Which of 3 even shards owns `key` (evenSlotRanges(3)). */
function shardOf(key: string): number {
  const slot = slotOf(key);
  return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
}

async function shardKeys(kv: StartedProxy): Promise<string[][]> {
  return Promise.all(kv.redis.map((_, i) => kv.shardClient(i).keys('*').then((k) => k.sort())));
}

test('single-key commands land on the shard that owns the slot', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r = kv.client();
  const keys = Array.from({ length: 60 }, (_, i) => `user:${i}`);
  for (const k of keys) t.is(await r.set(k, `v-${k}`), 'OK');
  for (const k of keys) t.is(await r.get(k), `v-${k}`);
  const onShards = await shardKeys(kv);
  for (const k of keys) t.true(onShards[shardOf(k)].includes(k), `${k} on shard ${shardOf(k)}`);
  t.true(onShards.every((s) => s.length > 0), 'keys spread over all shards');
  t.is(onShards.flat().length, keys.length);
  // Other data types go through the same path.
  t.is(await r.hset('h', 'f', 'v'), 1);
  t.deepEqual(await r.hgetall('h'), { f: 'v' });
  t.is(await r.lpush('l', 'a', 'b'), 2);
  t.deepEqual(await r.lrange('l', 0, -1), ['b', 'a']);
  t.is(await r.zadd('z', 1, 'one'), 1);
  t.deepEqual(await r.zrange('z', 0, -1, 'WITHSCORES'), ['one', '1']);
});

test('10,000 mixed pipelined commands come back in request order', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r = kv.client();
  const p = r.pipeline();
  const expected: unknown[] = [];
  const model = new Map<string, string>();
  for (let i = 0; i < 10_000; i++) {
    const k = `k${i % 500}`;
    switch (i % 7) {
      case 0:
        p.set(k, `v${i}`);
        model.set(k, `v${i}`);
        expected.push('OK');
        break;
      case 1:
        p.get(k);
        expected.push(model.get(k) ?? null);
        break;
      case 2:
        p.incr(`counter:${i}`);
        expected.push(1);
        break;
      case 3:
        p.ping(`p${i}`);
        expected.push(`p${i}`);
        break;
      case 4: {
        const other = `k${(i * 7) % 500}`;
        p.mget(other, `missing:${i}`, `counter:${i - 2}`);
        expected.push([model.get(other) ?? null, null, '1']);
        break;
      }
      case 5: {
        const other = `k${(i * 13) % 500}`;
        p.exists(`counter:${i - 3}`, other, `nope${i}`);
        expected.push(1 + (model.has(other) ? 1 : 0));
        break;
      }
      default:
        p.echo(`e${i}`);
        expected.push(`e${i}`);
    }
  }
  const results = await p.exec();
  t.is(results!.length, 10_000);
  const mismatches = results!.filter(([err, value], i) => err !== null || JSON.stringify(value) !== JSON.stringify(expected[i]));
  t.deepEqual(mismatches.slice(0, 3), []);
});

test('MGET, MSET, DEL, EXISTS, TOUCH, UNLINK with 1,000 keys over 3 shards', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r = kv.client();
  const keys = Array.from({ length: 1000 }, (_, i) => `multi:${i}`);
  const args = keys.flatMap((k, i) => [k, `value-${i}`]);
  t.is(await r.mset(...args), 'OK');
  const onShards = await shardKeys(kv);
  t.deepEqual(onShards.map((s) => s.length).reduce((a, b) => a + b), 1000);
  t.true(onShards.every((s) => s.length > 200), `spread: ${onShards.map((s) => s.length)}`);
  const withMissing = [...keys.slice(0, 500), 'absent-1', ...keys.slice(500), 'absent-2'];
  const values = await r.mget(...withMissing);
  t.deepEqual(values, [...keys.slice(0, 500).map((_, i) => `value-${i}`), null, ...keys.slice(500).map((_, i) => `value-${i + 500}`), null]);
  t.is(await r.exists(...keys, 'absent', keys[0]), 1001); // duplicates count twice, as in Redis
  t.is(await r.touch(...keys.slice(0, 300)), 300);
  t.is(await r.del(...keys.slice(0, 400), 'absent'), 400);
  t.is(await r.unlink(...keys.slice(300, 600)), 200);
  t.is(await r.exists(...keys), 400);
  t.is(await r.dbsize(), 400);
});

test('hash tags keep keys together; same-slot commands work, cross-slot ones get CROSSSLOT', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r = kv.client();
  t.is(slotOf('{user1000}.following'), slotOf('{user1000}.followers'));
  await r.sadd('{user1000}.following', 'a', 'b', 'c');
  await r.sadd('{user1000}.followers', 'b', 'c', 'd');
  t.deepEqual((await r.sinter('{user1000}.following', '{user1000}.followers')).sort(), ['b', 'c']);
  t.is(await r.sinterstore('{user1000}.both', '{user1000}.following', '{user1000}.followers'), 2);
  t.is(await r.rename('{user1000}.both', '{user1000}.common'), 'OK');
  t.is(await r.lpush('{q}src', 'x'), 1);
  t.is(await r.lmove('{q}src', '{q}dst', 'LEFT', 'RIGHT'), 'x');
  t.is(await r.eval("return redis.call('get', KEYS[1])", 1, '{user1000}.nothing'), null);
  t.is(await r.eval("redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[2])", 2, '{t}a', '{t}b', 'v'), null);
  // Different slots, even on the same shard: Redis Cluster's error, never a partial answer.
  const [a, b] = ['a', 'b'];
  t.not(slotOf(a), slotOf(b));
  await r.set(a, '1');
  await t.throwsAsync(r.rename(a, b), { message: "CROSSSLOT Keys in request don't hash to the same slot" });
  await t.throwsAsync(r.sunion('{user1000}.following', 'other'), { message: /^CROSSSLOT/ });
  await t.throwsAsync(r.eval('return 1', 2, 'x1', 'x2'), { message: /^CROSSSLOT/ });
  await t.throwsAsync(r.msetnx('x1', '1', 'x2', '2'), { message: /^CROSSSLOT/ });
  t.is(await r.get(b), null, 'nothing was renamed');
});

test("crossSlot: 'shard' relaxes the rule to keys on the same shard", async (t) => {
  const kv = await startProxy(t, { shards: 3, config: { crossSlot: 'shard' } });
  const r = kv.client();
  // Two keys on shard 0 with different slots, and one key on another shard.
  const same = Array.from({ length: 200 }, (_, i) => `k${i}`).filter((k) => shardOf(k) === 0);
  const other = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => shardOf(k) === 1)!;
  const [k1, k2] = same.filter((k, i, all) => all.findIndex((x) => slotOf(x) === slotOf(k)) === i);
  t.not(slotOf(k1), slotOf(k2));
  await r.set(k1, 'v');
  t.is(await r.rename(k1, k2), 'OK');
  t.is(await r.get(k2), 'v');
  await t.throwsAsync(r.rename(k2, other), { message: /^CROSSSLOT/ });
});

test('SCAN over all shards returns every key; KEYS, DBSIZE, RANDOMKEY, INFO keyspace are cluster-wide', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r = kv.client();
  const keys = Array.from({ length: 2500 }, (_, i) => `scan:${i}`);
  for (let i = 0; i < keys.length; i += 500) await r.mset(...keys.slice(i, i + 500).flatMap((k) => [k, 'x']));
  await r.set('other', 'x');
  const seen = new Set<string>();
  let cursor = '0';
  let calls = 0;
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', 'scan:*', 'COUNT', 100);
    batch.forEach((k) => seen.add(k));
    cursor = next;
    calls++;
  } while (cursor !== '0' && calls < 10_000);
  t.is(cursor, '0');
  t.is(seen.size, keys.length);
  t.true(keys.every((k) => seen.has(k)));
  // ioredis' scanStream uses the same cursor protocol.
  const streamed = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    const s = r.scanStream({ count: 500 });
    s.on('data', (batch: string[]) => batch.forEach((k) => streamed.add(k)));
    s.on('end', () => resolve());
    s.on('error', reject);
  });
  t.is(streamed.size, keys.length + 1);
  await t.throwsAsync(r.scan('not-a-cursor'), { message: 'ERR invalid cursor' });
  t.is((await r.keys('scan:1*')).length, keys.filter((k) => k.startsWith('scan:1')).length);
  t.is(await r.dbsize(), keys.length + 1);
  t.true(seen.has((await r.randomkey())!) || (await r.randomkey()) === 'other');
  const info = await r.info('keyspace');
  t.regex(info, new RegExp(`db0:keys=${keys.length + 1},expires=0`));
  const all = await r.info();
  t.regex(all, /# Proxy\r\n/);
  t.regex(all, /native_enabled:[01]/);
  const nativeIo = process.env.KVSTORE_IO !== 'node' && process.env.KVSTORE_NATIVE !== '0';
  t.regex(all, nativeIo ? /native_io:1\r\n/ : /native_io:0\r\n/);
  // Native buffers (only with the addon's sockets; process-wide, and other tests of this file run
  // at the same time, so only what this test controls is exact): the 1 MiB read arena.
  if (nativeIo) {
    t.regex(all, /\r\nnative_read_arena:1048576\r\n/);
    t.regex(all, /\r\nnative_buffered_output:\d+\r\n/);
    // answered while the read that carried INFO is being dispatched: that read is held input
    t.true(Number(/\r\nnative_buffered_input:(\d+)\r\n/.exec(all)?.[1]) >= '*1\r\n$4\r\ninfo\r\n'.length);
  } else t.notRegex(all, /native_read_arena/);
  const stats = kv.proxy.stats();
  t.is(stats.nativeIo, nativeIo);
  t.is(stats.nativeIoClients, nativeIo ? stats.clients : 0, 'every client is served by the socket layer in use');
  t.true(stats.clients >= 1);
  t.regex(all, /epoch:1\r\n/);
  t.regex(all, /connected_clients:\d+/);
  t.regex(all, /total_commands_processed:\d+/);
});

test('commands answered by the proxy', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r = kv.client();
  t.is(await r.ping(), 'PONG');
  t.is(await r.ping('hello'), 'hello');
  t.is(await r.echo('x y'), 'x y');
  t.is(await r.select(0), 'OK');
  await t.throwsAsync(r.select(1), { message: /only database 0/ });
  await t.throwsAsync(r.select(99), { message: 'ERR DB index is out of range' });
  t.is(await r.client('SETNAME', 'worker-7'), 'OK');
  t.is(await r.client('GETNAME'), 'worker-7');
  t.true(Number(await r.client('ID')) > 0);
  await t.throwsAsync(r.client('SETNAME', 'a b'), { message: /cannot contain spaces/ });
  t.is(await r.client('KILL', 'ID', '999999999'), 0); // the proxy's own clients (proxy-dedicated.test.ts)
  await t.throwsAsync(r.call('CLIENT', 'NOSUCH'), { message: "ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP." });
  const hello = (await r.call('HELLO', '2')) as unknown[];
  t.is(hello[5], 2);
  // HELLO 3: test/integration/resp3-clients.test.ts (ioredis does not decode RESP3).
  const [secs, micros] = (await r.time()) as unknown as [string, string];
  t.true(Math.abs(Number(secs) - Date.now() / 1000) < 5 && Number(micros) < 1_000_000);
  t.is(await r.call('COMMAND', 'COUNT'), (await kv.shardClient(0).call('COMMAND', 'COUNT')));
  const getInfo = (await r.call('COMMAND', 'INFO', 'get')) as unknown[][];
  t.is(getInfo[0][0], 'get');
  await r.set('f1', '1');
  t.is(await r.flushdb(), 'OK');
  t.is(await r.dbsize(), 0);
  t.is(await r.flushall(), 'OK');
});

test('allshards: SCRIPT LOAD reaches every shard, so EVALSHA works for keys anywhere', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r = kv.client();
  const sha = (await r.script('LOAD', "return redis.call('incr', KEYS[1])")) as string;
  const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
  t.deepEqual(new Set(keys.map(shardOf)).size, 3);
  for (const k of keys) t.is(await r.evalsha(sha, 1, k), 1);
  t.deepEqual(await r.script('EXISTS', sha, 'ffffffffffffffffffffffffffffffffffffffff'), [1, 0]);
  t.is(await r.script('FLUSH'), 'OK');
  t.deepEqual(await r.script('EXISTS', sha), [0]);
  await t.throwsAsync(r.evalsha(sha, 1, 'a'), { message: /^NOSCRIPT/ });
});

test('nokey commands go to a shard; unsupported and unknown commands get clear errors', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const raw = await RawClient.connect(kv.port);
  t.teardown(() => raw.close());
  t.regex((await raw.call('OBJECT', 'HELP')).toString(), /^\*\d+\r\n/);
  // Transactions and blocking commands run on dedicated connections (proxy-dedicated.test.ts).
  t.is((await raw.call('MULTI')).toString(), '+OK\r\n');
  t.is((await raw.call('DISCARD')).toString(), '+OK\r\n');
  t.is((await raw.call('BLPOP', 'q', '0.01')).toString(), '*-1\r\n');
  t.regex((await raw.call('MONITOR')).toString(), /^-ERR Kvstore does not support MONITOR: /);
  t.regex((await raw.call('CLUSTER', 'INFO')).toString(), /^-ERR Kvstore does not support CLUSTER INFO: /);
  t.is((await raw.call('NOSUCH', 'a', 'b')).toString(), "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n");
  t.is((await raw.call('GET')).toString(), "-ERR wrong number of arguments for 'get' command\r\n");
  t.is((await raw.call('GET', 'k')).toString(), '$-1\r\n');
  // Inline commands, as telnet sends them (with quotes too).
  raw.write('SET inl "two words"\r\nGET inl\r\nMGET inl a b\r\n');
  t.deepEqual((await raw.replies(3)).map(String), ['+OK\r\n', '$9\r\ntwo words\r\n', '*3\r\n$9\r\ntwo words\r\n$-1\r\n$-1\r\n']);
});

test('AUTH: clients need the password; backends get their own credentials', async (t) => {
  const kv = await startProxy(t, {
    shards: 2,
    config: { password: 'client-secret', backend: { password: 'backend-secret' } },
    redis: { args: ['--requirepass', 'backend-secret'] },
  });
  const raw = await RawClient.connect(kv.port);
  t.teardown(() => raw.close());
  t.is((await raw.call('GET', 'k')).toString(), '-NOAUTH Authentication required.\r\n');
  t.is((await raw.call('AUTH', 'wrong')).toString(), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  t.is((await raw.call('AUTH', 'client-secret')).toString(), '+OK\r\n');
  t.is((await raw.call('SET', 'k', 'v')).toString(), '+OK\r\n');
  const r = kv.client({ password: 'client-secret' });
  t.is(await r.get('k'), 'v');
  const r2 = kv.client({ username: 'default', password: 'client-secret' });
  t.deepEqual(await r2.mget('k', 'x', 'y', 'z'), ['v', null, null, null]);
  // Wrong backend password: every request fails with an error naming the shard.
  const bad = await startProxy(t, {
    servers: kv.redis,
    config: { backend: { password: 'nope' }, timeouts: { requestMs: 1000 } },
  });
  const rb = await RawClient.connect(bad.port);
  t.teardown(() => rb.close());
  t.regex((await rb.call('GET', 'k')).toString(), /^-ERR Kvstore: shard 's\d' \(127\.0\.0\.1:\d+\) .*AUTH/);
});

test('maxClients rejects extra clients with Redis\'s error; FLUSHDB can be disabled', async (t) => {
  const kv = await startProxy(t, { shards: 1, config: { limits: { maxClients: 2 }, allowFlush: false } });
  const a = await RawClient.connect(kv.port);
  const b = await RawClient.connect(kv.port);
  t.teardown(() => {
    a.close();
    b.close();
  });
  t.is((await a.call('PING')).toString(), '+PONG\r\n');
  const c = await RawClient.connect(kv.port);
  t.is((await c.reply()).toString(), '-ERR max number of clients reached\r\n');
  t.true(await c.closesWithin(2000));
  t.is((await b.call('FLUSHDB')).toString(), '-ERR Kvstore: FLUSHDB and FLUSHALL are disabled (allowFlush: false)\r\n');
  t.is(kv.proxy.stats().clients, 2);
  t.is(kv.proxy.stats().commands.ping.calls, 1);
});

test('applyTopology moves slots: commands follow the new routing table at once', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const r = kv.client();
  await r.set('moved', 'on-old');
  const owner = shardOf2('moved');
  // Point every slot at the other shard (as cache-mode ejection does).
  const other = 1 - owner;
  kv.proxy.applyTopology({
    ...kv.topology,
    epoch: 2,
    shards: kv.topology.shards.map((s, i) => ({ ...s, slots: i === other ? [[0, 16383]] : [] })),
  });
  t.is(await r.get('moved'), null);
  await r.set('moved', 'on-new');
  t.is(await kv.shardClient(other).get('moved'), 'on-new');
  t.is(await kv.shardClient(owner).get('moved'), 'on-old');
  t.is(kv.proxy.stats().epoch, 2);
});

function shardOf2(key: string): number {
  return slotOf(key) <= 8191 ? 0 : 1;
}

test('large values and many connections', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r = kv.client();
  const big = Buffer.alloc(20 * 1024 * 1024, 'abcdefghij');
  t.is(await r.set('huge', big), 'OK');
  t.true((await r.getBuffer('huge'))!.equals(big));
  const parts = ['p1', 'p2', 'p3', 'p4'].map((k, i) => [k, Buffer.alloc(3 * 1024 * 1024, String(i))] as const);
  t.is(await r.mset(...parts.flat()), 'OK');
  const values = await r.mgetBuffer(...parts.map(([k]) => k), 'huge');
  parts.forEach(([, v], i) => t.true(values[i]!.equals(v)));
  t.true(values[4]!.equals(big));
  // 300 connections at once, each with its own little pipeline.
  const clients = Array.from({ length: 300 }, () => kv.client());
  const results = await Promise.all(clients.map((c, i) => c.pipeline().set(`conn:${i}`, String(i)).get(`conn:${i}`).exec()));
  t.true(results.every((res, i) => res![1][1] === String(i)));
  t.is(kv.proxy.stats().clients, 301);
});

test('a shard marked down fails fast with its name; unowned slots get CLUSTERDOWN', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const r = kv.client();
  const onShard0 = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].find((k) => shardOf2(k) === 0)!;
  const onShard1 = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].find((k) => shardOf2(k) === 1)!;
  kv.proxy.applyTopology({ ...kv.topology, epoch: 2, shards: kv.topology.shards.map((s, i) => (i === 0 ? { ...s, state: 'down' } : s)) });
  await t.throwsAsync(r.get(onShard0), { message: `CLUSTERDOWN The cluster is down: shard 's0' (${kv.redis[0].address}) has no reachable master` });
  t.is(await r.set(onShard1, 'v'), 'OK');
  await t.throwsAsync(r.mget(onShard0, onShard1), { message: /CLUSTERDOWN .*shard 's0' .* has no reachable master/ });
  kv.proxy.applyTopology({ ...kv.topology, epoch: 3, shards: kv.topology.shards.map((s, i) => (i === 0 ? { ...s, slots: [] } : s)) });
  await t.throwsAsync(r.get(onShard0), { message: 'CLUSTERDOWN Hash slot not served' });
  t.is(await r.get(onShard1), 'v');
});

test('applyConfig: limits, password and flush policy change live', async (t) => {
  const kv = await startProxy(t, { shards: 2 });
  const before = await RawClient.connect(kv.port);
  t.teardown(() => before.close());
  t.is((await before.call('SET', 'k', 'v')).toString(), '+OK\r\n');
  const next = { ...kv.config, password: 'now-secret', allowFlush: false, crossSlot: 'shard' as const };
  kv.proxy.applyConfig(next);
  t.is((await before.call('GET', 'k')).toString(), '$1\r\nv\r\n', 'already connected clients stay authenticated');
  t.regex((await before.call('FLUSHALL')).toString(), /disabled/);
  const after = await RawClient.connect(kv.port);
  t.teardown(() => after.close());
  t.is((await after.call('GET', 'k')).toString(), '-NOAUTH Authentication required.\r\n');
  t.is((await after.call('AUTH', 'now-secret')).toString(), '+OK\r\n');
  t.is((await after.call('GET', 'k')).toString(), '$1\r\nv\r\n');
});

test('one command with 100,000 keys (the parse arrays grow) splits and merges correctly', async (t) => {
  const kv = await startProxy(t, { shards: 3 });
  const r = kv.client();
  const keys = Array.from({ length: 100_000 }, (_, i) => `wide:${i}`);
  // Arrays, not spreads: 200,000 arguments would overflow the test's own stack.
  t.is(await r.mset(keys.flatMap((k, i) => [k, String(i)])), 'OK');
  const values = await r.mget(keys);
  t.is(values.length, keys.length);
  t.true(values.every((v, i) => v === String(i)));
  t.is(await r.del(keys), keys.length);
  t.is(await r.dbsize(), 0);
});

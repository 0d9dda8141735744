/**
 * Scripts and functions on every shard, end to end (`kvstore start`, 2 workers, real
 * redis-servers): loaded through the proxy, recorded by the primary in the topology, and loaded
 * into a shard that joins, a promoted replica and a cache-mode shard that rejoins empty, before
 * any of them serves: EVALSHA and FCALL never answer NOSCRIPT.
 */
import test from 'ava';
import Redis from 'ioredis';
import { RespClient, RespValue } from '../../src/resp';
import type { TopologySnapshot } from '../../src/topology/types';
import { eventually, KvstoreProcess, startKvstore } from '../helpers/kvstore';
import { startRedisGroup } from '../helpers/redis';
import { shardOf, startShards } from './failover-helpers';

const SCRIPT = "return {KEYS[1], redis.call('incr', KEYS[1])}";
const LIBRARY =
  "#!lua name=kvlib\nredis.register_function{function_name='kvget', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}}";

async function topology(kv: KvstoreProcess): Promise<TopologySnapshot> {
  return (await kv.admin<TopologySnapshot>('GET', '/topology?routing=1')).body;
}

function proxy(t: { teardown(fn: () => void): void }, port: number): RespClient {
  const c = new RespClient(`127.0.0.1:${port}`, { strings: true });
  t.teardown(() => c.close());
  return c;
}

/** One key per shard of `snapshot` (by name). */
function keyPerShard(snapshot: TopologySnapshot): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; out.size < snapshot.shards.length && i < 100_000; i++) {
    const key = `k:${i}`;
    const shard = shardOf(snapshot, key);
    if (!out.has(shard)) out.set(shard, key);
  }
  return out;
}

async function directExists(address: string, sha: string): Promise<RespValue> {
  const c = new RespClient(address);
  try {
    return ((await c.command(['SCRIPT', 'EXISTS', sha])) as RespValue[])[0];
  } finally {
    c.close();
  }
}

/** Load the script and the library through the proxy; wait until the primary recorded both. */
async function loadBoth(t: { is(a: unknown, b: unknown, m?: string): void }, kv: KvstoreProcess, c: RespClient): Promise<string> {
  const sha = (await c.command(['SCRIPT', 'LOAD', SCRIPT])) as string;
  t.is((await c.command(['FUNCTION', 'LOAD', LIBRARY])) as string, 'kvlib');
  await eventually(async () => {
    const s = (await topology(kv)).scripts;
    return s !== undefined && s.lua.length === 1 && s.functions !== '' ? s : null;
  }, 10_000, 'scripts recorded in the topology');
  return sha;
}

async function callEverywhere(t: { is(a: unknown, b: unknown, m?: string): void; deepEqual(a: unknown, b: unknown, m?: string): void }, c: RespClient, snapshot: TopologySnapshot, sha: string): Promise<void> {
  for (const [shard, key] of keyPerShard(snapshot)) {
    await c.command(['DEL', key]);
    const r = (await c.command(['EVALSHA', sha, '1', key])) as RespValue[];
    t.is(r[0], key, `EVALSHA on ${shard}`);
    await c.command(['SET', key, `v-${shard}`]);
    t.is(await c.command(['FCALL', 'kvget', '1', key]), `v-${shard}`, `FCALL on ${shard}`);
    t.is(await c.command(['FCALL_RO', 'kvget', '1', key]), `v-${shard}`, `FCALL_RO on ${shard}`);
  }
}

test('SCRIPT/FUNCTION fan out with merged replies; add a shard + rebalance: EVALSHA and FCALL on keys of every shard, no NOSCRIPT; FUNCTION DUMP/RESTORE round trip', async (t) => {
  const kv = await startKvstore(t, { shards: 3, workers: 2 });
  const c = proxy(t, kv.port);
  const sha = await loadBoth(t, kv, c);
  t.deepEqual(await c.command(['SCRIPT', 'EXISTS', sha, '0'.repeat(40)]), [1, 0]);
  await callEverywhere(t, c, await topology(kv), sha);

  // Merged replies and clear errors.
  await t.throwsAsync(c.command(['FUNCTION', 'LOAD', LIBRARY]), { message: "ERR Library 'kvlib' already exists" }, 'the same error everywhere passes through');
  const list = (await c.command(['FUNCTION', 'LIST'])) as RespValue[];
  t.is((list[0] as RespValue[])[1], 'kvlib');
  const stats = (await c.command(['FUNCTION', 'STATS'])) as RespValue[];
  t.is(stats[0], 'running_script');
  t.is(stats[1], null);
  await t.throwsAsync(c.command(['SCRIPT', 'KILL']), { message: /^NOTBUSY/ });
  await t.throwsAsync(c.command(['FUNCTION', 'KILL']), { message: /^NOTBUSY/ });
  // A shard that lacks what the others have: the disagreement is named, not hidden.
  const s0 = new Redis({ port: kv.redis[0].port, host: '127.0.0.1' });
  t.teardown(() => s0.disconnect());
  await s0.call('FUNCTION', 'DELETE', 'kvlib');
  await t.throwsAsync(c.command(['FUNCTION', 'DELETE', 'kvlib']), { message: /^ERR Kvstore: FUNCTION DELETE gave different results on the shards \(s1: -ERR Library not found; s2: \+OK; s3: \+OK\)/ });
  t.is(await c.command(['FUNCTION', 'LOAD', LIBRARY]), 'kvlib');

  // DUMP / FLUSH / RESTORE round trip through the proxy.
  const dump = (await new RespClient(`127.0.0.1:${kv.port}`).command(['FUNCTION', 'DUMP'])) as Buffer;
  t.true(Buffer.isBuffer(dump) && dump.length > 0);
  t.is(await c.command(['FUNCTION', 'FLUSH']), 'OK');
  await t.throwsAsync(c.command(['FCALL', 'kvget', '1', 'x']), { message: /Function not found/ });
  t.is(await c.command(['FUNCTION', 'RESTORE', dump]), 'OK');
  await eventually(async () => ((await topology(kv)).scripts?.functions ?? '') !== '', 10_000, 'functions recorded again');

  // A 4th shard: it has the script and the library as soon as it is in the topology.
  const [extra] = await startRedisGroup(1, t.teardown);
  const added = await kv.admin('POST', '/shards', { name: 's4', master: extra.address });
  t.is(added.status, 201, added.text);
  t.is(await directExists(extra.address, sha), 1, 'loaded before the shard joined');
  const started = await kv.admin('POST', '/reshard/rebalance', {});
  t.is(started.status, 202, started.text);
  await eventually(async () => {
    const j = (await kv.admin('GET', `/jobs/${started.body.id}`)).body;
    return j.state !== 'running' ? j : null;
  }, 60_000, 'rebalance');
  const after = await topology(kv);
  t.is(after.shards.length, 4);
  t.true(after.shards[3].slots.length > 0, 's4 owns slots');
  await callEverywhere(t, c, after, sha);

  // SCRIPT FLUSH empties the record too.
  t.is(await c.command(['SCRIPT', 'FLUSH', 'ASYNC']), 'OK');
  await eventually(async () => ((await topology(kv)).scripts?.lua.length === 0 ? true : null), 10_000, 'scripts forgotten');
  t.deepEqual(await c.command(['SCRIPT', 'EXISTS', sha]), [0]);
});

test('store mode: a promoted replica gets the Lua scripts (not replicated by Redis) before it serves', async (t) => {
  const shards = await startShards(2, 1, t.teardown);
  const kv = await startKvstore(t, {
    shards: 0,
    workers: 2,
    config: { mode: 'store', shards: shards.map((s) => ({ name: s.name, master: s.master.address, replicas: s.replicas.map((r) => r.address) })) },
  });
  const c = proxy(t, kv.port);
  const sha = await loadBoth(t, kv, c);
  t.is(await directExists(shards[0].replicas[0].address, sha), 0, 'Redis does not replicate SCRIPT LOAD');
  await shards[0].master.kill();
  await eventually(async () => (await topology(kv)).shards[0].master === shards[0].replicas[0].address, 20_000, 'promotion');
  t.is(await directExists(shards[0].replicas[0].address, sha), 1);
  await callEverywhere(t, c, await topology(kv), sha);
});

test('cache mode: a shard that restarts empty rejoins with the scripts and functions', async (t) => {
  const shards = await startShards(2, 0, t.teardown);
  const kv = await startKvstore(t, {
    shards: 0,
    workers: 2,
    config: {
      mode: 'cache',
      health: { intervalMs: 200, timeoutMs: 500, downAfter: 2, upAfter: 2, rejoinAfterMs: 1000 },
      shards: shards.map((s) => ({ name: s.name, master: s.master.address, replicas: [] })),
    },
  });
  const c = proxy(t, kv.port);
  const sha = await loadBoth(t, kv, c);
  const s2 = shards[1].master;
  await s2.kill();
  await eventually(async () => (await topology(kv)).shards[1].state === 'down', 15_000, 's2 ejected');
  await s2.restart(); // empty: no persistence, no scripts
  t.is(await directExists(s2.address, sha), 0);
  await eventually(async () => (await topology(kv)).shards[1].state === 'up', 20_000, 's2 rejoined');
  t.is(await directExists(s2.address, sha), 1);
  await callEverywhere(t, c, await topology(kv), sha);
});

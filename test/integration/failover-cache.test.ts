/**
 * Cache mode, components only (health checks + CacheFailover + TopologyStore), with a client that
 * routes by the topology as a worker does. Default health settings, so the measured error
 * window is the one users get.
 */
import test from 'ava';
import Redis from 'ioredis';
import { routingTable } from '../../src/topology/slots';
import { DEFAULT_HEALTH, FAST_HEALTH, filledLoad, ioredisOptions, ready, shardOf, sleep, startManager, startShards, testConfig, topologyClient, waitFor } from './failover-helpers';

test('cache mode: kill -9 a master → its slots move to the others, its keys miss, others hit; after rejoin (flushed) no stale read', async (t) => {
  const shards = await startShards(3, 0, t.teardown, { s2: { persistence: true } });
  // s2 keeps an RDB so it restarts with its OLD values: the case the flush-before-rejoin exists for.
  const s2 = shards[1].master;
  const config = testConfig(shards, 'cache', '', { health: DEFAULT_HEALTH });
  const { store, manager } = await startManager(config, t.teardown);

  const { client, load } = await filledLoad(t, topologyClient(() => store.snapshot), { workers: 4, keysPerWorker: 50, pauseMs: 2 });

  // Probe keys, untouched by the load: v1 now, v2 during the outage.
  const probes = Array.from({ length: 300 }, (_, i) => `probe:${i}`);
  for (const k of probes) await client.set(k, `${k}:v1`);
  const before = store.snapshot;
  const onS2 = probes.filter((k) => shardOf(before, k) === 's2');
  const elsewhere = probes.filter((k) => shardOf(before, k) !== 's2');
  t.true(onS2.length > 50 && elsewhere.length > 100);

  const direct = new Redis(ioredisOptions(s2.port));
  direct.on('error', () => undefined);
  await (await ready(direct)).save();
  direct.disconnect();

  load.start();
  await sleep(500);
  const killedAt = Date.now();
  await s2.kill();
  await waitFor('s2 ejected', () => store.snapshot.shards[1].state === 'down');
  const ejectMs = Date.now() - killedAt;
  await load.waitHealthy(1000);
  const window = load.errorWindowSince(killedAt);
  t.log(`cache eject: detected+rerouted ${ejectMs} ms after kill -9; client error window ${window} ms (${load.errorsSince(killedAt).length} failed requests of ${load.ops}) with health ${JSON.stringify(DEFAULT_HEALTH)}`);

  // Nothing routes to the ejected shard; its slots are spread over s1 and s3.
  const table = routingTable(store.snapshot);
  t.false(table.includes(1));
  t.true(store.snapshot.epoch > before.epoch);

  // Its keys miss, the others hit.
  const missing = await Promise.all(onS2.map((k) => client.get(k)));
  t.true(missing.every((v) => v === null));
  const present = await Promise.all(elsewhere.map((k) => client.get(k)));
  t.deepEqual(present, elsewhere.map((k) => `${k}:v1`));
  for (const k of onS2) await client.set(k, `${k}:v2`);

  // Requests the test client sent to the killed s2 must end (failed or timed out: commandTimeout
  // 2000 ms) before a new process listens on that port, or ioredis's reconnect could deliver them
  // to the restarted s2 and read its old values before any routing lets a client reach it.
  await sleep(2500);
  // Restart s2 with its old data (RDB); it must be flushed before it gets its slots back.
  await s2.restart();
  const check = new Redis(ioredisOptions(s2.port));
  check.on('error', () => undefined);
  t.teardown(() => check.disconnect());
  await waitFor('s2 loaded', async () => (await ready(check).then((c) => c.dbsize()).catch(() => 0)) > 0);
  const rejoinStarted = Date.now();
  await waitFor('s2 rejoined', () => store.snapshot.shards[1].state === 'up', 20_000);
  t.log(`cache rejoin: ${Date.now() - rejoinStarted} ms after restart (rejoinAfterMs ${DEFAULT_HEALTH.rejoinAfterMs})`);
  t.is(store.snapshot.routing, undefined);
  t.deepEqual([...routingTable(store.snapshot)], [...routingTable(before)]);

  // No stale value: the v1s from the RDB were flushed; v2 lives on the substitute (now a miss).
  const after = await Promise.all(onS2.map((k) => client.get(k)));
  t.true(after.every((v) => v === null || v === `${onS2[after.indexOf(v)]}:v2`), `stale: ${after.filter((v) => v?.endsWith(':v1')).slice(0, 3)}`);
  t.false(after.some((v) => v !== null && v.endsWith(':v1')));
  await sleep(1000);
  await load.stop();
  t.deepEqual(load.staleReads, []);
  t.true(load.hits > 0 && load.misses > 0);
  const kinds = manager.status().events.map((e) => `${e.kind} ${e.shard}`);
  t.deepEqual(kinds, ['eject s2', 'rejoin s2']);
});

test('cache mode: a second outage of the same shard never serves values left on the substitutes by the first (orphan sweep)', async (t) => {
  const shards = await startShards(3, 0, t.teardown);
  const s2 = shards[1].master;
  const config = testConfig(shards, 'cache', '', { health: FAST_HEALTH });
  const { store, manager } = await startManager(config, t.teardown);
  const client = topologyClient(() => store.snapshot);
  t.teardown(() => client.close());
  const keys = Array.from({ length: 300 }, (_, i) => `{user${i}}:name`);
  const onS2 = keys.filter((k) => shardOf(store.snapshot, k) === 's2');
  const other = keys.filter((k) => shardOf(store.snapshot, k) !== 's2');
  for (const k of keys) await client.set(k, 'v1');

  await s2.kill();
  await waitFor('s2 ejected', () => store.snapshot.shards[1].state === 'down');
  for (const k of onS2) await client.set(k, 'v2'); // lands on s1/s3
  await s2.restart();
  await waitFor('s2 rejoined', () => store.snapshot.shards[1].state === 'up');
  for (const k of onS2) await client.set(k, 'v3'); // on s2 again
  await manager.idle();
  const sweep = manager.status().lastSweep!;
  t.deepEqual(sweep.errors, []);
  t.is(sweep.results.reduce((n, r) => n + r.deleted, 0), onS2.length);

  await s2.kill();
  await waitFor('s2 ejected again', () => store.snapshot.shards[1].state === 'down');
  const values = await Promise.all(onS2.map((k) => client.get(k)));
  t.false(values.includes('v2'), 'a value from the first outage came back');
  t.true(values.every((v) => v === null));
  // Keys the sweep must not touch: those routed to their shard.
  t.deepEqual(await Promise.all(other.map((k) => client.get(k))), other.map(() => 'v1'));
});

test('cache mode: a routing table left stale by another change (slots moved while a shard is out) is recomputed', async (t) => {
  const shards = await startShards(3, 0, t.teardown);
  const config = testConfig(shards, 'cache', '', { health: FAST_HEALTH });
  const { store, manager } = await startManager(config, t.teardown);
  await shards[2].master.kill();
  await waitFor('s3 ejected', () => store.snapshot.shards[2].state === 'down');
  // Resharding-like change: s1 gives slots 0-99 to s2 without touching `routing`.
  store.update((d) => {
    d.shards[0].slots = [[100, d.shards[0].slots[0][1]]];
    d.shards[1].slots = [[0, 99], ...d.shards[1].slots];
  });
  await waitFor('routing recomputed', () => routingTable(store.snapshot)[0] === 1);
  const table = routingTable(store.snapshot);
  t.false(table.includes(2));
  t.is(table[100], 0);
});

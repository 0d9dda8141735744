/**
 * Store mode, components only (health checks + StoreFailover + TopologyStore), with a client
 * that routes by the topology as a worker does. Default health settings for the measured window.
 */
import test from 'ava';
import Redis from 'ioredis';
import { replicationInfo } from '../../src/failover/replication';
import {
  DEFAULT_HEALTH, FAST_HEALTH, filledLoad, ReplicationConfirmer, ioredisOptions, ready, shardOf, sleep, startManager, startShards, testConfig, topologyClient, waitFor, waitForLink,
} from './failover-helpers';

const conn = { timeoutMs: 1000 };

async function direct(port: number, t: { teardown(fn: () => void): void }): Promise<Redis> {
  const c = new Redis(ioredisOptions(port));
  c.on('error', () => undefined);
  t.teardown(() => c.disconnect());
  return ready(c);
}

test('store mode: kill -9 a master → the most advanced replica is promoted, confirmed writes survive, the old master comes back as a replica', async (t) => {
  const shards = await startShards(2, 2, t.teardown);
  const [s1] = shards;
  const [r1, r2] = s1.replicas;
  // r2 stops replicating (points nowhere) so r1 is strictly ahead: r1 must be the one promoted.
  const r2c = await direct(r2.port, t);
  await r2c.call('REPLICAOF', '127.0.0.1', '1');
  const config = testConfig(shards, 'store', '', { health: DEFAULT_HEALTH });
  const { store, manager } = await startManager(config, t.teardown);

  const { client, load } = await filledLoad(t, topologyClient(() => store.snapshot), { workers: 4, keysPerWorker: 50, pauseMs: 2 });
  const confirmer = new ReplicationConfirmer(load, () => store.snapshot.shards.map((s) => s.master));
  t.true(await confirmer.round());
  load.start();
  confirmer.start(100);
  await sleep(1000);
  const epochBefore = store.snapshot.epoch;
  const killedAt = Date.now();
  await s1.master.kill();
  await waitFor('s1 promoted', () => store.snapshot.shards[0].master !== s1.master.address);
  const promotedMs = Date.now() - killedAt;
  await load.waitHealthy(1000);
  const window = load.errorWindowSince(killedAt);
  t.log(`store promote: new master in topology ${promotedMs} ms after kill -9; client error window ${window} ms (${load.errorsSince(killedAt).length} failed requests of ${load.ops}) with health ${JSON.stringify(DEFAULT_HEALTH)}`);
  await confirmer.stop();
  await load.stop();

  const s1now = store.snapshot.shards[0];
  t.is(s1now.master, r1.address);
  t.deepEqual(new Set(s1now.replicas), new Set([r2.address, s1.master.address]));
  t.is(s1now.state, 'up');
  t.true(store.snapshot.epoch > epochBefore);
  t.is((await replicationInfo(r1.address, conn)).role, 'master');

  // Every write confirmed replicated before the kill is readable (at that version or newer).
  t.true(confirmer.confirmed.size >= 200);
  const lost: string[] = [];
  for (const [key, seq] of confirmer.confirmed) {
    const v = await client.get(key);
    if (v === null || Number(v.slice(v.lastIndexOf(':') + 1)) < seq) lost.push(`${key} want>=${seq} got ${v}`);
  }
  t.deepEqual(lost, []);
  t.deepEqual(load.staleReads, []);

  // The lagging replica now follows the new master.
  await waitFor('r2 repointed', async () => {
    const info = await replicationInfo(r2.address, conn);
    return info.role === 'slave' && info.masterPort === r1.port;
  });

  // The old master restarts (empty, as a master) and is made a replica of the new one.
  await s1.master.restart();
  await waitFor('old master demoted', async () => {
    const info = await replicationInfo(s1.master.address, conn).catch(() => undefined);
    return info?.role === 'slave' && info.masterPort === r1.port;
  });
  await waitForLink(s1.master.port);
  t.is((await replicationInfo(r1.address, conn)).role, 'master');
  const kinds = manager.status().events.map((e) => `${e.kind} ${e.shard}`);
  t.true(kinds.includes('promote s1') && kinds.includes('demote s1'), kinds.join(','));
  const old = await direct(s1.master.port, t);
  const keysOnS1 = load.keys().filter((k) => shardOf(store.snapshot, k) === 's1');
  t.true(keysOnS1.length > 50);
  for (const k of keysOnS1) t.is(await old.get(k), await client.get(k));
});

test('store mode: no healthy replica → the shard is down (CLUSTERDOWN), and up again when its master returns', async (t) => {
  const shards = await startShards(2, 1, t.teardown);
  const [, s2] = shards;
  const config = testConfig(shards, 'store', '', { health: FAST_HEALTH });
  const { store, manager } = await startManager(config, t.teardown);
  await s2.replicas[0].kill();
  await s2.master.kill();
  await waitFor('s2 down', () => store.snapshot.shards[1].state === 'down');
  t.is(store.snapshot.shards[1].master, s2.master.address);
  const status = manager.status();
  const m = status.backends.find((b) => b.address === s2.master.address)!;
  t.is(m.state, 'down');
  t.is(m.role, 'master');
  t.is(m.shard, 's2');
  t.truthy(m.lastError);
  t.true(status.events.some((e) => e.kind === 'shard-down' && e.shard === 's2'));

  await s2.master.restart();
  await waitFor('s2 up', () => store.snapshot.shards[1].state === 'up');
  t.is(store.snapshot.shards[1].master, s2.master.address);
});

test('store mode: a replica comes back while the master is still down → it is promoted', async (t) => {
  const shards = await startShards(1, 1, t.teardown);
  const [s1] = shards;
  const config = testConfig(shards, 'store', '', { health: FAST_HEALTH });
  const { store, manager } = await startManager(config, t.teardown);
  await s1.replicas[0].kill();
  await s1.master.kill();
  await waitFor('s1 down', () => store.snapshot.shards[0].state === 'down');
  await s1.replicas[0].restart();
  await waitFor('replica promoted', () => store.snapshot.shards[0].master === s1.replicas[0].address && store.snapshot.shards[0].state === 'up');
  t.is((await replicationInfo(s1.replicas[0].address, conn)).role, 'master');
});

test('store mode: planned switchover under load loses no acknowledged write', async (t) => {
  const shards = await startShards(2, 1, t.teardown);
  const [s1] = shards;
  const config = testConfig(shards, 'store', '', { health: DEFAULT_HEALTH });
  const { store, manager } = await startManager(config, t.teardown);
  const { client, load } = await filledLoad(t, topologyClient(() => store.snapshot), { workers: 6, keysPerWorker: 50 });
  load.start();
  await sleep(500);
  const started = Date.now();
  const result = await manager.switchover('s1');
  const tookMs = Date.now() - started;
  await sleep(500);
  await load.stop();
  const errors = load.errorsSince(started);
  t.log(`switchover s1 ${result.from} → ${result.to}: ${tookMs} ms, writes paused ${result.pausedMs} ms, ${errors.length} failed requests of ${load.ops} (${[...new Set(errors.map((e) => e.message))].slice(0, 3).join(' | ')})`);
  t.is(result.to, s1.replicas[0].address);
  t.is(store.snapshot.shards[0].master, s1.replicas[0].address);
  t.deepEqual(store.snapshot.shards[0].replicas, [s1.master.address]);
  t.is(store.snapshot.epoch, result.epoch);

  // Every acknowledged write is readable at its version or newer.
  const lost: string[] = [];
  for (const [key, seq] of load.acked) {
    const v = await client.get(key);
    if (v === null || Number(v.slice(v.lastIndexOf(':') + 1)) < seq) lost.push(`${key} want>=${seq} got ${v}`);
  }
  t.deepEqual(lost, []);
  t.deepEqual(load.staleReads, []);
  const old = await replicationInfo(s1.master.address, conn);
  t.is(old.role, 'slave');
  t.is(old.masterPort, s1.replicas[0].port);
  // Writes are not left paused on the old master (reads there work, writes get READONLY at once).
  const oldc = await direct(s1.master.port, t);
  await t.throwsAsync(oldc.set('x', '1'), { message: /READONLY/ });
  // ...and replicates from the new master (partial resync after the swap).
  await waitForLink(s1.master.port);
  const probe = Array.from({ length: 100 }, (_, i) => `after${i}`).find((k) => shardOf(store.snapshot, k) === 's1')!;
  await client.set(probe, 'new');
  await waitFor('write replicated to the old master', async () => (await oldc.get(probe)) === 'new');

  await t.throwsAsync(manager.switchover('nope'), { message: /unknown shard/ });
});

/**
 * Failover end to end: `kvstore start` (primary + 2 workers) over real redis-servers, a steady
 * mixed read/write ioredis load through the proxy, default health settings (the error windows
 * logged here are the ones to report).
 */
import test from 'ava';
import Redis from 'ioredis';
import { replicationInfo } from '../../src/failover/replication';
import type { TopologySnapshot } from '../../src/topology/types';
import { eventually, ctl } from '../helpers/kvstore';
import {
  ReplicationConfirmer, filledLoad, proxyClient, Shard, ioredisOptions, ready, shardOf, sleep, startShards, waitFor, waitForLink, startCluster, topologyOf,
} from './failover-helpers';

const conn = { timeoutMs: 1000 };




function versionOf(v: string | null): number {
  return v === null ? 0 : Number(v.slice(v.lastIndexOf(':') + 1));
}

test('e2e cache mode: kill -9 a master under load; errors only during detection; misses on its keys; no stale read after it rejoins', async (t) => {
  const shards = await startShards(3, 0, t.teardown, { s2: { persistence: true } });
  const s2 = shards[1].master;
  const kv = await startCluster(t, shards, 'cache', { health: { rejoinAfterMs: 3000 } });
  const { client, load } = await filledLoad(t, proxyClient(kv.port), { workers: 6, keysPerWorker: 100, pauseMs: 1 });
  const probes = Array.from({ length: 300 }, (_, i) => `probe:${i}`);
  for (const k of probes) await client.set(k, `${k}:1`);
  const before = await topologyOf(kv);
  const onS2 = probes.filter((k) => shardOf(before, k) === 's2');
  const elsewhere = probes.filter((k) => shardOf(before, k) !== 's2');
  const d = new Redis(ioredisOptions(s2.port));
  d.on('error', () => undefined);
  await (await ready(d)).save(); // s2 restarts with these (old) values
  d.disconnect();

  load.start();
  await sleep(1000);
  const killedAt = Date.now();
  await s2.kill();
  await eventually(async () => (await topologyOf(kv)).shards[1].state === 'down', 15_000, 's2 ejected');
  const ejectedMs = Date.now() - killedAt;
  await load.waitHealthy(2000, 40_000);
  const window = load.errorWindowSince(killedAt);
  const errs = load.errorsSince(killedAt);
  t.log(`CACHE e2e: ejected ${ejectedMs} ms after kill -9; error window ${window} ms; ${errs.length} failed of ${load.ops} ops; errors: ${[...new Set(errs.map((e) => e.message.replace(/\d+/g, 'N')))].slice(0, 4).join(' | ')}`);

  t.true((await Promise.all(onS2.map((k) => client.get(k)))).every((v) => v === null));
  t.deepEqual(await Promise.all(elsewhere.map((k) => client.get(k))), elsewhere.map((k) => `${k}:1`));
  for (const k of onS2) await client.set(k, `${k}:2`);

  await s2.restart();
  const restartedAt = Date.now();
  await eventually(async () => (await topologyOf(kv)).shards[1].state === 'up', 30_000, 's2 rejoined');
  const rejoinedAt = Date.now();
  t.log(`CACHE e2e: rejoined ${rejoinedAt - restartedAt} ms after restart`);
  const after = await Promise.all(onS2.map((k) => client.get(k)));
  t.false(after.some((v) => v !== null && v.endsWith(':1')), 'an old value from before the outage came back');
  await sleep(2000);
  await load.stop();
  t.deepEqual(load.staleReads, []);
  const rejoinErrors = load.errorsSince(rejoinedAt - 100);
  t.log(`CACHE e2e: ${rejoinErrors.length} failed requests around the rejoin`);
  t.deepEqual(rejoinErrors, []);
  const topo = await topologyOf(kv);
  t.is(topo.routing, undefined);
  const metrics = (await kv.admin('GET', '/metrics')).text;
  t.regex(metrics, /kvstore_failover_events_total\{kind="eject"\} 1/);
  t.regex(metrics, /kvstore_failover_events_total\{kind="rejoin"\} 1/);
  t.regex(metrics, new RegExp(`kvstore_backend_up\\{address="${s2.address}",shard="s2",role="master"\\} 1`));
});

test('e2e store mode: kill -9 a master under load; replica promoted; WAIT-confirmed writes survive; ctl topology shows it; old master returns as replica', async (t) => {
  const shards = await startShards(2, 1, t.teardown);
  const [s1] = shards;
  const kv = await startCluster(t, shards, 'store');
  const { client, load } = await filledLoad(t, proxyClient(kv.port), { workers: 6, keysPerWorker: 100, pauseMs: 1 });
  let masters = (await topologyOf(kv)).shards.map((s) => s.master);
  const confirmer = new ReplicationConfirmer(load, () => masters);
  t.true(await confirmer.round());
  load.start();
  confirmer.start(100);
  await sleep(1500);
  const epochBefore = (await topologyOf(kv)).epoch;
  const killedAt = Date.now();
  await s1.master.kill();
  await eventually(async () => (await topologyOf(kv)).shards[0].master === s1.replicas[0].address, 15_000, 'promotion');
  const promotedMs = Date.now() - killedAt;
  await load.waitHealthy(2000, 40_000);
  const window = load.errorWindowSince(killedAt);
  const errs = load.errorsSince(killedAt);
  t.log(`STORE e2e: promoted ${promotedMs} ms after kill -9; error window ${window} ms; ${errs.length} failed of ${load.ops} ops; errors: ${[...new Set(errs.map((e) => e.message.replace(/\d+/g, 'N')))].slice(0, 4).join(' | ')}`);
  await confirmer.stop();
  await load.stop();

  const lost: string[] = [];
  for (const [key, seq] of confirmer.confirmed) {
    const v = await client.get(key);
    if (versionOf(v) < seq) lost.push(`${key}: confirmed ${seq}, read ${v}`);
  }
  t.log(`STORE e2e: ${confirmer.confirmed.size} keys with WAIT-confirmed writes checked, ${lost.length} lost`);
  t.deepEqual(lost, []);
  t.deepEqual(load.staleReads, []);

  const out = await ctl(kv, 'topology', '--json');
  t.is(out.status, 0, out.stderr);
  const shown = JSON.parse(out.stdout) as TopologySnapshot;
  t.is(shown.shards[0].master, s1.replicas[0].address);
  t.true(shown.shards[0].replicas.includes(s1.master.address));
  t.true(shown.epoch > epochBefore);

  await s1.master.restart();
  await waitFor('old master is a replica of the new one', async () => {
    const info = await replicationInfo(s1.master.address, conn).catch(() => undefined);
    return info?.role === 'slave' && info.masterPort === s1.replicas[0].port;
  });
  await waitForLink(s1.master.port);
  masters = (await topologyOf(kv)).shards.map((s) => s.master);
  t.is((await replicationInfo(s1.replicas[0].address, conn)).role, 'master');
});

test('e2e store mode: planned switchover with `kvstore ctl failover` under load loses no acknowledged write', async (t) => {
  const shards = await startShards(2, 1, t.teardown);
  const [s1] = shards;
  const kv = await startCluster(t, shards, 'store');
  const { client, load } = await filledLoad(t, proxyClient(kv.port), { workers: 8, keysPerWorker: 100 });
  load.start();
  await sleep(1000);
  const started = Date.now();
  const out = await ctl(kv, 'failover', 's1', '--json');
  if (out.status !== 0) {
    await load.stop();
    t.fail(`ctl failover exited ${out.status}: ${out.stderr}`);
    return;
  }
  const result = JSON.parse(out.stdout);
  await sleep(1000);
  await load.stop();
  const errs = load.errorsSince(started);
  t.log(`SWITCHOVER e2e: ${result.from} -> ${result.to}, writes paused ${result.pausedMs} ms, ctl took ${Date.now() - started - 1000} ms; ${errs.length} failed of ${load.ops} ops (${[...new Set(errs.map((e) => e.message.replace(/\d+/g, 'N')))].join(' | ')})`);
  t.is(result.to, s1.replicas[0].address);
  const topo = await topologyOf(kv);
  t.is(topo.shards[0].master, s1.replicas[0].address);
  t.is(topo.epoch, result.epoch);

  const lost: string[] = [];
  for (const [key, seq] of load.acked) {
    const v = await client.get(key);
    if (versionOf(v) < seq) lost.push(`${key}: acked ${seq}, read ${v}`);
  }
  t.log(`SWITCHOVER e2e: ${load.acked.size} keys checked against their last acknowledged write, ${lost.length} lost`);
  t.deepEqual(lost, []);
  t.deepEqual(load.staleReads, []);
  const old = await replicationInfo(s1.master.address, conn);
  t.is(old.role, 'slave');

  const bad = await ctl(kv, 'failover', 'nope');
  t.not(bad.status, 0);
  t.regex(bad.stderr, /unknown shard/);
  t.is((await kv.admin('POST', '/failover', {})).status, 400);
  t.is((await kv.admin('POST', '/failover', { shard: 'nope' })).status, 404);
  const withHealth = (await kv.admin('GET', '/topology')).body;
  t.true(withHealth.backends.some((b: any) => b.address === s1.master.address && b.role === 'replica' && b.state === 'up'));
  t.is(withHealth.routing, undefined);
  const stats = (await kv.admin('GET', '/stats')).body;
  t.is(stats.failover.engine, 'kvstore');
  t.true(stats.failover.events.some((e: any) => e.kind === 'switchover' && e.shard === 's1'));
});

test('e2e store mode: a shard with no healthy replica answers CLUSTERDOWN naming it; in-flight requests to a hung master fail within the request timeout', async (t) => {
  const shards = await startShards(2, 0, t.teardown);
  const [s1] = shards;
  const kv = await startCluster(t, shards, 'store', { timeouts: { requestMs: 1000 } });
  const client = new Redis({ ...ioredisOptions(kv.port), commandTimeout: 10_000 });
  client.on('error', () => undefined);
  t.teardown(() => client.disconnect());
  await ready(client);
  const topo = await topologyOf(kv);
  const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => shardOf(topo, k) === 's1')!;
  const other = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => shardOf(topo, k) === 's2')!;
  await client.set(key, 'v');

  // A hung master: requests in flight must fail with a clear error within timeouts.requestMs.
  s1.master.process().kill('SIGSTOP');
  t.teardown(() => void s1.master.process().kill('SIGCONT'));
  const started = Date.now();
  const err = await t.throwsAsync(client.get(key));
  const took = Date.now() - started;
  t.log(`request to a hung master failed after ${took} ms: ${err?.message}`);
  t.true(took < 1000 + 5000, `a request waited ${took} ms, far past the 1000 ms request timeout`);
  t.regex(err!.message, /s1|127\.0\.0\.1/);
  t.is(await client.get(other), null);

  await eventually(async () => (await topologyOf(kv)).shards[0].state === 'down', 30_000, 's1 down');
  const down = await t.throwsAsync(client.get(key));
  t.regex(down!.message, /^CLUSTERDOWN .*'s1'/);
  // INFO (# Proxy) shows the shard state and the primary's health check of the backend.
  const info = await eventually(async () => {
    const text = await client.info();
    return text.includes(`address=${s1.master.address},shard=s1,role=master,state=down`) ? text : '';
  }, 20_000, 'INFO to show the backend down');
  t.regex(info, /shard_s1:state=down/);
  t.regex(info, /shard_s2:state=up/);
  const h = (await kv.admin('GET', '/failover')).body;
  t.is(h.engine, 'kvstore');
  t.is(h.backends.find((b: any) => b.address === s1.master.address).state, 'down');

  s1.master.process().kill('SIGCONT');
  await eventually(async () => (await topologyOf(kv)).shards[0].state === 'up', 30_000, 's1 up again');
  await eventually(async () => (await client.get(key).catch(() => null)) === 'v', 15_000, 'served again');
  t.pass();
});

test('e2e store mode: a hung master (SIGSTOP) under load is replaced; requests stuck on it are aborted at the switch; WAIT-confirmed writes survive', async (t) => {
  const shards = await startShards(2, 1, t.teardown);
  const [s1] = shards;
  const kv = await startCluster(t, shards, 'store');
  const { client, load } = await filledLoad(t, proxyClient(kv.port), { workers: 6, keysPerWorker: 100, pauseMs: 1 });
  let masters = (await topologyOf(kv)).shards.map((s) => s.master);
  const confirmer = new ReplicationConfirmer(load, () => masters);
  t.true(await confirmer.round());
  load.start();
  confirmer.start(100);
  await sleep(1000);
  const hungAt = Date.now();
  s1.master.process().kill('SIGSTOP');
  t.teardown(() => void s1.master.process().kill('SIGCONT'));
  await eventually(async () => (await topologyOf(kv)).shards[0].master === s1.replicas[0].address, 15_000, 'promotion');
  const promotedMs = Date.now() - hungAt;
  masters = (await topologyOf(kv)).shards.map((s) => s.master);
  await load.waitHealthy(2000, 40_000);
  await confirmer.stop();
  await load.stop();
  const window = load.errorWindowSince(hungAt);
  const errs = load.errorsSince(hungAt);
  const firstErr = errs.length ? errs[0].at - hungAt : 0;
  t.log(`STORE e2e (hung master): promoted ${promotedMs} ms after SIGSTOP; error window ${window} ms (first error at ${firstErr} ms); ${errs.length} failed of ${load.ops} ops; errors: ${[...new Set(errs.map((e) => e.message.replace(/\d+/g, 'N')))].slice(0, 4).join(' | ')}`);
  const verdict = kv.output().split('\n').find((l) => l.includes(`backend ${s1.master.address} is down`));
  t.log(`STORE e2e (hung master): the health checker's verdict: ${verdict ? JSON.parse(verdict).lastError : '(not logged)'}`);
  t.deepEqual(load.staleReads, []);
  const lost: string[] = [];
  for (const [key, seq] of confirmer.confirmed) {
    const v = await client.get(key);
    if (versionOf(v) < seq) lost.push(`${key}: confirmed ${seq}, read ${v}`);
  }
  t.log(`STORE e2e (hung master): ${confirmer.confirmed.size} keys with WAIT-confirmed writes checked, ${lost.length} lost`);
  t.deepEqual(lost, []);
  // The old master wakes up as a master; Kvstore makes it a replica of the new one.
  s1.master.process().kill('SIGCONT');
  await waitFor('old master demoted', async () => {
    const info = await replicationInfo(s1.master.address, conn).catch(() => undefined);
    return info?.role === 'slave' && info.masterPort === s1.replicas[0].port;
  });
});

test('e2e cache mode: a hung master (SIGSTOP) under load is ejected; requests stuck on it fail, then its slots are served elsewhere', async (t) => {
  const shards = await startShards(3, 0, t.teardown);
  const s2 = shards[1].master;
  const kv = await startCluster(t, shards, 'cache');
  const { client, load } = await filledLoad(t, proxyClient(kv.port), { workers: 6, keysPerWorker: 100, pauseMs: 1 });
  load.start();
  await sleep(1000);
  const hungAt = Date.now();
  s2.process().kill('SIGSTOP');
  t.teardown(() => void s2.process().kill('SIGCONT'));
  await eventually(async () => (await topologyOf(kv)).shards[1].state === 'down', 30_000, 'ejection');
  const ejectedMs = Date.now() - hungAt;
  await load.waitHealthy(2000, 40_000);
  await load.stop();
  const window = load.errorWindowSince(hungAt);
  const errs = load.errorsSince(hungAt);
  t.log(`CACHE e2e (hung master): ejected ${ejectedMs} ms after SIGSTOP; error window ${window} ms; ${errs.length} failed of ${load.ops} ops; errors: ${[...new Set(errs.map((e) => e.message.replace(/\d+/g, 'N')))].slice(0, 4).join(' | ')}`);
  t.deepEqual(load.staleReads, []);
  // SIGCONT: the shard is healthy again and gets its slots back (flushed: nothing stale).
  s2.process().kill('SIGCONT');
  await eventually(async () => (await topologyOf(kv)).shards[1].state === 'up', 30_000, 's2 rejoined');
  t.is((await topologyOf(kv)).routing, undefined);
  t.is(await client.set('after-rejoin', 'v'), 'OK');
});

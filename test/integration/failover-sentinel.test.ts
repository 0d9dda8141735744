/**
 * Store mode driven by real redis-sentinel processes: Kvstore promotes nothing itself, it reads
 * masters from Sentinel and follows +switch-master at once.
 */
import test from 'ava';
import { storePublisher } from '../../src/failover/publisher';
import { replicationInfo } from '../../src/failover/replication';
import { SentinelWatcher } from '../../src/failover/SentinelWatcher';
import { initialTopology, TopologyStore } from '../../src/topology/TopologyStore';
import { eventually, startKvstore } from '../helpers/kvstore';
import type { TopologySnapshot } from '../../src/topology/types';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ReplicationConfirmer, filledLoad, proxyClient, sleep, startManager, startSentinels, startShards, testConfig, waitFor,
} from './failover-helpers';

const conn = { timeoutMs: 1000 };

test('Sentinel: a forced SENTINEL FAILOVER is followed from +switch-master; a stale topology is corrected at start', async (t) => {
  const shards = await startShards(1, 1, t.teardown);
  const [s1] = shards;
  const sentinels = await startSentinels(1, [{ name: 'kv-s1', address: s1.master.address, replicas: 1 }], t.teardown);
  const config = testConfig(shards, 'store', '', { sentinels: sentinels.map((s) => s.address), sentinelMasterPrefix: 'kv-' });
  const { store, manager } = await startManager(config, t.teardown);
  t.is(manager.engine, 'sentinel');
  await waitFor('subscribed', () => manager.status().sentinels!.every((s) => s.subscribed));

  const result = await manager.switchover('s1');
  t.is(result.to, s1.replicas[0].address);
  t.is(store.snapshot.shards[0].master, s1.replicas[0].address);
  t.deepEqual(store.snapshot.shards[0].replicas, [s1.master.address]);
  t.true(manager.status().events.some((e) => e.kind === 'sentinel-switch'));
  await waitFor('old master reconfigured by Sentinel', async () => (await replicationInfo(s1.master.address, conn).catch(() => undefined))?.role === 'slave');

  // A proxy whose persisted topology is behind (it was down during the switch) catches up at start.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-failover-state-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const stale = new TopologyStore(dir, initialTopology(config));
  t.is(stale.snapshot.shards[0].master, s1.master.address);
  const watcher = new SentinelWatcher(storePublisher(stale), { sentinels: config.sentinels, prefix: 'kv-', timeoutMs: 1000 });
  await watcher.start();
  t.teardown(() => watcher.stop());
  t.is(stale.snapshot.shards[0].master, s1.replicas[0].address);
  t.is(stale.snapshot.epoch, 2);
});

test('e2e Sentinel: kill -9 a master under load; Sentinel promotes, Kvstore follows; WAIT-confirmed writes survive', async (t) => {
  const shards = await startShards(2, 1, t.teardown);
  const [s1] = shards;
  const sentinels = await startSentinels(3, shards.map((s) => ({ name: `kv-${s.name}`, address: s.master.address, replicas: 1 })), t.teardown);
  const kv = await startKvstore(t, {
    shards: 0,
    workers: 2,
    config: {
      mode: 'store',
      shards: shards.map((s) => ({ name: s.name, master: s.master.address, replicas: s.replicas.map((r) => r.address) })),
      sentinels: sentinels.map((s) => s.address),
      sentinelMasterPrefix: 'kv-',
    },
  });
  const topology = async () => (await kv.admin<TopologySnapshot>('GET', '/topology')).body;
  const { client, load } = await filledLoad(t, proxyClient(kv.port), { workers: 6, keysPerWorker: 100, pauseMs: 1 });
  const masters = (await topology()).shards.map((s) => s.master);
  const confirmer = new ReplicationConfirmer(load, () => masters);
  t.true(await confirmer.round());
  load.start();
  confirmer.start(100);
  await sleep(1500);
  const killedAt = Date.now();
  await s1.master.kill();
  await eventually(async () => (await topology()).shards[0].master === s1.replicas[0].address, 30_000, 'Sentinel-driven switch');
  const switchedMs = Date.now() - killedAt;
  await load.waitHealthy(2000, 30_000);
  const window = load.errorWindowSince(killedAt);
  const errs = load.errorsSince(killedAt);
  t.log(`SENTINEL e2e: topology switched ${switchedMs} ms after kill -9 (Sentinel down-after 1000 ms, 3 sentinels, quorum 2); error window ${window} ms; ${errs.length} failed of ${load.ops} ops`);
  await confirmer.stop();
  await load.stop();
  const lost: string[] = [];
  for (const [key, seq] of confirmer.confirmed) {
    const v = await client.get(key);
    if (v === null || Number(v.slice(v.lastIndexOf(':') + 1)) < seq) lost.push(`${key}: confirmed ${seq}, read ${v}`);
  }
  t.log(`SENTINEL e2e: ${confirmer.confirmed.size} keys with WAIT-confirmed writes checked, ${lost.length} lost`);
  t.deepEqual(lost, []);
  const status = (await kv.admin('GET', '/failover')).body;
  t.is(status.engine, 'sentinel');
  t.true(status.events.some((e: any) => e.kind === 'sentinel-switch' && e.shard === 's1'));
});

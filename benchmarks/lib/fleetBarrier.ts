/**
 * The fleet's coordination alone, with no data path: N simulated proxies, each with its own etcd
 * client, watching the topology and acknowledging each epoch in its member key (as a proxy does
 * once its workers route by it), and one leader that changes the topology (compare-and-swap) and
 * waits for the fleet-wide barrier. Used by benchmarks/fleet-barrier.ts and its test.
 */
import { connectEtcd, EtcdHandle } from '../../src/coordination/etcdClient';
import { EtcdTopology } from '../../src/coordination/EtcdTopology';
import { Membership } from '../../src/coordination/Membership';
import { MemberView } from '../../src/coordination/MemberView';
import { createLogger } from '../../src/log';
import type { TopologySnapshot } from '../../src/topology/types';

export interface BarrierRound {
  epoch: number;
  /** CAS write of the topology. */
  writeMs: number;
  /** From the write to the last member's acknowledgement seen by the leader. */
  barrierMs: number;
  /** Members whose acknowledged epoch was below the round's when the barrier resolved (must be 0). */
  behindAtRelease: number;
}

function seedTopology(): TopologySnapshot {
  return { epoch: 1, mode: 'cache', hash: 'crc16', shards: [{ name: 's1', master: '127.0.0.1:1', replicas: [], state: 'up', slots: [[0, 16383]] }], migrations: [], keyRewrite: [] };
}

export async function runBarrierSimulation(endpoints: string[], members: number, rounds: number, prefix = `/kvstore-barrier-${process.pid}/`): Promise<BarrierRound[]> {
  const log = createLogger('fleet-sim');
  log.level = 'warn';
  const etcdConfig = { endpoints, prefix, leaseTtlMs: 3000, username: '', password: '' };
  const handles: EtcdHandle[] = [];
  const memberships: Membership[] = [];
  const topologies: EtcdTopology[] = [];
  try {
    for (let i = 0; i < members; i++) {
      const etcd = connectEtcd(etcdConfig);
      handles.push(etcd);
      const topo = new EtcdTopology(etcd, prefix, log);
      topologies.push(topo);
      const { snapshot } = await topo.loadOrSeed(seedTopology());
      let acked = snapshot.epoch;
      const m = new Membership(etcd, 3, () => ({ id: `sim${String(i).padStart(3, '0')}`, address: `127.0.0.1:${10000 + i}`, admin: `127.0.0.1:${20000 + i}`, epoch: acked }), log);
      memberships.push(m);
      topo.on('change', (s: TopologySnapshot) => {
        acked = s.epoch; // a real proxy pushes to its workers and waits for their acks first
        void m.publish();
      });
      await topo.watch();
      await m.register();
    }
    const leaderEtcd = handles[0];
    const view = new MemberView(leaderEtcd, prefix, log);
    await view.start();
    await view.waitForEpoch(topologies[0].snapshot!.epoch, 10_000);
    const leaderTopology = new EtcdTopology(leaderEtcd, prefix, log);
    await leaderTopology.refresh();
    const results: BarrierRound[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      const next = await leaderTopology.update((d) => {
        d.keyRewrite = [{ pattern: `round${r}:*`, generation: d.epoch + 1 }];
      });
      const t1 = process.hrtime.bigint();
      await view.waitForEpoch(next.epoch, 10_000);
      const t2 = process.hrtime.bigint();
      results.push({
        epoch: next.epoch,
        writeMs: Number(t1 - t0) / 1e6,
        barrierMs: Number(t2 - t1) / 1e6,
        behindAtRelease: view.list().filter((m) => m.epoch < next.epoch).length + Math.max(0, members - view.list().length),
      });
    }
    await view.close();
    await leaderTopology.close();
    return results;
  } finally {
    await Promise.all(memberships.map((m) => m.stop()));
    await Promise.all(topologies.map((t) => t.close()));
    for (const h of handles) h.close();
  }
}

/**
 * A fleet for integration tests: one etcd (or a 3-member cluster), redis-servers, and N
 * `kvstore start` processes sharing the same shards and etcd prefix, each on its own free
 * ports. Everything is stopped by PID at teardown (see ./kvstore.ts, ./etcd.ts, ./redis.ts).
 */
import { EtcdCluster, startEtcdCluster } from './etcd';
import { eventually, KvstoreProcess, startKvstore, TestContextLike } from './kvstore';
import { RedisProcess, startRedisGroup } from './redis';

export interface FleetOptions {
  proxies?: number;
  shards?: number;
  workers?: number;
  etcdMembers?: number;
  /** Extra config for every proxy. */
  config?: Record<string, unknown>;
  /** Extra config for proxy `index` (0-based), over `config` (its `coordination.etcd` is merged, e.g. its own endpoints). */
  perProxy?: (index: number) => Record<string, unknown>;
  /** Shards given explicitly (e.g. with replicas); `shards` redis-servers are started otherwise. */
  shardList?: Array<{ name: string; master: string; replicas: string[] }>;
}

export interface TestFleet {
  etcd: EtcdCluster;
  redis: RedisProcess[];
  proxies: KvstoreProcess[];
  prefix: string;
  start(index: number): Promise<KvstoreProcess>;
  /** GET /proxies from one proxy. */
  proxiesSeenBy(p: KvstoreProcess): Promise<Array<{ id: string; address: string; admin: string; epoch: number; leader: boolean; leaseAgeMs: number | null }>>;
  leader(): Promise<KvstoreProcess>;
}

export async function startFleet(t: TestContextLike & { title?: string }, options: FleetOptions = {}): Promise<TestFleet> {
  const etcd = await startEtcdCluster(options.etcdMembers ?? 1, t.teardown.bind(t));
  const redis = options.shardList ? [] : await startRedisGroup(options.shards ?? 2, t.teardown.bind(t));
  const shards = options.shardList ?? redis.map((r, i) => ({ name: `s${i + 1}`, master: r.address, replicas: [] }));
  const prefix = `/kvstore-test-${process.pid}-${etcd.members[0].clientPort}/`;
  const proxies: KvstoreProcess[] = [];
  const coordination = (options.config?.coordination ?? {}) as Record<string, unknown>;
  const fleet: TestFleet = {
    etcd,
    redis,
    proxies,
    prefix,
    async start(index: number) {
      const own = options.perProxy?.(index) ?? {};
      const ownCoordination = (own.coordination ?? {}) as Record<string, unknown>;
      const kv = await startKvstore(t, {
        shards: 0,
        workers: options.workers ?? 1,
        config: {
          shards,
          proxyId: `p${index + 1}`,
          ...options.config,
          ...own,
          coordination: {
            ...coordination,
            ...ownCoordination,
            etcd: { endpoints: etcd.endpoints, prefix, leaseTtlMs: 3000, ...((coordination.etcd as object) ?? {}), ...((ownCoordination.etcd as object) ?? {}) },
          },
        },
      });
      proxies[index] = kv;
      return kv;
    },
    async proxiesSeenBy(p) {
      const r = await p.admin('GET', '/proxies');
      if (r.status !== 200) throw new Error(`GET /proxies: ${r.status} ${r.text}`);
      return r.body.proxies;
    },
    async leader() {
      const found = await eventually(async () => {
        for (const p of proxies) {
          if (!p || p.process.exitCode !== null || p.process.signalCode !== null) continue;
          const f = await p.admin('GET', '/fleet').catch(() => null);
          if (f?.body?.isLeader) return p;
        }
        return undefined;
      }, 20_000, 'a fleet leader');
      return found!;
    },
  };
  // The first proxy seeds etcd; the others start alongside.
  await fleet.start(0);
  await Promise.all(Array.from({ length: (options.proxies ?? 3) - 1 }, (_, i) => fleet.start(i + 1)));
  return fleet;
}

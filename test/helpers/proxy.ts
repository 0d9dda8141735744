/**
 * An in-process ProxyServer over N real redis-servers, for integration tests (anyone's):
 *
 *   const kv = await startProxy(t, { shards: 3 });
 *   const redis = kv.client();          // ioredis connected to the proxy, closed at teardown
 *   kv.redis[0].kill();                 // the shards (RedisProcess, see ./redis.ts)
 *
 * Slots are split evenly over the shards (Redis Cluster's layout). Everything started here is
 * stopped by the test's teardown.
 */
import Redis, { RedisOptions } from 'ioredis';
import type { KvstoreConfig } from '../../src/config/types';
import type { HotPath } from '../../src/native/api';
import { ProxyServer } from '../../src/proxy/ProxyServer';
import { evenSlotRanges } from '../../src/topology/slots';
import type { TopologySnapshot } from '../../src/topology/types';
import { RedisProcess, RedisOptions as ServerOptions, startRedisGroup } from './redis';

export interface TestContextLike {
  teardown(fn: () => Promise<void> | void): void;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/** A complete config with test-friendly defaults (same shape as the convict schema's). */
export function testConfig(overrides: DeepPartial<KvstoreConfig> = {}): KvstoreConfig {
  const base: KvstoreConfig = {
    listen: { host: '127.0.0.1', port: 0 },
    workers: 1,
    mode: 'cache',
    hash: 'crc16',
    murmurSeed: 0,
    admin: { host: '127.0.0.1', port: 0 },
    stateDir: '',
    shards: [],
    password: '',
    users: [],
    tls: { port: 0, certFile: '', keyFile: '', caFile: '', requireClientCert: false, minVersion: 'TLSv1.2', ciphers: '' },
    slowlog: { slowerThanUs: 10000, maxLen: 128 },
    hotKeys: { hitsPerSec: 500, sampleRate: 0.01 },
    bigKeys: { bytes: 1024 * 1024 },
    latencyTracking: true,
    backend: { username: '', password: '', tls: { enabled: false, caFile: '', certFile: '', keyFile: '', serverName: '' }, poolSize: 1 },
    readFrom: 'master',
    maxReplicaLagMs: 1000,
    crossSlot: 'slot',
    allowFlush: true,
    io: process.env.KVSTORE_IO === 'node' ? 'node' : 'native',
    limits: {
      maxBulkBytes: 512 * 1024 * 1024,
      maxInlineBytes: 64 * 1024,
      maxRequestBytes: 512 * 1024 * 1024,
      maxPipeline: 1024,
      maxClients: 10000,
      clientOutputHighWater: 8 * 1024 * 1024,
      backendHighWater: 16 * 1024 * 1024,
      clientCommandsPerSec: 0,
      userCommandsPerSec: 0,
      clientsPerUser: 0,
      pubsubOutputHardBytes: 32 * 1024 * 1024,
      pubsubOutputSoftBytes: 8 * 1024 * 1024,
      pubsubOutputSoftSeconds: 60,
    },
    timeouts: { requestMs: 5000, connectMs: 1000, clientIdleMs: 0, shutdownDrainMs: 2000 },
    health: { intervalMs: 1000, timeoutMs: 500, downAfter: 3, upAfter: 2, rejoinAfterMs: 5000 },
    sentinels: [],
    sentinelMasterPrefix: 'kvstore-',
    migration: { batchKeys: 100, maxKeysPerSecond: 0 },
    dedicated: { maxConnections: 1024, maxPerClient: 16, idlePerShard: 2 },
    proxyId: '',
    coordination: { etcd: { endpoints: [], prefix: '/kvstore/', leaseTtlMs: 3000, username: '', password: '' }, failoverConfirmShare: 0.5, barrierTimeoutMs: 10000 },
  };
  return merge(base, overrides);
}

function merge<T>(base: T, over: DeepPartial<T>): T {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    const b = (base as Record<string, unknown>)[k];
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && typeof b === 'object' && b !== null ? merge(b, v as never) : v;
  }
  return out as T;
}

/** A topology with slots split evenly over `addresses` (shard names s0, s1, ...). */
export function evenTopology(addresses: string[], epoch = 1): TopologySnapshot {
  const ranges = evenSlotRanges(addresses.length);
  return {
    epoch,
    mode: 'cache',
    hash: 'crc16',
    shards: addresses.map((master, i) => ({ name: `s${i}`, master, replicas: [], state: 'up', slots: [ranges[i]] })),
    migrations: [],
    keyRewrite: [],
  };
}

export interface StartedProxy {
  proxy: ProxyServer;
  host: string;
  port: number;
  config: KvstoreConfig;
  topology: TopologySnapshot;
  redis: RedisProcess[];
  /** An ioredis client on the proxy (closed at teardown). */
  client(options?: RedisOptions): Redis;
  /** An ioredis client straight to shard `i` (closed at teardown). */
  shardClient(i: number): Redis;
}

export interface StartProxyOptions {
  shards?: number;
  config?: DeepPartial<KvstoreConfig>;
  hotPath?: HotPath;
  redis?: ServerOptions;
  /** Use these servers instead of starting new ones. */
  servers?: RedisProcess[];
}

export async function startProxy(t: TestContextLike, options: StartProxyOptions = {}): Promise<StartedProxy> {
  const redis = options.servers ?? (await startRedisGroup(options.shards ?? 3, (fn) => t.teardown(fn), options.redis));
  const topology = evenTopology(redis.map((r) => r.address));
  const config = testConfig({
    ...options.config,
    shards: topology.shards.map((s) => ({ name: s.name, master: s.master, replicas: [] })),
  });
  const proxy = new ProxyServer({ config, topology, hotPath: options.hotPath });
  const { host, port } = await proxy.listen();
  const clients: Redis[] = [];
  t.teardown(async () => {
    for (const c of clients) c.disconnect();
    await proxy.close(0);
  });
  return {
    proxy,
    host,
    port,
    config,
    topology,
    redis,
    client(clientOptions: RedisOptions = {}) {
      const c = new Redis({ host, port, lazyConnect: false, maxRetriesPerRequest: 0, ...clientOptions });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    shardClient(i: number) {
      const c = new Redis({ host: '127.0.0.1', port: redis[i].port, maxRetriesPerRequest: 0 });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
  };
}

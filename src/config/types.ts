/**
 * The validated configuration, as the rest of Kvstore sees it. The convict schema in
 * `schema.ts` is the single source of truth for defaults and validation; this interface is its
 * typed shape. Keys marked "fixed" are a public contract (issue #4): never rename them.
 */
import type { UserConfig } from '../security/UserDirectory';
import type { BackendTlsConfig, ClientTlsConfig } from '../security/tls';

export type Mode = 'cache' | 'store';
export type HashAlgorithm = 'crc16' | 'murmur';

export interface HostPort {
  host: string;
  port: number;
}

export interface ShardConfig {
  name: string; // fixed
  master: string; // fixed, "host:port"
  replicas: string[]; // fixed, ["host:port", ...]
}

export interface LimitsConfig {
  /** Largest single bulk string a client may send (Redis's proto-max-bulk-len). */
  maxBulkBytes: number;
  /** Largest inline command line (Redis: 64 KB). */
  maxInlineBytes: number;
  /** Largest whole request (one command) a client may send. */
  maxRequestBytes: number;
  /** Commands a client may have in flight before the proxy stops reading from it. */
  maxPipeline: number;
  /** Clients per worker; beyond it new clients get `-ERR max number of clients reached`. */
  maxClients: number;
  /** Bytes of unsent replies queued for one client before the proxy stops reading from it. */
  clientOutputHighWater: number;
  /** A subscribed client with this many unsent bytes is disconnected (Redis: client-output-buffer-limit pubsub hard). */
  pubsubOutputHardBytes: number;
  /** ... or with this many for pubsubOutputSoftSeconds (the soft limit; 0 = off). */
  pubsubOutputSoftBytes: number;
  pubsubOutputSoftSeconds: number;
  /** Bytes queued for one backend before the proxy stops reading from the clients feeding it. */
  backendHighWater: number;
  /** Commands/s per client (token bucket); 0 = off. Fixed (issue #16). */
  clientCommandsPerSec: number;
  /** Commands/s per user, per worker; 0 = off. */
  userCommandsPerSec: number;
  /** Authenticated clients per user, per worker; 0 = off. */
  clientsPerUser: number;
}

export interface TimeoutsConfig {
  /** A request not answered by its backend within this time fails with -ERR. */
  requestMs: number;
  /** TCP connect timeout to a backend. */
  connectMs: number;
  /** Close clients idle this long; 0 = never. */
  clientIdleMs: number;
  /** SIGTERM: how long in-flight requests may take to finish. */
  shutdownDrainMs: number;
}

export interface HealthConfig {
  intervalMs: number;
  timeoutMs: number;
  downAfter: number;
  upAfter: number;
  /** Cache mode: how long a recovered shard must stay healthy before it gets its slots back. */
  rejoinAfterMs: number;
  /**
   * How long a server may stay silent while the workers have a command in flight on it that may
   * run long (KEYS, FLUSHALL, SORT) before it counts as hung (scripts: the server's
   * busy-reply-threshold plus timeoutMs). Absent: 15000.
   */
  slowCommandMaxMs?: number;
}

/** A fleet of proxies coordinated through etcd (fixed keys: issue #17). Off when endpoints is empty. */
export interface CoordinationConfig {
  etcd: {
    endpoints: string[]; // fixed
    prefix: string; // fixed
    leaseTtlMs: number; // fixed
    username: string; // fixed
    password: string; // fixed
  };
  /** Store mode: share of live proxies that must see a master down before a promotion. */
  failoverConfirmShare: number;
  /** How long an ownership-moving change waits for every live proxy's acknowledgement. */
  barrierTimeoutMs: number;
}

export interface KvstoreConfig {
  listen: HostPort; // fixed
  workers: number | 'auto'; // fixed
  mode: Mode; // fixed
  hash: HashAlgorithm; // fixed
  murmurSeed: number;
  admin: HostPort; // fixed
  stateDir: string; // fixed
  shards: ShardConfig[]; // fixed
  /** Client password (like requirepass); empty = none. */
  password: string;
  /** ACL users (fixed, issue #16): Redis ACL SETUSER rule strings. */
  users: UserConfig[];
  /** Client TLS listener (fixed, issue #16). */
  tls: ClientTlsConfig;
  slowlog: { slowerThanUs: number; maxLen: number }; // fixed
  /** Per-command latency histograms on (Redis: latency-tracking). */
  latencyTracking: boolean;
  hotKeys: { hitsPerSec: number; sampleRate: number }; // fixed
  bigKeys: { bytes: number }; // fixed
  backend: {
    username: string;
    password: string;
    /** TLS to the redis-servers (fixed, issue #16). */
    tls: BackendTlsConfig;
    /** Connections per backend per worker; a client is pinned to one of them. */
    poolSize: number;
  };
  /** Where read-only commands of READONLY clients go (fixed contract). */
  readFrom: 'master' | 'replica' | 'replica-preferred'; // fixed
  /** Replicas further behind (or with their link down) are not read from (fixed contract). */
  maxReplicaLagMs: number; // fixed
  /** "slot" (Redis Cluster rule) or "shard" (relaxed): when multi-key commands may run. */
  crossSlot: 'slot' | 'shard';
  /** Allow FLUSHDB/FLUSHALL through the proxy. */
  allowFlush: boolean;
  /** Sockets of the data path: the addon's libuv streams ("native") or net.Socket ("node"). */
  io: 'native' | 'node';
  limits: LimitsConfig;
  timeouts: TimeoutsConfig;
  health: HealthConfig;
  /** Redis Sentinel addresses; when set, Sentinel decides failover (store mode). */
  sentinels: string[];
  sentinelMasterPrefix: string;
  /** Dedicated backend connections (transactions, blocking commands, WAIT). */
  dedicated: {
    maxConnections: number;
    maxPerClient: number;
    idlePerShard: number;
  };
  /** This proxy's id in a fleet; '' = the listen address. */
  proxyId: string;
  coordination: CoordinationConfig;
  migration: {
    /** Keys per MIGRATE batch. */
    batchKeys: number;
    /** Upper bound on keys moved per second (0 = unpaced). */
    maxKeysPerSecond: number;
  };
}

/**
 * The convict schema: the single source of truth for every config key, its default, its
 * environment override and its documentation (docs/config.md is generated from it by
 * scripts/gen-config-doc.ts). Semantic checks that span keys live in ./validate.ts.
 */
import convict from 'convict';
import { addressProblem, hostProblem } from './address';
import { userConfigProblems, type UserConfig } from '../security/UserDirectory';

let formatsAdded = false;

/** Custom formats; each throws with a message that says what to write instead. */
export function addFormats(): void {
  if (formatsAdded) return;
  formatsAdded = true;
  convict.addFormat({
    name: 'host',
    validate(value: unknown) {
      const problem = hostProblem(value);
      if (problem) throw new Error(`${problem}; use an IP address such as 127.0.0.1 or a host name`);
    },
  });
  convict.addFormat({
    name: 'listen-port',
    validate(value: unknown) {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) throw new Error('must be a port number 0-65535 (0 = any free port)');
    },
    coerce: (v: string) => (/^\d+$/.test(v.trim()) ? Number(v) : v),
  });
  convict.addFormat({
    name: 'workers',
    validate(value: unknown) {
      if (value === 'auto') return;
      if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 1024) throw new Error('must be "auto" (one worker per CPU core) or a whole number from 1 to 1024');
    },
    coerce: (v: string) => (/^\d+$/.test(v.trim()) ? Number(v) : v.trim()),
  });
  convict.addFormat({
    name: 'positive-int',
    validate(value: unknown) {
      if (!Number.isInteger(value) || (value as number) < 1) throw new Error('must be a whole number of at least 1');
    },
    coerce: (v: string) => (/^-?\d+$/.test(v.trim()) ? Number(v) : v),
  });
  convict.addFormat({
    name: 'non-negative-int',
    validate(value: unknown) {
      if (!Number.isInteger(value) || (value as number) < 0) throw new Error('must be a whole number, 0 or more');
    },
    coerce: (v: string) => (/^-?\d+$/.test(v.trim()) ? Number(v) : v),
  });
  convict.addFormat({
    name: 'uint32',
    validate(value: unknown) {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffffffff) throw new Error('must be a whole number from 0 to 4294967295');
    },
    coerce: (v: string) => (/^\d+$/.test(v.trim()) ? Number(v) : v),
  });
  convict.addFormat({
    name: 'address-list',
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error('must be a list of "host:port" strings, e.g. [127.0.0.1:26379]');
      value.forEach((item, i) => {
        const problem = addressProblem(item);
        if (problem) throw new Error(`entry ${i + 1}: ${problem}`);
      });
    },
    // env: comma separated
    coerce: (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean),
  });
  convict.addFormat({
    name: 'users',
    validate(value: unknown) {
      if (!Array.isArray(value)) throw new Error('must be a list of users, each { name, rules: "on >secret ~app:* +@read" }');
      const problems = userConfigProblems('', value as UserConfig[]);
      // convict prefixes the first line with "users: "; the others carry their own prefix
      if (problems.length) throw new Error(problems.map((p) => p.replace(/^users: /, '')).join('\n'));
    },
    coerce: (v: string) => {
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    },
  });
  convict.addFormat({
    name: 'int-or-minus-one',
    validate(value: unknown) {
      if (!Number.isInteger(value) || (value as number) < -1) throw new Error('must be a whole number, 0 or more, or -1 (off)');
    },
    coerce: (v: string) => (/^-?\d+$/.test(v.trim()) ? Number(v) : v),
  });
  convict.addFormat({
    name: 'fraction',
    validate(value: unknown) {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new Error('must be a number from 0 to 1');
    },
    coerce: (v: string) => (v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v),
  });
  convict.addFormat({
    name: 'share',
    validate(value: unknown) {
      if (typeof value !== 'number' || !(value > 0) || value > 1) throw new Error('must be a number above 0 and at most 1 (a share of the proxies, e.g. 0.5)');
    },
    coerce: (v: string) => (/^\d*\.?\d+$/.test(v.trim()) ? Number(v) : v),
  });
  convict.addFormat({
    name: 'etcd-prefix',
    validate(value: unknown) {
      if (typeof value !== 'string' || !/^\/[\x21-\x7e]*$/.test(value)) throw new Error('must start with "/" and hold printable characters only, e.g. /kvstore/');
    },
  });
  convict.addFormat({
    name: 'shards',
    validate: validateShardList,
    // env: a JSON array, e.g. KVSTORE_SHARDS='[{"name":"s1","master":"127.0.0.1:6379"}]'
    coerce: (v: string) => {
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    },
  });
}

const SHARD_KEYS = new Set(['name', 'master', 'replicas']);
export const SHARD_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Shape checks per shard entry; cross-shard checks (duplicates) are in validate.ts. */
function validateShardList(value: unknown): void {
  if (!Array.isArray(value)) throw new Error('must be a list of shards, each { name, master: "host:port", replicas: ["host:port", ...] }');
  if (value.length === 0) throw new Error('at least one shard is required, e.g. - { name: s1, master: 127.0.0.1:6379 }');
  const problems: string[] = [];
  value.forEach((shard, i) => {
    try {
      checkShard(shard, i);
    } catch (err) {
      problems.push((err as Error).message);
    }
  });
  // convict prefixes the first line with "shards: "; the others get it here
  if (problems.length) throw new Error(problems.join('\nshards: '));
}

function checkShard(shard: any, i: number): void {
  {
    const where = `shard ${i + 1}${shard && typeof shard === 'object' && typeof shard.name === 'string' ? ` ("${shard.name}")` : ''}`;
    if (!shard || typeof shard !== 'object' || Array.isArray(shard)) throw new Error(`${where}: must be an object { name, master, replicas }`);
    for (const key of Object.keys(shard)) {
      if (!SHARD_KEYS.has(key)) throw new Error(`${where}: unknown key "${key}" (allowed: name, master, replicas)`);
    }
    if (typeof shard.name !== 'string' || !SHARD_NAME.test(shard.name)) {
      throw new Error(`${where}: name must be 1-64 characters of letters, digits, "_", "-" or "."; got ${JSON.stringify(shard.name)}`);
    }
    const masterProblem = addressProblem(shard.master);
    if (masterProblem) throw new Error(`${where}: master: ${masterProblem}`);
    if (shard.replicas !== undefined) {
      if (!Array.isArray(shard.replicas)) throw new Error(`${where}: replicas must be a list of "host:port" strings`);
      shard.replicas.forEach((r: unknown, j: number) => {
        const problem = addressProblem(r);
        if (problem) throw new Error(`${where}: replica ${j + 1}: ${problem}`);
      });
    }
  }
}

export const ENV_PREFIX = 'KVSTORE_';

/** The schema; `doc` strings feed docs/config.md. Keys marked fixed in types.ts must not change. */
export const schema = {
  listen: {
    host: { doc: 'Address the proxy listens on for Redis clients.', format: 'host', default: '127.0.0.1', env: 'KVSTORE_LISTEN_HOST' },
    port: { doc: 'Port the proxy listens on for Redis clients (plain TCP). 0 = any free port; but with tls.port set, 0 turns the plain listener off (TLS only).', format: 'listen-port', default: 7400, env: 'KVSTORE_LISTEN_PORT' },
  },
  tls: {
    port: { doc: 'Port of the TLS listener for Redis clients (on listen.host, beside the plain one); 0 = no TLS listener.', format: 'listen-port', default: 0, env: 'KVSTORE_TLS_PORT' },
    certFile: { doc: 'PEM certificate (chain) of the TLS listener. Re-read on reload: new connections get the new one, open ones are kept.', format: String, default: '', env: 'KVSTORE_TLS_CERT_FILE' },
    keyFile: { doc: 'PEM private key of tls.certFile. Re-read on reload.', format: String, default: '', env: 'KVSTORE_TLS_KEY_FILE' },
    caFile: { doc: 'PEM CA certificates that sign client certificates (needed with requireClientCert). Re-read on reload.', format: String, default: '', env: 'KVSTORE_TLS_CA_FILE' },
    requireClientCert: { doc: 'Clients must present a certificate signed by tls.caFile (mutual TLS, like tls-auth-clients yes).', format: Boolean, default: false, env: 'KVSTORE_TLS_REQUIRE_CLIENT_CERT' },
    minVersion: { doc: 'Oldest TLS protocol version accepted.', format: ['TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2', env: 'KVSTORE_TLS_MIN_VERSION' },
    ciphers: { doc: 'OpenSSL cipher list for TLS 1.2 (empty = Node\'s default).', format: String, default: '', env: 'KVSTORE_TLS_CIPHERS' },
  },
  workers: {
    doc: 'Worker processes sharing the listening port: "auto" = one per CPU core, or a number.',
    format: 'workers',
    default: 'auto' as number | 'auto',
    env: 'KVSTORE_WORKERS',
  },
  mode: {
    doc: 'cache: a failed shard is ejected and its slots served by the others (data may be lost). store: a failed master is replaced by promoting a replica.',
    format: ['cache', 'store'],
    default: 'cache',
    env: 'KVSTORE_MODE',
  },
  hash: {
    doc: 'Key to slot hash: crc16 (Redis Cluster compatible, honours {hash tags}) or murmur (MurmurHash3, also honours hash tags).',
    format: ['crc16', 'murmur'],
    default: 'crc16',
    env: 'KVSTORE_HASH',
  },
  murmurSeed: { doc: 'Seed for the murmur hash (ignored with crc16).', format: 'uint32', default: 0, env: 'KVSTORE_MURMUR_SEED' },
  admin: {
    host: { doc: 'Address of the admin HTTP API. Keep it on loopback: the API has no authentication.', format: 'host', default: '127.0.0.1', env: 'KVSTORE_ADMIN_HOST' },
    port: { doc: 'Port of the admin HTTP API (0 = any free port).', format: 'listen-port', default: 7500, env: 'KVSTORE_ADMIN_PORT' },
  },
  stateDir: {
    doc: 'Directory for the persisted topology (topology.json) and job state. Relative paths are relative to the config file.',
    format: String,
    default: './state',
    env: 'KVSTORE_STATE_DIR',
  },
  shards: {
    doc: 'The shards, in order (slots start evenly split over them in this order). Each: { name, master: "host:port", replicas: ["host:port", ...] }. Environment: a JSON array.',
    format: 'shards',
    default: [] as Array<{ name: string; master: string; replicas?: string[] }>,
    env: 'KVSTORE_SHARDS',
  },
  password: { doc: 'Password of the default user (like requirepass); empty = no password. Applied live on reload. With a "default" entry in users, leave it empty.', format: String, default: '', env: 'KVSTORE_PASSWORD', sensitive: true },
  users: {
    doc: 'ACL users: [{ name, rules }], rules being Redis\'s own ACL SETUSER rule string, e.g. "on >secret ~app1:* %R~shared:* &news.* +@read -@dangerous". Without a "default" entry the default user is "on nopass ~* &* +@all" (with password: "on >password ~* &* +@all"). Applied live on reload. Environment: a JSON array.',
    format: 'users',
    default: [] as Array<{ name: string; rules: string }>,
    env: 'KVSTORE_USERS',
    sensitive: true,
  },
  slowlog: {
    slowerThanUs: { doc: 'SLOWLOG records commands whose time from first byte read to reply written is at least this (µs); 0 = every command, -1 = off (Redis: slowlog-log-slower-than).', format: 'int-or-minus-one', default: 10000, env: 'KVSTORE_SLOWLOG_SLOWER_THAN_US' },
    maxLen: { doc: 'Entries SLOWLOG keeps per worker (Redis: slowlog-max-len).', format: 'non-negative-int', default: 128, env: 'KVSTORE_SLOWLOG_MAX_LEN' },
  },
  latencyTracking: {
    doc: 'Per-command latency histograms (INFO latencystats, kvstore_command_duration_seconds on /metrics, GET /latency, ctl stats); false = off, those are then empty (Redis: latency-tracking). Applied live on reload.',
    format: Boolean,
    default: true,
    env: 'KVSTORE_LATENCY_TRACKING',
  },
  hotKeys: {
    hitsPerSec: { doc: 'A key is hot at this many hits per second (estimated from samples, summed over workers in ctl hotkeys).', format: 'positive-int', default: 500, env: 'KVSTORE_HOT_KEYS_HITS_PER_SEC' },
    sampleRate: { doc: 'Fraction of key accesses sampled for hot-key detection (an MGET of 10 keys is 10 accesses); 0 = off.', format: 'fraction', default: 0.01, env: 'KVSTORE_HOT_KEYS_SAMPLE_RATE' },
  },
  bigKeys: {
    bytes: { doc: 'A request or reply of at least this many bytes is recorded as a big key (ctl bigkeys); 0 = off.', format: 'non-negative-int', default: 1024 * 1024, env: 'KVSTORE_BIG_KEYS_BYTES' },
  },
  backend: {
    username: { doc: 'ACL user for connecting to the redis-servers; empty = default user.', format: String, default: '', env: 'KVSTORE_BACKEND_USERNAME' },
    password: { doc: 'Password for connecting to the redis-servers (AUTH); empty = none.', format: String, default: '', env: 'KVSTORE_BACKEND_PASSWORD', sensitive: true },
    tls: {
      enabled: { doc: 'Connect to the redis-servers over TLS (their tls-port). Restart to apply.', format: Boolean, default: false, env: 'KVSTORE_BACKEND_TLS_ENABLED' },
      caFile: { doc: 'PEM CA certificates that sign the redis-servers\' certificates (empty = the system CAs).', format: String, default: '', env: 'KVSTORE_BACKEND_TLS_CA_FILE' },
      certFile: { doc: 'PEM client certificate for redis-servers that require one (tls-auth-clients yes).', format: String, default: '', env: 'KVSTORE_BACKEND_TLS_CERT_FILE' },
      keyFile: { doc: 'PEM private key of backend.tls.certFile.', format: String, default: '', env: 'KVSTORE_BACKEND_TLS_KEY_FILE' },
      serverName: { doc: 'Name checked against the redis-servers\' certificates and sent as SNI (empty = the host of each address).', format: String, default: '', env: 'KVSTORE_BACKEND_TLS_SERVER_NAME' },
    },
    poolSize: {
      doc: 'Connections per redis-server per worker; each client is pinned to one of them. 1 sends the commands of all clients read in one event-loop turn in one write (fewest syscalls, fastest); more isolate clients from a slow or huge reply on another connection.',
      format: 'positive-int',
      default: 1,
      env: 'KVSTORE_BACKEND_POOL_SIZE',
    },
  },
  readFrom: {
    doc: 'Where read-only commands of clients that sent READONLY go (Redis Cluster clients send it to read from replicas): "master" = the master anyway; "replica" = a replica of the owning shard that is up and within maxReplicaLagMs (an error when there is none); "replica-preferred" = such a replica, else the master. Other clients, and every write, always use the master. Applied live on reload.',
    format: ['master', 'replica', 'replica-preferred'],
    default: 'master',
    env: 'KVSTORE_READ_FROM',
  },
  maxReplicaLagMs: {
    doc: 'A replica more than this far behind its master (measured by the primary from replication offsets, every health.intervalMs) or with its replication link down is not read from.',
    format: 'positive-int',
    default: 1000,
    env: 'KVSTORE_MAX_REPLICA_LAG_MS',
  },
  crossSlot: {
    doc: 'When multi-key commands that cannot be split (e.g. SUNION, RENAME) may run: "slot" = all keys in one slot (Redis Cluster rule), "shard" = all keys on one shard.',
    format: ['slot', 'shard'],
    default: 'slot',
    env: 'KVSTORE_CROSS_SLOT',
  },
  allowFlush: { doc: 'Let FLUSHDB/FLUSHALL through the proxy (sent to every shard).', format: Boolean, default: false, env: 'KVSTORE_ALLOW_FLUSH' },
  io: {
    doc: 'Sockets of the data path: "native" = the addon accepts clients and reads and writes client and backend sockets on libuv directly (fastest; on Linux each worker accepts on its own SO_REUSEPORT socket and the kernel spreads connections), "node" = net.Socket (workers share node:cluster\'s listening socket). "native" falls back to "node" when the addon is not loaded; backends given by host name always use "node".',
    format: ['native', 'node'],
    default: 'native',
    env: 'KVSTORE_IO',
  },
  limits: {
    maxBulkBytes: { doc: 'Largest single bulk string a client may send (Redis: proto-max-bulk-len).', format: 'positive-int', default: 512 * 1024 * 1024, env: 'KVSTORE_MAX_BULK_BYTES' },
    maxInlineBytes: { doc: 'Largest inline command line (Redis: 64 KB).', format: 'positive-int', default: 64 * 1024, env: 'KVSTORE_MAX_INLINE_BYTES' },
    maxRequestBytes: { doc: 'Largest whole request (one command) a client may send (Redis: client-query-buffer-limit).', format: 'positive-int', default: 1024 * 1024 * 1024, env: 'KVSTORE_MAX_REQUEST_BYTES' },
    maxPipeline: { doc: 'Commands one client may have in flight before the proxy stops reading from it.', format: 'positive-int', default: 1024, env: 'KVSTORE_MAX_PIPELINE' },
    maxClients: { doc: 'Clients per worker; beyond it new clients get "-ERR max number of clients reached".', format: 'positive-int', default: 10000, env: 'KVSTORE_MAX_CLIENTS' },
    clientOutputHighWater: { doc: 'Bytes of unsent replies queued for one client before the proxy stops reading from it.', format: 'positive-int', default: 16 * 1024 * 1024, env: 'KVSTORE_CLIENT_OUTPUT_HIGH_WATER' },
    pubsubOutputHardBytes: { doc: 'A subscribed client (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE) with this many bytes of messages not yet taken by its socket is disconnected (Redis: client-output-buffer-limit pubsub, hard limit).', format: 'positive-int', default: 32 * 1024 * 1024, env: 'KVSTORE_PUBSUB_OUTPUT_HARD_BYTES' },
    pubsubOutputSoftBytes: { doc: 'A subscribed client above this many unsent bytes for pubsubOutputSoftSeconds is disconnected (Redis: client-output-buffer-limit pubsub, soft limit); 0 = no soft limit.', format: 'non-negative-int', default: 8 * 1024 * 1024, env: 'KVSTORE_PUBSUB_OUTPUT_SOFT_BYTES' },
    pubsubOutputSoftSeconds: { doc: 'How long a subscribed client may stay above pubsubOutputSoftBytes.', format: 'non-negative-int', default: 60, env: 'KVSTORE_PUBSUB_OUTPUT_SOFT_SECONDS' },
    backendHighWater: { doc: 'Bytes queued for one backend connection before the proxy stops reading from the clients feeding it.', format: 'positive-int', default: 8 * 1024 * 1024, env: 'KVSTORE_BACKEND_HIGH_WATER' },
    clientCommandsPerSec: { doc: 'Commands per second one client may send (token bucket, one second of burst); past it commands get -ERR. 0 = no limit.', format: 'non-negative-int', default: 0, env: 'KVSTORE_CLIENT_COMMANDS_PER_SEC' },
    userCommandsPerSec: { doc: 'Commands per second all clients of one user may send, per worker process (token bucket); 0 = no limit.', format: 'non-negative-int', default: 0, env: 'KVSTORE_USER_COMMANDS_PER_SEC' },
    clientsPerUser: { doc: 'Clients that may be authenticated as one user at once, per worker process; AUTH past it fails. 0 = no limit.', format: 'non-negative-int', default: 0, env: 'KVSTORE_CLIENTS_PER_USER' },
  },
  timeouts: {
    requestMs: { doc: 'A request not answered by its redis-server within this time fails with -ERR.', format: 'positive-int', default: 5000, env: 'KVSTORE_REQUEST_TIMEOUT_MS' },
    connectMs: { doc: 'TCP connect timeout to a redis-server.', format: 'positive-int', default: 2000, env: 'KVSTORE_CONNECT_TIMEOUT_MS' },
    clientIdleMs: { doc: 'Close clients idle this long (Redis: timeout); 0 = never.', format: 'non-negative-int', default: 0, env: 'KVSTORE_CLIENT_IDLE_MS' },
    shutdownDrainMs: { doc: 'On SIGTERM, how long in-flight requests may take to finish before the workers close.', format: 'non-negative-int', default: 10000, env: 'KVSTORE_SHUTDOWN_DRAIN_MS' },
  },
  health: {
    intervalMs: { doc: 'How often the primary PINGs every redis-server.', format: 'positive-int', default: 1000, env: 'KVSTORE_HEALTH_INTERVAL_MS' },
    timeoutMs: { doc: 'A PING not answered within this time counts as a failure. A server on which a client request has waited this long, with no reply to any worker since and no command in flight that may run long (a script, KEYS, ...), is hung and marked down at once.', format: 'positive-int', default: 1000, env: 'KVSTORE_HEALTH_TIMEOUT_MS' },
    downAfter: { doc: 'Consecutive failed checks before a redis-server is marked down.', format: 'positive-int', default: 3, env: 'KVSTORE_HEALTH_DOWN_AFTER' },
    upAfter: { doc: 'Consecutive good checks before a down redis-server is marked up again.', format: 'positive-int', default: 2, env: 'KVSTORE_HEALTH_UP_AFTER' },
    rejoinAfterMs: { doc: 'Cache mode: how long a recovered shard must stay healthy before it gets its slots back.', format: 'non-negative-int', default: 10000, env: 'KVSTORE_HEALTH_REJOIN_AFTER_MS' },
    slowCommandMaxMs: { doc: 'How long a redis-server may stay silent while the proxy has a command in flight on it that may run long (KEYS, FLUSHALL, FLUSHDB, SORT) before it counts as hung. A script (EVAL, FCALL) is given the server\'s busy-reply-threshold plus health.timeoutMs: past it a running server answers -BUSY.', format: 'positive-int', default: 15000, env: 'KVSTORE_HEALTH_SLOW_COMMAND_MAX_MS' },
  },
  sentinels: {
    doc: 'Redis Sentinel addresses ("host:port"). When set (store mode), Sentinel decides failover and Kvstore follows it. Environment: comma separated.',
    format: 'address-list',
    default: [] as string[],
    env: 'KVSTORE_SENTINELS',
  },
  sentinelMasterPrefix: { doc: 'Sentinel master name of a shard = this prefix + the shard name.', format: String, default: '', env: 'KVSTORE_SENTINEL_MASTER_PREFIX' },
  dedicated: {
    maxConnections: { doc: 'Backend connections per worker that transactions (WATCH/MULTI), blocking commands (BLPOP, XREAD BLOCK, ...) and WAIT may hold at once, over all shards. Past it such a command gets an -ERR at once (it never waits for another client).', format: 'positive-int', default: 1024, env: 'KVSTORE_DEDICATED_MAX_CONNECTIONS' },
    maxPerClient: { doc: 'Dedicated backend connections one client may hold at once (a transaction or blocking command holds one; WAIT one per shard written to).', format: 'positive-int', default: 16, env: 'KVSTORE_DEDICATED_MAX_PER_CLIENT' },
    idlePerShard: { doc: 'Pre-connected idle dedicated connections kept per shard master and worker, so entering a transaction or a blocking command costs no connect.', format: 'non-negative-int', default: 2, env: 'KVSTORE_DEDICATED_IDLE_PER_SHARD' },
  },
  proxyId: {
    doc: 'This proxy\'s name in a fleet (coordination): unique among the proxies sharing an etcd prefix. Empty = the listen address "host:port".',
    format: String,
    default: '',
    env: 'KVSTORE_PROXY_ID',
  },
  coordination: {
    etcd: {
      endpoints: {
        doc: 'etcd client endpoints ("host:port") of a fleet of proxies sharing one topology, one leader and one epoch barrier. Empty (default) = a single proxy with its topology in stateDir. Environment: comma separated.',
        format: 'address-list',
        default: [] as string[],
        env: 'KVSTORE_ETCD_ENDPOINTS',
      },
      prefix: { doc: 'Key prefix of this fleet in etcd (several fleets may share one etcd).', format: 'etcd-prefix', default: '/kvstore/', env: 'KVSTORE_ETCD_PREFIX' },
      leaseTtlMs: {
        doc: 'Lease of a proxy\'s membership (and leadership): a proxy not heard from for this long leaves the fleet and its barrier. etcd counts in whole seconds (rounded up) and enforces its own minimum (about 2 s with default etcd timings).',
        format: 'positive-int',
        default: 3000,
        env: 'KVSTORE_ETCD_LEASE_TTL_MS',
      },
      username: { doc: 'etcd user (etcd auth); empty = none.', format: String, default: '', env: 'KVSTORE_ETCD_USERNAME' },
      password: { doc: 'etcd password for `username`.', format: String, default: '', env: 'KVSTORE_ETCD_PASSWORD', sensitive: true },
    },
    failoverConfirmShare: {
      doc: 'Store mode: the share of live proxies (the leader included) that must see a master unreachable before the leader promotes a replica, so that one proxy cut off from one master cannot fail it over for everyone. 0.5 = half of them (2 of 3).',
      format: 'share',
      default: 0.5,
      env: 'KVSTORE_COORDINATION_FAILOVER_CONFIRM_SHARE',
    },
    barrierTimeoutMs: {
      doc: 'How long a routing change that moves ownership waits for every live proxy to acknowledge its epoch before it fails (the next step is not taken).',
      format: 'positive-int',
      default: 10000,
      env: 'KVSTORE_COORDINATION_BARRIER_TIMEOUT_MS',
    },
  },
  migration: {
    batchKeys: { doc: 'Keys per MIGRATE batch when moving slots.', format: 'positive-int', default: 100, env: 'KVSTORE_MIGRATION_BATCH_KEYS' },
    maxKeysPerSecond: { doc: 'Upper bound on keys moved per second while resharding (0 = unpaced). The default keeps client p99 during a migration within about 2-3x of normal on a 2-core machine (measured with benchmarks/reshard.ts); raise it to move faster.', format: 'non-negative-int', default: 20000, env: 'KVSTORE_MIGRATION_MAX_KEYS_PER_SECOND' },
  },
};

/**
 * Shared pieces of the failover tests: shards made of real redis-servers (masters and
 * replicas), a topology store in a temp dir, a key → shard lookup, and a steady mixed
 * read/write load that records every error with its time and checks every read against the
 * last acknowledged write of its key.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import type { HealthConfig, KvstoreConfig } from '../../src/config/types';
import { FailoverManager } from '../../src/failover/FailoverManager';
import { storePublisher } from '../../src/failover/publisher';
import { TopologyStore, initialTopology } from '../../src/topology/TopologyStore';
import { routingTable } from '../../src/topology/slots';
import type { TopologySnapshot } from '../../src/topology/types';
import { KvstoreProcess, startKvstore } from '../helpers/kvstore';
import { testConfig as proxyTestConfig } from '../helpers/proxy';
import { RedisOptions, RedisProcess, startRedis } from '../helpers/redis';
import { trackPid, untrackPid } from '../helpers/reaper';

/** The config schema's defaults (what the error windows are reported with), rejoin shortened. */
export const DEFAULT_HEALTH: HealthConfig = { intervalMs: 1000, timeoutMs: 1000, downAfter: 3, upAfter: 2, rejoinAfterMs: 3000 };
export const FAST_HEALTH: HealthConfig = { intervalMs: 200, timeoutMs: 500, downAfter: 2, upAfter: 2, rejoinAfterMs: 1000 };

export interface Shard {
  name: string;
  master: RedisProcess;
  replicas: RedisProcess[];
}

/** `n` shards named s1..sn, each a master with `replicas` replicas (`--replicaof`). */
export async function startShards(n: number, replicas: number, teardown: (fn: () => Promise<void>) => void, masterOptions: Record<string, RedisOptions> = {}): Promise<Shard[]> {
  const all: RedisProcess[] = [];
  teardown(async () => {
    await Promise.all(all.map((s) => s.kill()));
    for (const s of all) fs.rmSync(s.dir, { recursive: true, force: true });
  });
  const shards: Shard[] = [];
  for (let i = 0; i < n; i++) {
    const master = await startRedis(masterOptions[`s${i + 1}`]);
    all.push(master);
    const reps: RedisProcess[] = [];
    for (let r = 0; r < replicas; r++) {
      const rep = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
      all.push(rep);
      reps.push(rep);
    }
    shards.push({ name: `s${i + 1}`, master, replicas: reps });
  }
  for (const s of shards) for (const r of s.replicas) await waitForLink(r.port);
  return shards;
}

export async function waitForLink(port: number, timeoutMs = 10_000): Promise<void> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  await c.connect();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const info = await c.info('replication');
      if (/master_link_status:up/.test(info)) return;
      if (Date.now() > deadline) throw new Error(`replica ${port} never linked: ${info}`);
      await sleep(50);
    }
  } finally {
    c.disconnect();
  }
}

export function testConfig(shards: Shard[], mode: 'cache' | 'store', stateDir: string, extra: Partial<KvstoreConfig> = {}): KvstoreConfig {
  // The proxy tests' base config, with what failover tests need: short request and connect
  // timeouts, fast health checks, no FLUSHALL from clients.
  const base = proxyTestConfig({
    mode,
    stateDir,
    shards: shards.map((s) => ({ name: s.name, master: s.master.address, replicas: s.replicas.map((r) => r.address) })),
    allowFlush: false,
    limits: { maxPipeline: 1000, clientOutputHighWater: 1 << 24, backendHighWater: 1 << 24 },
    timeouts: { requestMs: 1000, connectMs: 500, clientIdleMs: 0, shutdownDrainMs: 2000 },
    health: FAST_HEALTH,
    sentinelMasterPrefix: '',
  });
  return { ...base, ...extra };
}

export function tempStore(config: KvstoreConfig, teardown: (fn: () => void) => void): TopologyStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-failover-state-'));
  teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return new TopologyStore(dir, initialTopology({ ...config, stateDir: dir }));
}

/** A topology store in a temp dir with a started FailoverManager on it; both stopped at teardown. */
export async function startManager(config: KvstoreConfig, teardown: (fn: () => void) => void): Promise<{ store: TopologyStore; manager: FailoverManager }> {
  const store = tempStore(config, teardown);
  const manager = new FailoverManager(config, storePublisher(store), store);
  await manager.start();
  teardown(() => manager.stop());
  return { store, manager };
}

/** `kvstore start` (primary + 2 workers) over these shards, in `mode`. */
export async function startCluster(
  t: Parameters<typeof startKvstore>[0],
  shards: Shard[],
  mode: 'cache' | 'store',
  extra: Record<string, unknown> = {},
): Promise<KvstoreProcess> {
  return startKvstore(t, {
    shards: 0,
    workers: 2,
    config: {
      mode,
      shards: shards.map((s) => ({ name: s.name, master: s.master.address, replicas: s.replicas.map((r) => r.address) })),
      ...extra,
    },
  });
}

/** The program's topology with its routing table, from the admin API. */
export async function topologyOf(kv: KvstoreProcess): Promise<TopologySnapshot> {
  return (await kv.admin<TopologySnapshot>('GET', '/topology?routing=1')).body;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/* ---------- key → slot (Redis's CRC16-XMODEM with hash tags), for checking where keys live ---------- */

const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

export function keySlot(key: string): number {
  let s = key.indexOf('{');
  if (s >= 0) {
    const e = key.indexOf('}', s + 1);
    if (e > s + 1) key = key.slice(s + 1, e);
  }
  const buf = Buffer.from(key);
  let crc = 0;
  for (const b of buf) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ b) & 0xff];
  return crc % 16384;
}

/** The shard (name) a key is routed to by `snapshot`. */
export function shardOf(snapshot: TopologySnapshot, key: string): string {
  return snapshot.shards[routingTable(snapshot)[keySlot(key)]].name;
}

/* ---------- clients ---------- */

/** What the load talks to: the proxy (one ioredis) or, before it exists, a topology-routing stand-in. */
export interface KvClient {
  set(key: string, value: string): Promise<unknown>;
  get(key: string): Promise<string | null>;
  close(): void;
}

export function ioredisOptions(port: number, host = '127.0.0.1') {
  return { port, host, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 2000, retryStrategy: () => 100, lazyConnect: false, autoResendUnfulfilledCommands: false };
}

/** Resolves when `c` is connected, rejects after `ms` (no offline queue: commands need a live link). */
export async function ready(c: Redis, ms = 1000): Promise<Redis> {
  if (c.status === 'ready') return c;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off('ready', onReady);
      reject(new Error(`not connected (${c.status})`));
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    c.once('ready', onReady);
  });
  return c;
}

/** A client of the proxy; its timeout is above the proxy's request timeout, so errors are the proxy's. */
export function proxyClient(port: number, commandTimeout = 10_000): KvClient {
  const c = new Redis({ ...ioredisOptions(port), commandTimeout });
  c.on('error', () => undefined);
  return { set: async (k, v) => (await ready(c)).set(k, v), get: async (k) => (await ready(c)).get(k), close: () => c.disconnect() };
}

/**
 * Routes like a worker does (routing table, shard state) with one ioredis per master: a stand-in
 * for the proxy in the component tests.
 */
export function topologyClient(topology: () => TopologySnapshot): KvClient {
  const clients = new Map<string, Redis>();
  const client = (address: string) => {
    let c = clients.get(address);
    if (!c) {
      const [host, port] = address.split(':');
      c = new Redis(ioredisOptions(Number(port), host));
      c.on('error', () => undefined);
      clients.set(address, c);
    }
    return c;
  };
  const route = (key: string) => {
    const snap = topology();
    const shard = snap.shards[routingTable(snap)[keySlot(key)]];
    if (shard.state === 'down') throw new Error(`CLUSTERDOWN shard ${shard.name} is down`);
    return client(shard.master);
  };
  return {
    set: async (k, v) => (await ready(route(k))).set(k, v),
    get: async (k) => (await ready(route(k))).get(k),
    close: () => {
      for (const c of clients.values()) c.disconnect();
    },
  };
}

/* ---------- the load ---------- */

export interface LoadError {
  at: number;
  op: 'set' | 'get';
  key: string;
  message: string;
}

export interface LoadOptions {
  workers: number;
  keysPerWorker: number;
  /** Pause between operations of one worker (keeps the load bounded on a shared machine). */
  pauseMs?: number;
}

/**
 * Each worker owns its keys (`w<i>:k<j>`) and alternates SET (value `key:seq`, seq rising) and
 * GET. A GET must return null (a cache miss) or a value at least as new as the last acknowledged
 * SET of that key: anything older is a stale read.
 */
/** A Load on `client` with every key written once; the client and the load stop at teardown. */
export async function filledLoad(t: { teardown(fn: () => void): void }, client: KvClient, options: LoadOptions): Promise<{ client: KvClient; load: Load }> {
  t.teardown(() => client.close());
  const load = new Load(client, options);
  await load.fill();
  t.teardown(() => load.stop());
  return { client, load };
}

export class Load {
  readonly errors: LoadError[] = [];
  readonly staleReads: { key: string; got: string; lastAcked: number; at: number }[] = [];
  /** Per key: the highest acknowledged seq. */
  readonly acked = new Map<string, number>();
  /** Per key: the highest seq whose SET may have been applied (acked or in flight when it failed). */
  readonly attempted = new Map<string, number>();
  ops = 0;
  hits = 0;
  misses = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  private seq = 0;
  private lastOpAt = 0;

  constructor(private readonly client: KvClient, private readonly options: LoadOptions) {}

  keys(): string[] {
    const out: string[] = [];
    for (let w = 0; w < this.options.workers; w++) for (let k = 0; k < this.options.keysPerWorker; k++) out.push(`w${w}:k${k}`);
    return out;
  }

  /** Write every key once (acknowledged) before the test starts. */
  async fill(): Promise<void> {
    for (const key of this.keys()) await this.write(key);
  }

  start(): void {
    this.running = true;
    for (let w = 0; w < this.options.workers; w++) this.loops.push(this.loop(w));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  errorsSince(t: number): LoadError[] {
    return this.errors.filter((e) => e.at >= t);
  }

  /** From `t` to the last error after it (0 when none). */
  errorWindowSince(t: number): number {
    const errs = this.errorsSince(t);
    return errs.length ? errs[errs.length - 1].at - t : 0;
  }

  /** Resolve once `ms` passed with operations and no error (all requests succeed again). */
  async waitHealthy(ms: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(`${ms} ms without errors`, () => {
      const last = this.errors.length ? this.errors[this.errors.length - 1].at : 0;
      return Date.now() - last >= ms && this.lastOpAt > last;
    }, timeoutMs);
  }

  async write(key: string): Promise<void> {
    const seq = ++this.seq;
    this.attempted.set(key, seq);
    await this.client.set(key, `${key}:${seq}`);
    if ((this.acked.get(key) ?? 0) < seq) this.acked.set(key, seq);
  }

  async read(key: string): Promise<string | null> {
    const lastAcked = this.acked.get(key) ?? 0;
    const v = await this.client.get(key);
    if (v === null) this.misses++;
    else {
      this.hits++;
      const seq = Number(v.slice(v.lastIndexOf(':') + 1));
      if (seq < lastAcked) this.staleReads.push({ key, got: v, lastAcked, at: Date.now() });
    }
    return v;
  }

  private async loop(w: number): Promise<void> {
    let i = 0;
    while (this.running) {
      const key = `w${w}:k${Math.floor(Math.random() * this.options.keysPerWorker)}`;
      const op = i++ % 2 === 0 ? 'set' : 'get';
      try {
        if (op === 'set') await this.write(key);
        else await this.read(key);
        this.ops++;
        this.lastOpAt = Date.now();
      } catch (err) {
        this.errors.push({ at: Date.now(), op, key, message: (err as Error).message });
        await sleep(20);
      }
      if (this.options.pauseMs) await sleep(this.options.pauseMs);
    }
  }
}

/**
 * Store mode: periodically confirms acknowledged writes as replicated. On each master (direct
 * connection) a barrier SET then `WAIT 1 <ms>`: when every master reports a replica ack, every
 * write acknowledged before the barrier was sent is on a replica (replication is ordered).
 */
export class ReplicationConfirmer {
  /** Per key: the highest seq confirmed replicated. */
  readonly confirmed = new Map<string, number>();
  rounds = 0;
  private running = false;
  private loop?: Promise<void>;

  constructor(private readonly load: Load, private readonly masters: () => string[]) {}

  start(intervalMs = 100): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.round().catch(() => undefined);
        await sleep(intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  async round(): Promise<boolean> {
    const snapshot = new Map(this.load.acked);
    const results = await Promise.all(this.masters().map(async (address) => {
      const [host, port] = address.split(':');
      const c = new Redis({ ...ioredisOptions(Number(port), host), retryStrategy: () => null, lazyConnect: true });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.set('__failover_test_barrier', String(Date.now()));
        return (await c.wait(1, 500)) >= 1;
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    }));
    if (!results.every(Boolean)) return false;
    for (const [k, seq] of snapshot) if ((this.confirmed.get(k) ?? 0) < seq) this.confirmed.set(k, seq);
    this.rounds++;
    return true;
  }
}

/* ---------- Redis Sentinel ---------- */

export interface SentinelProcess {
  port: number;
  address: string;
  pid: number;
  dir: string;
}

/**
 * `n` real redis-sentinel processes monitoring `masters` (quorum n/2+1, down-after 1000 ms),
 * each with its own config file in a temp dir (Sentinel rewrites it), stopped by PID at teardown.
 * Resolves once every sentinel sees all the others for every master.
 */
export async function startSentinels(
  n: number,
  masters: { name: string; address: string; replicas?: number }[],
  teardown: (fn: () => Promise<void>) => void,
): Promise<SentinelProcess[]> {
  const { spawn } = await import('node:child_process');
  const { freePort, waitForPort } = await import('../helpers/ports');
  const procs: { child: import('node:child_process').ChildProcess; info: SentinelProcess }[] = [];
  teardown(async () => {
    await Promise.all(procs.map(({ child }) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    })));
    for (const p of procs) fs.rmSync(p.info.dir, { recursive: true, force: true });
  });
  const quorum = Math.floor(n / 2) + 1;
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kvstore-sentinel-${port}-`));
    const lines = [
      `port ${port}`, 'bind 127.0.0.1', 'daemonize no', `dir ${dir}`, `logfile ${path.join(dir, 'sentinel.log')}`,
    ];
    for (const m of masters) {
      const [host, mport] = m.address.split(':');
      lines.push(
        `sentinel monitor ${m.name} ${host} ${mport} ${quorum}`,
        `sentinel down-after-milliseconds ${m.name} 1000`,
        `sentinel failover-timeout ${m.name} 5000`,
        `sentinel parallel-syncs ${m.name} 1`,
      );
    }
    const file = path.join(dir, 'sentinel.conf');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const child = spawn('redis-sentinel', [file], { stdio: 'ignore' });
    trackPid(child.pid);
    child.once('exit', () => untrackPid(child.pid));
    procs.push({ child, info: { port, address: `127.0.0.1:${port}`, pid: child.pid!, dir } });
    await waitForPort(port);
  }
  // Sentinels find each other through the masters' hello channel (every 2 s).
  for (const { info } of procs) {
    const c = new Redis({ port: info.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    try {
      await waitFor('sentinels to discover each other', async () => {
        for (const m of masters) {
          const fields = (await c.call('SENTINEL', 'master', m.name)) as string[];
          const i = fields.indexOf('num-other-sentinels');
          if (Number(fields[i + 1]) < n - 1) return false;
          // A failover needs a replica Sentinel has already inspected (else -NOGOODSLAVE).
          const replicas = (await c.call('SENTINEL', 'replicas', m.name)) as string[][];
          const good = replicas.filter((r) => {
            const f = (k: string) => r[r.indexOf(k) + 1];
            return f('flags') === 'slave' && f('master-link-status') === 'ok';
          });
          if (good.length < (m.replicas ?? 0)) return false;
        }
        return true;
      }, 20_000);
    } finally {
      c.disconnect();
    }
  }
  return procs.map((p) => p.info);
}

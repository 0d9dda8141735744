/**
 * The migrator and the worker-side gate against real redis-servers, with an in-process worker
 * (routing table + MigrationGate, as the proxy worker uses them) carrying a load throughout.
 * The end-to-end tests through the proxy are in reshard-proxy.test.ts.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MigrationHook, MigrationShardAccess } from '../../src/proxy/MigrationHook';
import { MigrationSupport } from '../../src/proxy/MigrationSupport';
import { JobManager, ReshardSettings } from '../../src/reshard/JobManager';
import { perKeySlotFilter } from '../../src/reshard/SourceScan';
import { planRebalance, startMigrations } from '../../src/reshard/planner';
import { encodeCommand, parseReply, RespArg, RespClient, RespValue } from '../../src/resp';
import { initialTopology, TopologyStore } from '../../src/topology/TopologyStore';
import { routingTable } from '../../src/topology/slots';
import type { TopologySnapshot } from '../../src/topology/types';
import type { KvstoreConfig } from '../../src/config/types';
import { startRedisGroup } from '../helpers/redis';
import { checkBackends, Expected, loadKeySlot, percentile, preload, slotCounts, startLoad } from '../helpers/reshard';

const keySlot = loadKeySlot();

/**
 * What a proxy worker does, in-process: route by the routing table, and hand commands with a key
 * in a migrating slot to the migration hook (the same seam contract as src/proxy/Hooks.ts).
 */
class SimWorker {
  private routing: Uint16Array = new Uint16Array(16384);
  private snapshot!: TopologySnapshot;
  private readonly clients = new Map<string, RespClient>();
  private readonly seam: { migration: unknown } = { migration: null };
  readonly support: MigrationSupport;

  constructor(snapshot: TopologySnapshot, private readonly password = '') {
    this.support = new MigrationSupport(this.seam, { backend: { username: '', password, poolSize: 1 }, timeouts: { requestMs: 5000 } } as unknown as KvstoreConfig);
    void this.update(snapshot);
  }

  get hook(): MigrationHook {
    return this.support.hook;
  }

  /** As the worker does: resolves when the topology is in place (then it would acknowledge). */
  update(snapshot: TopologySnapshot): void | Promise<void> {
    return this.support.applyTopology(snapshot, () => {
      this.snapshot = snapshot;
      this.routing = routingTable(snapshot);
    });
  }

  private client(address: string): RespClient {
    let c = this.clients.get(address);
    if (!c) this.clients.set(address, (c = new RespClient(address, { password: this.password })));
    return c;
  }

  private access(): MigrationShardAccess {
    const t = this.snapshot;
    return {
      shardCount: () => t.shards.length,
      shardName: (i) => t.shards[i].name,
      shardAddress: (i) => t.shards[i].master,
      shardOfSlot: (slot) => this.routing[slot],
      migrationOf: (slot) => {
        const m = t.migrations.find((x) => slot >= x.first && slot <= x.last);
        return m ? { from: m.from, to: m.to } : null;
      },
      send: (i, command) => this.client(t.shards[i].master).raw(command),
      encode: (args) => encodeCommand(args),
    };
  }

  run = async (args: RespArg[]): Promise<RespValue> => {
    const name = String(args[0]).toLowerCase();
    const buffers = args.map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(String(a))));
    const keyIndexes: number[] = [];
    if (name === 'mset') for (let i = 1; i < args.length; i += 2) keyIndexes.push(i);
    else if (['mget', 'del', 'exists', 'unlink', 'touch'].includes(name)) for (let i = 1; i < args.length; i++) keyIndexes.push(i);
    else keyIndexes.push(1);
    const keySlots = keyIndexes.map((i) => keySlot(buffers[i]));
    const raw = encodeCommand(buffers);
    const viaHook = this.support.handle({ name, args: buffers, keyIndexes, keySlots, raw }, this.access());
    const reply = viaHook ? await viaHook : await this.client(this.snapshot.shards[this.routing[keySlots[0]]].master).raw(raw);
    const parsed = parseReply(reply, 0)!;
    if (parsed.value instanceof Error) throw parsed.value;
    return parsed.value;
  };

  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}

function config(shards: string[]): KvstoreConfig {
  return {
    mode: 'store', hash: 'crc16',
    shards: shards.map((master, i) => ({ name: `s${i}`, master, replicas: [] })),
  } as unknown as KvstoreConfig;
}

function setup(t: { teardown(fn: () => void | Promise<void>): void }, masters: string[], settings: Partial<ReshardSettings> = {}) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-reshard-'));
  t.teardown(() => fs.rmSync(stateDir, { recursive: true, force: true }));
  const store = new TopologyStore(stateDir, initialTopology(config(masters)));
  const worker = new SimWorker(store.snapshot, settings.backend?.password);
  t.teardown(() => worker.close());
  const full: ReshardSettings = { batchKeys: 200, maxKeysPerSecond: 0, backend: { username: '', password: '' }, ...settings };
  const jobs = new JobManager({
    snapshot: () => store.snapshot,
    apply: async (mutate) => {
      const next = store.update(mutate);
      await worker.update(next);
      return next;
    },
    filter: perKeySlotFilter(keySlot),
    settings: () => full,
    stateDir,
  });
  return { store, worker, jobs, stateDir };
}

test('add a 4th shard and rebalance under load: latest values and TTLs, no failure, keys only on owners, even slots', async (t) => {
  const servers = await startRedisGroup(4, t.teardown);
  // Paced so that the load runs throughout a migration of ~1.5 s.
  const { store, worker, jobs } = setup(t, servers.slice(0, 3).map((s) => s.address), { batchKeys: 100, maxKeysPerSecond: 5000 });
  const expected = new Map<string, Expected>();
  await preload(worker.run, 'pre', 30_000, expected);
  // A large key (2 MB) and a large hash move too.
  const big = 'B'.repeat(2 * 1024 * 1024);
  await worker.run(['SET', 'big:string', big, 'PX', 600_000]);
  expected.set('big:string', { value: big, expiresAt: Date.now() + 600_000 });

  const baseline = startLoad(worker.run, new Map(), { concurrency: 4, keysPerLoop: 300, prefix: 'warm' });
  await new Promise((r) => setTimeout(r, 1000));
  const before = await baseline.stop();

  const load = startLoad(worker.run, expected, { concurrency: 4, keysPerLoop: 300, prefix: 'load', rewrite: { prefix: 'pre', count: 20_000 } });
  await jobs.addShard({ name: 's3', master: servers[3].address });
  const job = jobs.rebalance();
  t.is(job.state, 'running');
  await jobs.whenIdle();
  const during = await load.stop();
  const info = jobs.get(job.id)!;
  t.is(info.state, 'done', info.error);
  t.is(info.slotsDone, 4096);
  t.deepEqual(store.snapshot.migrations, []);
  t.deepEqual(slotCounts(store.snapshot), [4096, 4096, 4096, 4096]);
  t.deepEqual(during.failures.slice(0, 5), []);
  const check = await checkBackends(store.snapshot, keySlot, expected);
  t.deepEqual(check.misplaced.slice(0, 5), []);
  t.deepEqual(check.duplicated.slice(0, 5), []);
  t.deepEqual(check.wrong.slice(0, 5), []);
  t.true(info.keysMoved > 0);
  t.log(`rebalance 3→4: ${info.keysMoved} keys moved by the migrator, ${worker.hook.stats.keysMoved} on access (${worker.hook.stats.commands} commands via the hook); ${info.keysPerSecond} keys/s; ${info.elapsedMs} ms`);
  t.log(`load p99 without migration ${percentile(before.latenciesUs, 99).toFixed(0)} µs, during ${percentile(during.latenciesUs, 99).toFixed(0)} µs (${during.ops} ops)`);
});

test('remove a shard under load: drained, dropped, same checks', async (t) => {
  const servers = await startRedisGroup(4, t.teardown);
  const { store, worker, jobs } = setup(t, servers.map((s) => s.address), { batchKeys: 100, maxKeysPerSecond: 5000 });
  const expected = new Map<string, Expected>();
  await preload(worker.run, 'pre', 20_000, expected);
  const load = startLoad(worker.run, expected, { concurrency: 4, keysPerLoop: 300, prefix: 'load', rewrite: { prefix: 'pre', count: 20_000 } });
  const job = jobs.removeShard('s1');
  await jobs.whenIdle();
  const during = await load.stop();
  const info = jobs.get(job.id)!;
  t.is(info.state, 'done', info.error);
  t.deepEqual(store.snapshot.shards.map((s) => s.name), ['s0', 's2', 's3']);
  const counts = slotCounts(store.snapshot);
  t.true(Math.max(...counts) - Math.min(...counts) <= 1, `even: ${counts}`);
  t.deepEqual(during.failures.slice(0, 5), []);
  t.true(during.ops > 100, `load ran throughout (${during.ops} ops)`);
  const check = await checkBackends(store.snapshot, keySlot, expected);
  t.deepEqual([...check.misplaced, ...check.duplicated, ...check.wrong].slice(0, 5), []);
  const left = new RespClient(servers[1].address);
  t.is(await left.command(['DBSIZE']), 0, 'the removed shard is empty');
  left.close();
});

test('no-copy rebalance reassigns slots at once and clears the old owners\' copies', async (t) => {
  const servers = await startRedisGroup(3, t.teardown);
  const { store, worker, jobs } = setup(t, servers.slice(0, 2).map((s) => s.address));
  const expected = new Map<string, Expected>();
  await preload(worker.run, 'pre', 10_000, expected);
  await jobs.addShard({ name: 's2', master: servers[2].address });
  const epochBefore = store.snapshot.epoch;
  const job = jobs.rebalance({ noCopy: true });
  await jobs.whenIdle();
  const info = jobs.get(job.id)!;
  t.is(info.state, 'done', info.error);
  t.true(info.noCopy);
  t.deepEqual(slotCounts(store.snapshot), [5462, 5461, 5461]);
  t.is(store.snapshot.epoch, epochBefore + 1, 'one topology change, no migration phase');
  const fresh = new RespClient(servers[2].address);
  t.is(await fresh.command(['DBSIZE']), 0, 'no data copied to the new shard');
  fresh.close();
  // Keys now owned by s2 read as misses (a cache refills), the rest keep their values.
  const owners = routingTable(store.snapshot);
  let misses = 0;
  for (const [k, e] of [...expected].slice(0, 2000)) {
    const v = await worker.run(['GET', k]);
    if (owners[keySlot(Buffer.from(k))] === 2) {
      t.is(v, null);
      misses++;
    } else t.is(String(v), e.value);
  }
  t.true(misses > 0);
  // The old owners no longer hold keys of the slots they gave away.
  const onlyOwned = new Map([...expected].filter(([k]) => owners[keySlot(Buffer.from(k))] !== 2));
  const check = await checkBackends(store.snapshot, keySlot, onlyOwned);
  t.deepEqual([...check.misplaced, ...check.wrong].slice(0, 5), []);
});

test('backend passwords: MIGRATE authenticates with AUTH', async (t) => {
  const servers = await startRedisGroup(2, t.teardown, { args: ['--requirepass', 'sekret'] });
  const { store, worker, jobs } = setup(t, servers.slice(0, 1).map((s) => s.address), { backend: { username: '', password: 'sekret' } });
  const expected = new Map<string, Expected>();
  await preload(worker.run, 'pw', 3000, expected);
  await jobs.addShard({ name: 's1', master: servers[1].address });
  jobs.rebalance();
  await jobs.whenIdle();
  t.is(jobs.list()[0].state, 'done', jobs.list()[0].error);
  const check = await checkBackends({ ...store.snapshot }, keySlot, new Map()).catch((e: Error) => e);
  t.true(check instanceof Error, 'backends do require the password');
  // Read back through the worker (authenticated).
  for (const [k, e] of [...expected].slice(0, 500)) t.is(String(await worker.run(['GET', k])), e.value);
});

test('a migrator stopped mid-way resumes from the persisted topology and loses nothing', async (t) => {
  const servers = await startRedisGroup(3, t.teardown);
  const { store, worker, jobs, stateDir } = setup(t, servers.slice(0, 2).map((s) => s.address), { batchKeys: 50, maxKeysPerSecond: 5000 });
  const expected = new Map<string, Expected>();
  await preload(worker.run, 'pre', 20_000, expected);
  await jobs.addShard({ name: 's2', master: servers[2].address });
  const job = jobs.rebalance();
  while (jobs.get(job.id)!.keysMoved < 500) await new Promise((r) => setTimeout(r, 10));
  await jobs.stop(); // as if the primary went away between two batches
  const stoppedAt = jobs.get(job.id)!;
  t.is(stoppedAt.state, 'failed');
  t.true(stoppedAt.keysMoved > 0 && stoppedAt.slotsDone === 0, `stopped mid-way (${stoppedAt.keysMoved} keys moved)`);
  const persisted = JSON.parse(fs.readFileSync(path.join(stateDir, 'topology.json'), 'utf8')) as TopologySnapshot;
  t.true(persisted.migrations.length > 0, 'migrations are persisted');
  // A new primary: reads the state dir, resumes.
  const store2 = new TopologyStore(stateDir, store.snapshot);
  const jobs2 = new JobManager({
    snapshot: () => store2.snapshot,
    apply: async (mutate) => {
      const next = store2.update(mutate);
      await worker.update(next);
      return next;
    },
    filter: perKeySlotFilter(keySlot),
    settings: () => ({ batchKeys: 500, maxKeysPerSecond: 0, backend: { username: '', password: '' } }),
    stateDir,
  });
  const resumed = jobs2.resume();
  t.truthy(resumed);
  await jobs2.whenIdle();
  const info = jobs2.list().find((j) => j.id === resumed!.id)!;
  t.is(info.state, 'done', info.error);
  t.is(info.resumed, 0, 'the stopped job was marked failed, the resume is a new record');
  t.deepEqual(store2.snapshot.migrations, []);
  t.deepEqual(slotCounts(store2.snapshot), [5462, 5461, 5461]);
  const check = await checkBackends(store2.snapshot, keySlot, expected);
  t.deepEqual([...check.misplaced, ...check.duplicated, ...check.wrong].slice(0, 5), []);
});

test('a multi-key command over a migrating and a settled shard: keys moved, split per shard, merged in order', async (t) => {
  const servers = await startRedisGroup(3, t.teardown);
  const { store, worker } = setup(t, servers.slice(0, 2).map((s) => s.address));
  // Keys on s0 and s1; then mark s0's slots 0..100 migrating to a new shard s2 by hand.
  const keys = ['{a}k', '{b}k', '{c}k', '{d}k', '{e}k', '{f}k'];
  for (const k of keys) await worker.run(['SET', k, `v:${k}`]);
  const slotOfKey = (k: string) => keySlot(Buffer.from(k));
  const moving = keys.filter((k) => slotOfKey(k) < 8192).map(slotOfKey);
  t.true(moving.length > 0 && moving.length < keys.length);
  const next = store.update((d) => {
    d.shards.push({ name: 's2', master: servers[2].address, replicas: [], state: 'up', slots: [] });
    for (const slot of moving) d.migrations.push({ first: slot, last: slot, from: 's0', to: 's2' });
    return d;
  });
  await worker.update(next);
  const values = (await worker.run(['MGET', ...keys, 'missing'])) as Buffer[];
  t.deepEqual(values.map((v) => (v === null ? null : String(v))), [...keys.map((k) => `v:${k}`), null]);
  const onNew = new RespClient(servers[2].address);
  t.is(await onNew.command(['DBSIZE']), moving.length, 'the migrating keys are on the destination now');
  t.is(await worker.run(['DEL', ...keys]), keys.length);
  t.is(await onNew.command(['DBSIZE']), 0);
  onNew.close();
});

test('backend ACL users: MIGRATE authenticates with AUTH2', async (t) => {
  const servers = await startRedisGroup(2, t.teardown);
  for (const s of servers) {
    const admin = new RespClient(s.address);
    await admin.command(['ACL', 'SETUSER', 'kv', 'on', '>pw2', '~*', '+@all']);
    await admin.command(['ACL', 'SETUSER', 'default', 'off']);
    admin.close();
  }
  const { store, jobs } = setup(t, servers.slice(0, 1).map((s) => s.address), { backend: { username: 'kv', password: 'pw2' } });
  const writer = new RespClient(servers[0].address, { username: 'kv', password: 'pw2' });
  for (let i = 0; i < 2000; i++) void writer.command(['SET', `u:${i}`, String(i)]);
  await writer.command(['PING']);
  await jobs.addShard({ name: 's1', master: servers[1].address });
  jobs.rebalance();
  await jobs.whenIdle();
  const job = jobs.list()[0];
  t.is(job.state, 'done', job.error);
  const reader = new RespClient(servers[1].address, { username: 'kv', password: 'pw2' });
  const onNew = Number(await reader.command(['DBSIZE']));
  const onOld = Number(await writer.command(['DBSIZE']));
  t.true(onNew > 500, `moved ${onNew}`);
  t.is(onNew + onOld, 2000);
  t.deepEqual(slotCounts(store.snapshot), [8192, 8192]);
  reader.close();
  writer.close();
});

test('stale leftovers on the destination never win over the source: they are purged before the slots migrate', async (t) => {
  const servers = await startRedisGroup(2, t.teardown);
  const { store, worker, jobs } = setup(t, [servers[0].address]);
  const expected = new Map<string, Expected>();
  await preload(worker.run, 'k', 2000, expected);
  // Old copies of the same keys on the future destination (as a cache-mode failover or an
  // interrupted no-copy cleanup could leave), plus a foreign key the destination will own.
  const dest = new RespClient(servers[1].address);
  // (The upper half of the slots moves to the new shard.)
  for (const k of expected.keys()) if (keySlot(Buffer.from(k)) >= 8192) await dest.command(['SET', k, 'stale']);
  await jobs.addShard({ name: 's1', master: servers[1].address });
  jobs.rebalance();
  await jobs.whenIdle();
  const info = jobs.list()[0];
  t.is(info.state, 'done', info.error);
  t.true(info.staleDeleted > 0, `purged ${info.staleDeleted} stale copies`);
  const check = await checkBackends(store.snapshot, keySlot, expected);
  t.deepEqual([...check.misplaced, ...check.duplicated, ...check.wrong].slice(0, 5), []);
  dest.close();
});

test('a restart between announcing and activating a migration activates and finishes it', async (t) => {
  const servers = await startRedisGroup(2, t.teardown);
  const { store, worker, jobs } = setup(t, [servers[0].address]);
  const expected = new Map<string, Expected>();
  await preload(worker.run, 'p', 3000, expected);
  await jobs.addShard({ name: 's1', master: servers[1].address });
  // As a primary killed right after persisting the pending migrations would leave them.
  await worker.update(store.update((d) => startMigrations(d, planRebalance(d), true)));
  const held = worker.run(['GET', 'p:1']); // waits: the slots are pending
  const job = jobs.resume();
  t.truthy(job);
  await jobs.whenIdle();
  t.is(String(await held), expected.get('p:1')!.value);
  t.is(jobs.get(job!.id)!.state, 'done');
  t.deepEqual(store.snapshot.migrations, []);
  const check = await checkBackends(store.snapshot, keySlot, expected);
  t.deepEqual([...check.misplaced, ...check.duplicated, ...check.wrong].slice(0, 5), []);
});

test('remove-shard --no-copy drops the shard at once; its slots go to the others without data', async (t) => {
  const servers = await startRedisGroup(3, t.teardown);
  const { store, worker, jobs } = setup(t, servers.map((s) => s.address));
  const expected = new Map<string, Expected>();
  await preload(worker.run, 'r', 3000, expected);
  const job = jobs.removeShard('s1', { noCopy: true });
  await jobs.whenIdle();
  const info = jobs.get(job.id)!;
  t.is(info.state, 'done', info.error);
  t.is(info.keysMoved, 0);
  t.deepEqual(store.snapshot.shards.map((s) => s.name), ['s0', 's2']);
  t.deepEqual(slotCounts(store.snapshot), [8192, 8192]);
  // Keys of the other shards are untouched; the removed shard's keys now miss (cache refill).
  for (const [k, e] of [...expected].slice(0, 300)) {
    const v = await worker.run(['GET', k]);
    const wasOnRemoved = keySlot(Buffer.from(k)) >= 5461 && keySlot(Buffer.from(k)) <= 10921; // s1's range
    if (wasOnRemoved) t.is(v, null);
    else t.is(String(v), e.value);
  }
});

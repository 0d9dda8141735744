/**
 * `kvstore ctl` resharding commands against the admin API (AdminServer + JobManager + real
 * redis-servers; no workers: the topology is applied directly).
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AdminServer } from '../../src/admin/AdminServer';
import { main } from '../../src/cli/main';
import { registerReshardRoutes } from '../../src/reshard/adminRoutes';
import { JobManager, JobInfo } from '../../src/reshard/JobManager';
import { perKeySlotFilter } from '../../src/reshard/SourceScan';
import { planRebalance, startMigrations } from '../../src/reshard/planner';
import { RespClient } from '../../src/resp';
import { followJob, progressBar, progressLine, formatEta } from '../../src/reshard/cliProgress';
import { initialTopology, TopologyStore } from '../../src/topology/TopologyStore';
import type { KvstoreConfig } from '../../src/config/types';
import { startRedisGroup } from '../helpers/redis';
import { loadKeySlot, slotCounts } from '../helpers/reshard';

const keySlot = loadKeySlot();

async function setup(t: { teardown(fn: () => void | Promise<void>): void }, masters: string[]) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-reshard-cli-'));
  t.teardown(() => fs.rmSync(stateDir, { recursive: true, force: true }));
  const config = { mode: 'store', hash: 'crc16', shards: masters.map((master, i) => ({ name: `s${i}`, master, replicas: [] })) } as unknown as KvstoreConfig;
  const store = new TopologyStore(stateDir, initialTopology(config));
  const jobs = new JobManager({
    snapshot: () => store.snapshot,
    apply: async (mutate) => store.update(mutate),
    filter: perKeySlotFilter(keySlot),
    settings: () => ({ batchKeys: 100, maxKeysPerSecond: 0, retries: 1, backend: { username: '', password: '' } }),
    stateDir,
  });
  const admin = new AdminServer({ host: '127.0.0.1', port: 0 });
  registerReshardRoutes(admin, jobs);
  admin.route('GET', '/topology', () => store.snapshot);
  const { port } = await admin.listen();
  t.teardown(() => admin.close());
  const ctl = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['ctl', '--admin', `127.0.0.1:${port}`, ...args], { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  return { store, jobs, ctl };
}

test('add-shard, rebalance --wait, move-slots --wait, remove-shard --wait and jobs, through the admin API', async (t) => {
  const servers = await startRedisGroup(3, t.teardown);
  const { store, ctl } = await setup(t, servers.slice(0, 2).map((s) => s.address));
  const c = new RespClient(servers[0].address);
  const d = new RespClient(servers[1].address);
  // Each key on the shard that owns its slot (s0: 0-8191, s1: 8192-16383).
  for (let i = 0; i < 3000; i++) void (keySlot(Buffer.from(`k${i}`)) < 8192 ? c : d).command(['SET', `k${i}`, 'v']);
  await Promise.all([c.command(['PING']), d.command(['PING'])]);

  let r = await ctl('add-shard', 'n', '--master', servers[2].address, '--replica', '127.0.0.1:1');
  t.is(r.code, 0, r.err);
  t.regex(r.out, /added shard n/);
  t.deepEqual(store.snapshot.shards[2].replicas, ['127.0.0.1:1']);
  r = await ctl('add-shard', 'n', '--master', '127.0.0.1:2');
  t.not(r.code, 0);
  t.regex(r.err, /already exists/);
  t.is((await ctl('add-shard', 'x')).code, 2, 'usage error without --master');

  r = await ctl('rebalance', '--wait');
  t.is(r.code, 0, r.err);
  t.regex(r.out, /job 1 rebalance: done {2}slots 5461\/5461 {2}keys moved \d+/);
  t.deepEqual(slotCounts(store.snapshot), [5462, 5461, 5461]);

  r = await ctl('move-slots', '0-99', 's1', '--wait');
  t.is(r.code, 0, r.err);
  t.is(store.snapshot.shards[1].slots[0][0], 0);

  r = await ctl('remove-shard', 'n', '--wait');
  t.is(r.code, 0, r.err);
  t.deepEqual(store.snapshot.shards.map((s) => s.name), ['s0', 's1']);
  t.is(Number(await d.command(['DBSIZE'])) + Number(await c.command(['DBSIZE'])), 3000, 'no key lost');
  d.close();
  c.close();

  r = await ctl('jobs');
  t.is(r.code, 0);
  t.regex(r.out, /ID\s+KIND\s+TARGET\s+STATE\s+SLOTS\s+KEYS MOVED\s+KEYS\/S\s+ETA/);
  t.regex(r.out, /3\s+remove-shard\s+n\s+done/);
  const json = JSON.parse((await ctl('jobs', '--json')).out) as JobInfo[];
  t.deepEqual(json.map((j) => [j.kind, j.state]), [['rebalance', 'done'], ['move-slots', 'done'], ['remove-shard', 'done']]);

  r = await ctl('move-slots', '5-1', 's1');
  t.not(r.code, 0);
  t.regex(r.err, /invalid slot range/);
  t.is((await ctl('move-slots', 'x', 's1')).code, 2);
});

test('--wait exits non-zero when the job fails; rebalance finishes moves a failed job left migrating', async (t) => {
  const servers = await startRedisGroup(2, t.teardown);
  const { store, ctl } = await setup(t, [servers[0].address]);
  const c = new RespClient(servers[0].address);
  for (let i = 0; i < 1000; i++) void c.command(['SET', `k${i}`, 'v']);
  await c.command(['PING']);
  t.is((await ctl('add-shard', 'b', '--master', servers[1].address)).code, 0);
  await servers[1].stop();
  const r = await ctl('rebalance', '--wait');
  t.is(r.code, 1);
  t.regex(r.err, /job 1 failed: .*ECONNREFUSED/);
  t.deepEqual(store.snapshot.migrations, [], 'it failed before any slot started migrating');
  await servers[1].restart();
  // As a job that failed half-way leaves it: slots migrating, some keys moved.
  store.update((d) => startMigrations(d, planRebalance(d)));
  const again = await ctl('rebalance', '--wait');
  t.is(again.code, 0, again.err);
  t.deepEqual(store.snapshot.migrations, []);
  t.deepEqual(slotCounts(store.snapshot), [8192, 8192]);
  const b = new RespClient(servers[1].address);
  const onB = Number(await b.command(['DBSIZE']));
  t.true(onB > 300, `${onB} keys moved`);
  t.is(onB + Number(await c.command(['DBSIZE'])), 1000);
  b.close();
  c.close();
});

test('progress rendering: bar, plain line, ETA', (t) => {
  const job: JobInfo = {
    id: 7, kind: 'rebalance', state: 'running', noCopy: false, createdAt: '', resumed: 0, slotsTotal: 4096, slotsDone: 1024, moves: 3,
    keysScanned: 500, keysToScan: 1000, keysMoved: 1234, staleDeleted: 0, keysPerSecond: 5678, etaSeconds: 75, elapsedMs: 1000,
  };
  t.is(progressLine(job), 'job 7 rebalance: running  slots 1024/4096  keys moved 1234  5678 keys/s  ETA 01:15');
  t.is(progressBar(job, 10), '[#####-----]  50%  slots 1024/4096  keys 1234  5678 keys/s  ETA 01:15');
  t.is(formatEta(3725), '1:02:05');
  t.is(formatEta(null), '--:--');
});

test('on a terminal the progress bar is redrawn in place until the job ends', async (t) => {
  const base: JobInfo = {
    id: 3, kind: 'move-slots', state: 'running', noCopy: false, createdAt: '', resumed: 0, slotsTotal: 100, slotsDone: 0, moves: 1,
    keysScanned: 0, keysToScan: 1000, keysMoved: 0, staleDeleted: 0, keysPerSecond: 0, etaSeconds: null, elapsedMs: 0,
  };
  const states: JobInfo[] = [
    { ...base, keysScanned: 500, keysMoved: 40, keysPerSecond: 400, etaSeconds: 1 },
    { ...base, state: 'done', slotsDone: 100, keysScanned: 1000, keysMoved: 90, keysPerSecond: 450, etaSeconds: 0 },
  ];
  const frames: string[] = [];
  const lines: string[] = [];
  const ctx = { admin: { get: async () => states.shift()! }, json: false, args: [], out: (s: string) => lines.push(s), err: (s: string) => lines.push(s) };
  const code = await followJob(ctx as never, base, { tty: true, pollMs: 1, write: (s) => frames.push(s) });
  t.is(code, 0);
  t.true(frames.every((f) => f === '\n' || f.startsWith('\r\x1b[2K[')), 'each frame redraws the line');
  t.regex(frames[1], /\[###############---------------\]  50%  slots 0\/100  keys 40  400 keys\/s  ETA 00:01/);
  t.regex(frames[2], /100%  slots 100\/100/);
  t.deepEqual(lines, ['job 3 move-slots: done  slots 100/100  keys moved 90  450 keys/s  ETA 00:00']);
});

/**
 * Online resharding end to end: the real program (primary + 2 cluster workers) over real
 * redis-servers, clients talking to the proxy port throughout, jobs started through the admin
 * API, and `kill -9` of the whole proxy in the middle of a migration.
 */
import test from 'ava';
import { ChildProcess, spawn } from 'node:child_process';
import { RespClient } from '../../src/resp';
import type { JobInfo } from '../../src/reshard/JobManager';
import type { TopologySnapshot } from '../../src/topology/types';
import { adminRequest, eventually, KVSTORE_BIN, KvstoreProcess, startKvstore } from '../helpers/kvstore';
import { startRedisGroup } from '../helpers/redis';
import { checkBackends, Expected, loadKeySlot, percentile, preload, Runner, slotCounts, startLoad } from '../helpers/reshard';

const keySlot = loadKeySlot();

/** A runner over `n` connections to the proxy (round-robin), so both workers get clients. */
function proxyRunner(t: { teardown(fn: () => void): void }, port: number, n = 4): Runner {
  const clients = Array.from({ length: n }, () => new RespClient(`127.0.0.1:${port}`));
  t.teardown(() => clients.forEach((c) => c.close()));
  let next = 0;
  return (args) => clients[next++ % n].command(args);
}

async function topology(adminPort: number): Promise<TopologySnapshot> {
  return (await adminRequest(adminPort, 'GET', '/topology?routing=1')).body as TopologySnapshot;
}

async function waitForJob(adminPort: number, id: number, timeoutMs = 120_000): Promise<JobInfo> {
  const job = await eventually(async () => {
    const j = (await adminRequest(adminPort, 'GET', `/jobs/${id}`)).body as JobInfo;
    return j.state !== 'running' ? j : null;
  }, timeoutMs, `job ${id}`);
  return job!;
}

test('add a 4th shard and rebalance under load through the proxy: latest values and TTLs, no failed request, keys only on owners, even slots', async (t) => {
  const kv = await startKvstore(t, { shards: 3, workers: 2, config: { migration: { batchKeys: 100, maxKeysPerSecond: 8000 } } });
  const [extra] = await startRedisGroup(1, t.teardown);
  const run = proxyRunner(t, kv.port);
  const expected = new Map<string, Expected>();
  await preload(run, 'pre', 30_000, expected);

  const baseline = startLoad(run, new Map(), { concurrency: 4, keysPerLoop: 300, prefix: 'warm' });
  await new Promise((r) => setTimeout(r, 1500));
  const before = await baseline.stop();

  const load = startLoad(run, expected, { concurrency: 4, keysPerLoop: 300, prefix: 'load', rewrite: { prefix: 'pre', count: 30_000 } });
  const added = await kv.admin('POST', '/shards', { name: 's4', master: extra.address });
  t.is(added.status, 201, added.text);
  const started = await kv.admin('POST', '/reshard/rebalance', {});
  t.is(started.status, 202, started.text);
  const job = await waitForJob(kv.adminPort, started.body.id);
  const during = await load.stop();
  t.is(job.state, 'done', job.error);
  const topo = await topology(kv.adminPort);
  t.deepEqual(topo.migrations, []);
  t.deepEqual(slotCounts(topo), [4096, 4096, 4096, 4096]);
  t.deepEqual(during.failures.slice(0, 5), [], `${during.failures.length} failed requests`);
  t.true(during.ops > 100, `load ran throughout (${during.ops} ops)`);
  const check = await checkBackends(topo, keySlot, expected);
  t.deepEqual(check.misplaced.slice(0, 5), []);
  t.deepEqual(check.duplicated.slice(0, 5), []);
  t.deepEqual(check.wrong.slice(0, 5), []);
  const metrics = (await kv.admin('GET', '/metrics')).text;
  t.regex(metrics, /kvstore_reshard_keys_moved_total [1-9]\d*/);
  t.regex(metrics, /kvstore_migrating_slots 0/);
  t.log(`proxy rebalance 3→4: ${job.keysMoved} keys moved in ${job.elapsedMs} ms (${job.keysPerSecond} keys/s, paced at 8000); ${during.ops} client ops during it`);
  t.log(`client p99 without migration ${percentile(before.latenciesUs, 99).toFixed(0)} µs, during ${percentile(during.latenciesUs, 99).toFixed(0)} µs`);
});

test('remove a shard under load through the proxy (drain, then drop)', async (t) => {
  const kv = await startKvstore(t, { shards: 4, workers: 2, config: { migration: { batchKeys: 100, maxKeysPerSecond: 8000 } } });
  const run = proxyRunner(t, kv.port);
  const expected = new Map<string, Expected>();
  await preload(run, 'pre', 20_000, expected);
  const load = startLoad(run, expected, { concurrency: 4, keysPerLoop: 300, prefix: 'load', rewrite: { prefix: 'pre', count: 20_000 } });
  // Through the real command line, in its fixed form.
  const cli = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [KVSTORE_BIN, 'ctl', '--admin', `127.0.0.1:${kv.adminPort}`, 'remove-shard', 's2', '--wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (code) => resolve({ code, out }));
  });
  const during = await load.stop();
  t.is(cli.code, 0, cli.out);
  t.regex(cli.out, /job 1 remove-shard: done {2}slots 4096\/4096 {2}keys moved \d+ {2}\d+ keys\/s {2}ETA 00:00/);
  const job = await waitForJob(kv.adminPort, 1);
  t.is(job.state, 'done', job.error);
  const topo = await topology(kv.adminPort);
  t.deepEqual(topo.shards.map((s) => s.name), ['s1', 's3', 's4']);
  const counts = slotCounts(topo);
  t.true(Math.max(...counts) - Math.min(...counts) <= 1, `even: ${counts}`);
  t.deepEqual(during.failures.slice(0, 5), [], `${during.failures.length} failed requests`);
  const check = await checkBackends(topo, keySlot, expected);
  t.deepEqual([...check.misplaced, ...check.duplicated, ...check.wrong].slice(0, 5), []);
  const removed = new RespClient(kv.redis[1].address);
  t.is(await removed.command(['DBSIZE']), 0);
  removed.close();
});

test('cache mode: no-copy rebalance reassigns slots without moving data', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 2, config: { mode: 'cache' } });
  const [extra] = await startRedisGroup(1, t.teardown);
  const run = proxyRunner(t, kv.port);
  const expected = new Map<string, Expected>();
  await preload(run, 'c', 5000, expected);
  t.is((await kv.admin('POST', '/shards', { name: 's3', master: extra.address })).status, 201);
  const started = await kv.admin('POST', '/reshard/rebalance', { noCopy: true });
  const job = await waitForJob(kv.adminPort, started.body.id);
  t.is(job.state, 'done', job.error);
  t.true(job.noCopy);
  const topo = await topology(kv.adminPort);
  t.deepEqual(slotCounts(topo), [5462, 5461, 5461]);
  const fresh = new RespClient(extra.address);
  t.is(await fresh.command(['DBSIZE']), 0, 'nothing copied');
  fresh.close();
  let misses = 0;
  for (const [k, e] of [...expected].slice(0, 1000)) {
    const v = await run(['GET', k]);
    if (topo.shards[2].slots.some(([a, b]) => keySlot(Buffer.from(k)) >= a && keySlot(Buffer.from(k)) <= b)) {
      if (v === null) misses++;
    } else t.is(String(v), e.value);
  }
  t.true(misses > 200, `keys of the moved slots miss (${misses})`);
  // The cache refills on the new owner.
  t.is(await run(['SET', 'refill', 'x']), 'OK');
  t.is(String(await run(['GET', 'refill'])), 'x');
});

/** Start the program again on the same config and state dir; resolves once it is healthy. */
async function restart(t: { teardown(fn: () => void | Promise<void>): void }, kv: KvstoreProcess): Promise<ChildProcess> {
  // The first start bound port 0; the clients of the test reconnect to the ports it got.
  kv.writeConfig({ ...kv.config, listen: { host: '127.0.0.1', port: kv.port }, admin: { host: '127.0.0.1', port: kv.adminPort } });
  const child = spawn(process.execPath, [KVSTORE_BIN, 'start', '-c', kv.configFile], { env: { ...process.env, KVSTORE_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  const seen = new Set<number>();
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        const w = await adminRequest(kv.adminPort, 'GET', '/workers');
        for (const x of w.body.workers as Array<{ pid?: number }>) if (x.pid) seen.add(x.pid);
      } catch {
        /* gone */
      }
      child.kill('SIGKILL');
      await exited;
    }
    for (const pid of seen) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  await eventually(async () => {
    const h = await adminRequest(kv.adminPort, 'GET', '/health');
    if (h.status === 200 && h.body.status === 'ok') {
      for (const x of (await adminRequest(kv.adminPort, 'GET', '/workers')).body.workers as Array<{ pid?: number }>) if (x.pid) seen.add(x.pid);
      return true;
    }
    return false;
  }, 30_000, 'restarted kvstore healthy');
  return child;
}

test('kill -9 of the proxy in the middle of a migration: the restarted proxy resumes it and no key is lost', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 2, config: { migration: { batchKeys: 50, maxKeysPerSecond: 3000 } } });
  const [extra] = await startRedisGroup(1, t.teardown);
  const run = proxyRunner(t, kv.port);
  const expected = new Map<string, Expected>();
  await preload(run, 'pre', 30_000, expected);
  t.is((await kv.admin('POST', '/shards', { name: 's3', master: extra.address })).status, 201);
  const started = await kv.admin('POST', '/reshard/rebalance', {});
  // Writes and reads while the migration runs, stopped before the kill so every write is acknowledged.
  const load = startLoad(run, expected, { concurrency: 4, keysPerLoop: 200, prefix: 'load', rewrite: { prefix: 'pre', count: 30_000 } });
  const mid = await eventually(async () => {
    const job = (await kv.admin('GET', `/jobs/${started.body.id}`)).body as JobInfo;
    return job.keysMoved > 2000 ? job : null;
  }, 30_000, 'migration under way').then((j) => j!);
  const beforeKill = await load.stop();
  t.deepEqual(beforeKill.failures.slice(0, 5), []);
  t.is(mid.state, 'running');
  const pids = await kv.workerPids();
  kv.process.kill('SIGKILL');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await kv.exited;
  const persisted = (await import('node:fs')).readFileSync(`${kv.config.stateDir as string}/topology.json`, 'utf8');
  t.true((JSON.parse(persisted) as TopologySnapshot).migrations.length > 0, 'killed while slots were migrating');

  await restart(t, kv);
  const run2 = proxyRunner(t, kv.port);
  const load2 = startLoad(run2, expected, { concurrency: 4, keysPerLoop: 200, prefix: 'after', rewrite: { prefix: 'pre', count: 30_000 } });
  const job = await waitForJob(kv.adminPort, started.body.id);
  const after = await load2.stop();
  t.is(job.state, 'done', job.error);
  t.is(job.resumed, 1, 'the same job was picked up again');
  t.is(job.slotsDone, 5461);
  t.is(job.slotsTotal, 5461);
  t.deepEqual(after.failures.slice(0, 5), []);
  const topo = await topology(kv.adminPort);
  t.deepEqual(topo.migrations, []);
  t.deepEqual(slotCounts(topo), [5462, 5461, 5461]);
  const check = await checkBackends(topo, keySlot, expected);
  t.deepEqual(check.wrong.slice(0, 5), [], `${check.wrong.length} keys lost or wrong`);
  t.deepEqual([...check.misplaced, ...check.duplicated].slice(0, 5), []);
  t.log(`killed at ${mid.keysMoved} keys moved; resumed job finished with ${job.keysMoved} keys moved in total`);
});

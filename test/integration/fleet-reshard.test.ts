/**
 * Resharding in a fleet of three proxies (real etcd, real redis-servers): `rebalance --wait`
 * under a load spread over all proxies (each key written through one proxy and read through
 * another), and the leader killed with kill -9 in the middle of a migration, finished by the
 * next leader. Checked as the single-box resharding test does: 0 client errors, and on the
 * redis-servers every key on its owner only, with its latest value.
 */
import test from 'ava';
import { RespArg, RespClient } from '../../src/resp';
import { startFleet } from '../helpers/fleet';
import { eventually, KvstoreProcess, ctl } from '../helpers/kvstore';
import { startRedisGroup } from '../helpers/redis';
import { checkBackends, Expected, loadKeySlot, preload, Runner, startLoad } from '../helpers/reshard';


/** Each call goes to the next proxy: a key is written through one and read through another. */
function roundRobin(proxies: KvstoreProcess[], teardown: (fn: () => void) => void): Runner {
  const clients = proxies.map((p) => new RespClient(`127.0.0.1:${p.port}`));
  teardown(() => clients.forEach((c) => c.close()));
  let next = 0;
  return (args: RespArg[]) => clients[next++ % clients.length].command(args);
}

test('rebalance --wait under a load spread over all three proxies: 0 errors, 0 lost or stale keys', async (t) => {
  const fleet = await startFleet(t, { proxies: 3, shards: 2, config: { migration: { batchKeys: 100, maxKeysPerSecond: 0 } } });
  const [extra] = await startRedisGroup(1, t.teardown.bind(t));
  const run = roundRobin(fleet.proxies, t.teardown.bind(t));
  const expected = new Map<string, Expected>();
  await preload(run, 'pre', 5000, expected);
  const load = startLoad(run, expected, { concurrency: 6, keysPerLoop: 50, prefix: 'live', rewrite: { prefix: 'pre', count: 5000 } });
  await new Promise((r) => setTimeout(r, 300));
  const leader = await fleet.leader();
  const followers = fleet.proxies.filter((p) => p !== leader);
  const add = await followers[0].admin('POST', '/shards', { name: 's3', master: extra.address });
  t.is(add.status, 201, add.text);
  const r = await ctl(followers[1], 'rebalance', '--wait');
  t.is(r.status, 0, r.stderr + r.stdout);
  const stats = await load.stop();
  t.log(`rebalance through a follower under load: ${stats.ops} ops, ${stats.failures.length} failures; ${r.stdout.trim().split('\n').pop()}`);
  t.deepEqual(stats.failures.slice(0, 10), []);
  const topologies = await Promise.all(fleet.proxies.map(async (p) => (await p.admin('GET', '/topology?routing=1')).body));
  t.true(topologies.every((x) => x.epoch === topologies[0].epoch), 'one epoch on every proxy');
  t.is(topologies[0].migrations.length, 0);
  t.is(topologies[0].shards.length, 3);
  const check = await checkBackends(topologies[0], loadKeySlot(), expected);
  t.deepEqual({ misplaced: check.misplaced.slice(0, 5), duplicated: check.duplicated.slice(0, 5), wrong: check.wrong.slice(0, 5) }, { misplaced: [], duplicated: [], wrong: [] });
  t.true(check.total >= expected.size);
});

test('the leader killed with kill -9 in the middle of a migration: the next leader finishes it, no key lost', async (t) => {
  // paced, so that the migration is still running when the leader dies
  const fleet = await startFleet(t, { proxies: 3, shards: 2, config: { migration: { batchKeys: 50, maxKeysPerSecond: 3000 } } });
  const [extra] = await startRedisGroup(1, t.teardown.bind(t));
  const expected = new Map<string, Expected>();
  await preload(roundRobin(fleet.proxies, t.teardown.bind(t)), 'pre', 12000, expected);
  const leader = await fleet.leader();
  const survivors = fleet.proxies.filter((p) => p !== leader);
  const run = roundRobin(survivors, t.teardown.bind(t));
  const load = startLoad(run, expected, { concurrency: 4, keysPerLoop: 50, prefix: 'live', rewrite: { prefix: 'pre', count: 12000 } });

  t.is((await survivors[0].admin('POST', '/shards', { name: 's3', master: extra.address })).status, 201);
  const job = await survivors[1].admin('POST', '/reshard/rebalance', {});
  t.is(job.status, 202, job.text);
  await eventually(async () => (await survivors[1].admin('GET', `/jobs/${job.body.id}`)).body.keysMoved > 1000, 30_000, 'the migration under way');
  const pids = await leader.workerPids();
  leader.process.kill('SIGKILL');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone with its primary */
    }
  }
  const killedAt = Date.now();
  const next = await eventually(async () => {
    for (const p of survivors) if ((await p.admin('GET', '/fleet')).body.isLeader) return p;
    return undefined;
  }, 20_000, 'a new leader');
  t.log(`new leader ${next!.config.proxyId} elected ${Date.now() - killedAt} ms after kill -9`);
  const done = await eventually(async () => {
    const j = (await survivors[0].admin('GET', `/jobs/${job.body.id}`)).body;
    return j.state === 'done' ? j : j.state === 'failed' ? Promise.reject(new Error(`job failed: ${j.error}`)) : undefined;
  }, 120_000, 'the migration finished by the new leader');
  t.true(done.resumed >= 1, 'the same job, resumed');
  const stats = await load.stop();
  t.log(`migration finished ${Date.now() - killedAt} ms after the kill; load: ${stats.ops} ops, ${stats.failures.length} failures (${[...new Set(stats.failures.map((f) => f.replace(/\d+/g, 'N')))].slice(0, 3).join(' | ')})`);
  const topo = (await survivors[0].admin('GET', '/topology?routing=1')).body;
  t.is(topo.migrations.length, 0);
  const check = await checkBackends(topo, loadKeySlot(), expected);
  t.deepEqual({ misplaced: check.misplaced.slice(0, 5), duplicated: check.duplicated.slice(0, 5), wrong: check.wrong.slice(0, 5) }, { misplaced: [], duplicated: [], wrong: [] });
  t.deepEqual(stats.failures.slice(0, 10), []);
});

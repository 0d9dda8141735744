/**
 * A fleet proxy stopped with SIGSTOP (primary and workers) past its etcd lease: the others'
 * barrier stops waiting for it once etcd expires the lease, and ownership moves without it.
 * After SIGCONT it must serve nothing stale: commands that reach it before it has
 * re-registered and caught up get -TRYAGAIN (src/proxy/LeaseFence.ts), then it serves the new
 * topology. The old owner is given a stale copy of the key to make a stale read visible.
 */
import test from 'ava';
import Redis from 'ioredis';
import { startFleet } from '../helpers/fleet';
import { eventually, KvstoreProcess } from '../helpers/kvstore';
import { specKeySlot } from '../helpers/specSlot';

function signalAll(kv: KvstoreProcess, pids: number[], sig: NodeJS.Signals): void {
  kv.process.kill(sig);
  for (const pid of pids) process.kill(pid, sig);
}

test('a proxy SIGSTOPped past its lease: the barrier proceeds without it; after SIGCONT it serves nothing stale', async (t) => {
  const fleet = await startFleet(t, { proxies: 3, shards: 2, config: { coordination: { etcd: { leaseTtlMs: 2000 } } } });
  const leader = await fleet.leader();
  const stalled = fleet.proxies.find((p) => p !== leader)!;
  const other = fleet.proxies.find((p) => p !== leader && p !== stalled)!;
  await eventually(async () => (await fleet.proxiesSeenBy(leader)).length === 3, 20_000, 'three members');

  const key = 'stall-key';
  const slot = specKeySlot(Buffer.from(key));
  const topo = (await leader.admin('GET', '/topology')).body;
  const ownerIndex = topo.shards.findIndex((s: { slots: number[][] }) => s.slots.some(([a, b]) => slot >= a && slot <= b));
  const target = topo.shards[1 - ownerIndex].name as string;
  const oldOwner = new Redis({ port: fleet.redis[ownerIndex].port, host: '127.0.0.1' });
  const viaOther = new Redis({ port: other.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  const viaStalled = new Redis({ port: stalled.port, host: '127.0.0.1', maxRetriesPerRequest: 0, commandTimeout: 20_000 });
  for (const c of [oldOwner, viaOther, viaStalled]) c.on('error', () => undefined);
  t.teardown(() => [oldOwner, viaOther, viaStalled].forEach((c) => c.disconnect()));
  t.is(await viaOther.set(key, 'old'), 'OK');
  t.is(await viaStalled.get(key), 'old');

  const pids = await stalled.workerPids();
  signalAll(stalled, pids, 'SIGSTOP');
  let resumed = false;
  t.teardown(() => {
    if (!resumed) signalAll(stalled, pids, 'SIGCONT');
  });
  const stoppedAt = Date.now();

  // ownership moves while it is stopped: the job's barrier waits for its lease to expire, then proceeds
  const job = await leader.admin('POST', '/reshard/move-slots', { first: slot, last: slot, shard: target, noCopy: true });
  t.is(job.status, 202, job.text);
  await eventually(async () => {
    const j = (await leader.admin('GET', `/jobs/${job.body.id}`)).body;
    if (j.state === 'failed') throw new Error(`job failed: ${j.error}`);
    return j.state === 'done';
  }, 30_000, 'the move, past the stopped proxy');
  t.log(`move done ${Date.now() - stoppedAt} ms after SIGSTOP (lease 2 s)`);
  t.deepEqual((await fleet.proxiesSeenBy(leader)).map((p) => p.id).sort(), [leader, other].map((p) => p.config.proxyId as string).sort());
  t.is(await viaOther.set(key, 'new'), 'OK');
  await oldOwner.set(key, 'stale'); // what the stopped proxy's old table would read

  // commands sent to the stopped proxy, answered after SIGCONT
  const pendingGet = viaStalled.get(key).then((v) => ({ v }), (e: Error) => ({ e: e.message }));
  const pendingSet = viaStalled.set(`${key}`, 'from-stalled').then((v) => ({ v }), (e: Error) => ({ e: e.message }));
  await new Promise((r) => setTimeout(r, 200));
  signalAll(stalled, pids, 'SIGCONT');
  resumed = true;
  const got = await pendingGet;
  const set = await pendingSet;
  t.log(`after SIGCONT: GET -> ${JSON.stringify(got)}; SET -> ${JSON.stringify(set)}`);
  t.not((got as { v?: string }).v, 'stale', 'never the old owner\'s value');
  if ('e' in got) t.regex(got.e, /^TRYAGAIN /);
  if ('e' in set) t.regex(set.e, /^TRYAGAIN /);
  t.is(await oldOwner.get(key), 'stale', 'nothing was written to the old owner');

  // then it is back: re-registered, caught up, serving the new owner
  await eventually(async () => (await viaStalled.get(key).catch(() => null)) !== null, 20_000, 'serving again');
  const expected = 'e' in set ? 'new' : 'from-stalled';
  t.is(await viaStalled.get(key), expected);
  t.is(await viaOther.get(key), expected);
  const ids = (await fleet.proxiesSeenBy(stalled)).map((p) => p.id);
  t.true(ids.includes(stalled.config.proxyId as string), 'it re-registered');
  const epochs = await Promise.all(fleet.proxies.map(async (p) => (await p.admin('GET', '/topology')).body.epoch));
  t.true(epochs.every((e) => e === epochs[0]));
});

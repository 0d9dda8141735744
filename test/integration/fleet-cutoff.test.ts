/**
 * One fleet proxy cut off from etcd alone (its etcd endpoint is a TCP relay the test owns and
 * cuts), while the other proxies still reach etcd: it asks its peers, learns that it alone is
 * cut off, and past its lease it refuses what may have changed without it — the slots whose
 * owner changed (cache mode) and every write (store mode) — while it keeps serving the rest.
 * Its peers acknowledge no epoch it has not seen, so a slot moved without it is refused there
 * by the time the move is done; once the relay is back it re-registers, catches up and serves
 * the new owner, never the old one's stale copy.
 */
import test from 'ava';
import Redis from 'ioredis';
import { startFleet, TestFleet } from '../helpers/fleet';
import { eventually, KvstoreProcess } from '../helpers/kvstore';
import { specKeySlot } from '../helpers/specSlot';
import { startTcpRelay, TcpRelay } from '../helpers/tcpRelay';

/** A fleet of three whose third proxy reaches etcd only through a relay. */
async function fleetWithRelay(t: Parameters<typeof startFleet>[0], config: Record<string, unknown>): Promise<{ fleet: TestFleet; relay: TcpRelay; cut: KvstoreProcess; others: KvstoreProcess[] }> {
  let relayed = '';
  const fleet = await startFleet(t, {
    proxies: 2,
    shards: 2,
    config: { ...config, coordination: { etcd: { leaseTtlMs: 2000 } } },
    perProxy: (i) => (i === 2 ? { coordination: { etcd: { endpoints: [relayed] } } } : {}),
  });
  const relay = await startTcpRelay('127.0.0.1', fleet.etcd.members[0].clientPort, t.teardown.bind(t));
  relayed = relay.address;
  const cut = await fleet.start(2);
  await eventually(async () => (await fleet.proxiesSeenBy(fleet.proxies[0])).length === 3, 20_000, 'three members');
  return { fleet, relay, cut, others: fleet.proxies.slice(0, 2) };
}

function client(p: KvstoreProcess, t: { teardown(fn: () => void): void }): Redis {
  const c = new Redis({ port: p.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  c.on('error', () => undefined);
  t.teardown(() => c.disconnect());
  return c;
}

const fleetView = async (p: KvstoreProcess) => (await p.admin('GET', '/fleet')).body;

/** A key whose slot is not `avoid` and is owned by shard index `owner` of `topo`. */
function keyOwnedBy(topo: { shards: Array<{ slots: number[][] }> }, owner: number, prefix: string, avoid = -1): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}${i}`;
    const slot = specKeySlot(Buffer.from(key));
    if (slot !== avoid && topo.shards[owner].slots.some(([a, b]) => slot >= a && slot <= b)) return key;
  }
}

test('cache mode, cut off alone: the moved slot is refused there once the move is done, the others served; afterwards nothing stale', async (t) => {
  const { fleet, relay, cut, others } = await fleetWithRelay(t, {});
  const viaCut = client(cut, t);
  const viaOther = client(others[0], t);
  const topo = (await others[0].admin('GET', '/topology')).body;
  const moving = keyOwnedBy(topo, 0, 'move:');
  const slot = specKeySlot(Buffer.from(moving));
  const staying = keyOwnedBy(topo, 0, 'stay:', slot); // same owner, another slot: unchanged
  const oldOwner = new Redis({ port: fleet.redis[0].port, host: '127.0.0.1' });
  t.teardown(() => oldOwner.disconnect());
  t.is(await viaOther.set(moving, 'old'), 'OK');
  t.is(await viaOther.set(staying, 'stay'), 'OK');
  t.is(await viaCut.get(moving), 'old');

  await relay.cut();
  const view = await eventually(async () => {
    const f = await fleetView(cut);
    return f.cutOff === 'alone' ? f : undefined;
  }, 10_000, 'the cut-off proxy finding it is alone');
  t.is(view.etcd, 'unreachable');
  t.is(view.failover, 'suspended');
  for (const p of others) t.is((await fleetView(p)).etcd, 'ok');

  // the others move the slot (through a leader that reaches etcd); the barrier does not finish
  // before the cut-off proxy's lease has expired and it has seen the change through its peers
  const leader = (await eventually(async () => {
    for (const p of others) if ((await fleetView(p)).isLeader) return p;
    return undefined;
  }, 20_000, 'a leader among the proxies that reach etcd'))!;
  const job = await leader.admin('POST', '/reshard/move-slots', { first: slot, last: slot, shard: topo.shards[1].name, noCopy: true });
  t.is(job.status, 202, job.text);
  await eventually(async () => {
    const j = (await leader.admin('GET', `/jobs/${job.body.id}`)).body;
    if (j.state === 'failed') throw new Error(`job failed: ${j.error}`);
    return j.state === 'done';
  }, 30_000, 'the move, without the cut-off proxy');
  t.deepEqual((await fleet.proxiesSeenBy(leader)).map((p) => p.id).sort(), others.map((p) => p.config.proxyId as string).sort(), 'its lease expired');
  t.is(await viaOther.set(moving, 'new'), 'OK');
  await oldOwner.set(moving, 'stale'); // what a stale route would read

  const refused = await viaCut.get(moving).then((v) => `value ${v}`, (e: Error) => e.message);
  t.regex(refused, /^TRYAGAIN .*cut off from etcd and this slot's owner changed/);
  await t.throwsAsync(viaCut.set(moving, 'x'), { message: /^TRYAGAIN / });
  t.is(await viaCut.get(staying), 'stay', 'an unchanged slot is still served');
  t.is(await viaCut.set(staying, 'stay2'), 'OK', 'writes too, in cache mode');
  t.is(await viaOther.get(staying), 'stay2');
  t.is((await fleetView(cut)).cutOff, 'alone');

  // back in reach: it re-registers, catches up, and serves the new owner, never the stale copy
  await relay.restore();
  const seen: string[] = [];
  await eventually(async () => {
    const got = await viaCut.get(moving).then((v) => String(v), (e: Error) => e.message);
    seen.push(got);
    return got === 'new';
  }, 20_000, 'serving the moved slot again');
  t.false(seen.includes('stale'), `never the old owner's copy: ${[...new Set(seen)].join(' | ')}`);
  t.is(await oldOwner.get(moving), 'stale', 'nothing was written to the old owner');
  const epochs = await eventually(async () => {
    const es = await Promise.all(fleet.proxies.map(async (p) => (await p.admin('GET', '/topology')).body.epoch as number));
    return es.every((e) => e === es[0]) ? es : undefined;
  }, 10_000, 'one epoch everywhere');
  t.truthy(epochs);
  t.is((await fleetView(cut)).cutOff, 'no');
});

test('store mode, cut off alone: past its lease it refuses every write and serves reads; writes again once back', async (t) => {
  const { relay, cut, others } = await fleetWithRelay(t, { mode: 'store' });
  const viaCut = client(cut, t);
  const viaOther = client(others[0], t);
  t.is(await viaOther.set('sk', 'v1'), 'OK');

  await relay.cut();
  await eventually(async () => (await fleetView(cut)).cutOff === 'alone', 10_000, 'the cut-off proxy finding it is alone');
  // within its lease it may still write (the barrier waits for it); past it, no write at all
  const err = await eventually(() => viaCut.set('sk2', 'x').then(() => undefined, (e: Error) => e.message), 10_000, 'writes refused past the lease');
  t.regex(err!, /^TRYAGAIN .*no writes in store mode/);
  t.is(await viaCut.get('sk'), 'v1', 'reads of unchanged slots are served');
  await t.throwsAsync(viaCut.eval("return redis.call('set', KEYS[1], 'y')", 1, 'sk'), { message: /^TRYAGAIN / });
  const tx = await viaCut.multi().set('sk', 'z').exec().then((r) => JSON.stringify(r), (e: Error) => e.message);
  t.regex(tx, /EXECABORT|TRYAGAIN/);
  t.is(await viaOther.get('sk'), 'v1', 'nothing written through the cut-off proxy');
  t.is(await viaOther.set('sk', 'v2'), 'OK', 'the others write on');

  await relay.restore();
  await eventually(async () => (await viaCut.set('sk3', 'back').catch(() => null)) === 'OK', 20_000, 'writes accepted once back in the fleet');
  t.is(await viaCut.get('sk'), 'v2');
});

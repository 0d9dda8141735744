/**
 * A fleet of three `kvstore start` processes over the same redis-servers, coordinated through a
 * real etcd started by the test: membership (GET /proxies, `ctl proxies`), one leader, admin
 * calls handed to the leader from any proxy, and topology changes that every proxy routes by
 * before the call returns (the fleet barrier).
 */
import test from 'ava';
import Redis from 'ioredis';
import { startFleet } from '../helpers/fleet';
import { eventually, KvstoreProcess, ctl } from '../helpers/kvstore';
import { specKeySlot } from '../helpers/specSlot';


function client(port: number): Redis {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: true });
  c.on('error', () => undefined);
  return c;
}

async function workerEpochs(kv: KvstoreProcess): Promise<number[]> {
  return (await kv.admin('GET', '/workers')).body.workers.map((w: { epoch: number }) => w.epoch);
}

test('three proxies: membership, one leader, a change through a follower served by all three (epochs equal) when the call returns', async (t) => {
  const fleet = await startFleet(t, { proxies: 3, shards: 2 });
  const [p1, p2, p3] = fleet.proxies;

  // every proxy sees all three, exactly one leader, the same epoch
  const seen = await eventually(async () => {
    const lists = await Promise.all(fleet.proxies.map((p) => fleet.proxiesSeenBy(p)));
    return lists.every((l) => l.length === 3 && l.filter((e) => e.leader).length === 1) ? lists : undefined;
  }, 20_000, 'three members and one leader seen by every proxy');
  if (!seen) return t.fail();
  t.deepEqual(seen[0].map((e) => e.id), ['p1', 'p2', 'p3']);
  for (const e of seen[0]) {
    const kv = fleet.proxies[Number(e.id.slice(1)) - 1];
    t.is(e.address, `127.0.0.1:${kv.port}`);
    t.is(e.admin, `127.0.0.1:${kv.adminPort}`);
    t.true(e.leaseAgeMs === null || (e.leaseAgeMs >= 0 && e.leaseAgeMs <= 3000));
  }
  const json = await ctl(p2, 'proxies', '--json');
  t.is(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout).proxies as Array<Record<string, unknown>>;
  t.deepEqual(Object.keys(parsed[0]).sort(), ['address', 'admin', 'epoch', 'id', 'leader', 'leaseAgeMs']);
  const text = await ctl(p3, 'proxies');
  t.is(text.status, 0);
  t.regex(text.stdout, /^ID\s+ADDRESS\s+ADMIN\s+EPOCH\s+LEADER/m);

  const leader = await fleet.leader();
  const followers = fleet.proxies.filter((p) => p !== leader);

  // a topology change through a follower: forwarded to the leader, CAS in etcd, barrier
  const before = (await p1.admin('GET', '/topology')).body.epoch as number;
  const started = Date.now();
  const add = await followers[0].admin('POST', '/key-rewrite', { pattern: 'fleet:*' });
  const tookMs = Date.now() - started;
  t.is(add.status, 200, add.text);
  const epochs = await Promise.all(fleet.proxies.map(async (p) => ({ topology: (await p.admin('GET', '/topology')).body.epoch as number, workers: await workerEpochs(p) })));
  t.log(`key-rewrite add through follower: returned in ${tookMs} ms; epochs ${JSON.stringify(epochs)}`);
  for (const e of epochs) {
    t.is(e.topology, before + 1);
    t.true(e.workers.every((w) => w === before + 1), 'every worker of every proxy routes by the new epoch when the call returns');
  }
  const proxiesNow = await fleet.proxiesSeenBy(p3);
  t.true(proxiesNow.every((p) => p.epoch === before + 1));

  // move a key's slot (no copy) through another follower; then write through one proxy, read through the others
  const key = 'fleet-moved-key';
  const slot = specKeySlot(Buffer.from(key));
  const topo = (await p1.admin('GET', '/topology')).body;
  const owner = topo.shards.find((s: { slots: number[][] }) => s.slots.some(([a, b]) => slot >= a && slot <= b)).name as string;
  const target = owner === 's1' ? 's2' : 's1';
  const job = await followers[1].admin('POST', '/reshard/move-slots', { first: slot, last: slot, shard: target, noCopy: true });
  t.is(job.status, 202, job.text);
  await eventually(async () => (await followers[1].admin('GET', `/jobs/${job.body.id}`)).body.state === 'done', 20_000, 'the move job (read through a follower)');
  const c1 = client(p1.port);
  const c2 = client(p2.port);
  const c3 = client(p3.port);
  t.teardown(() => {
    c1.disconnect();
    c2.disconnect();
    c3.disconnect();
  });
  t.is(await c1.set(key, 'v1'), 'OK');
  t.is(await c2.get(key), 'v1');
  t.is(await c3.get(key), 'v1');
  const direct = new Redis({ port: fleet.redis[target === 's1' ? 0 : 1].port, host: '127.0.0.1' });
  t.teardown(() => direct.disconnect());
  t.is(await direct.get(key), 'v1', 'the key lives on the new owner');
});

/**
 * A fleet of three proxies on a 3-member etcd cluster (started by the test): losing one member
 * changes nothing; losing etcd altogether leaves every proxy serving its last topology, while
 * topology changes fail with a clear error from `ctl`, and /health and /metrics say that
 * automatic failover is suspended.
 */
import test from 'ava';
import Redis from 'ioredis';
import { startFleet } from '../helpers/fleet';
import { eventually, ctl } from '../helpers/kvstore';


test('etcd faults: one of three members lost changes nothing; etcd gone: serving continues, ctl errors clearly, failover suspended', async (t) => {
  const fleet = await startFleet(t, { proxies: 3, shards: 2, etcdMembers: 3 });
  const clients = fleet.proxies.map((p) => {
    const c = new Redis({ port: p.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    c.on('error', () => undefined);
    return c;
  });
  t.teardown(() => clients.forEach((c) => c.disconnect()));
  await eventually(async () => (await fleet.proxiesSeenBy(fleet.proxies[2])).length === 3, 20_000, 'three members');

  // one etcd member down: a change through any proxy still works and reaches all
  await fleet.etcd.members[0].kill();
  const add = await ctl(fleet.proxies[1], 'key-rewrite', 'add', 'a:*');
  t.is(add.status, 0, add.stderr + add.stdout);
  const epochs = await Promise.all(fleet.proxies.map(async (p) => (await p.admin('GET', '/topology')).body.epoch));
  t.true(epochs.every((e) => e === epochs[0]), `epochs ${epochs}`);
  for (const p of fleet.proxies) t.is((await p.admin('GET', '/health')).body.fleet.etcd, 'ok');

  // etcd gone altogether
  await Promise.all(fleet.etcd.members.map((m) => m.kill()));
  const before = epochs[0];
  // Known window (issue 17 open): a proxy whose lease deadline passes before its probe has found
  // etcd down for everyone answers -TRYAGAIN until the probe concludes; then it serves on.
  const retrying = <T>(op: () => Promise<T>) => eventually(() => op().catch(() => undefined), 10_000, 'serving without etcd');
  for (let i = 0; i < 3; i++) {
    t.is(await retrying(() => clients[i].set(`k${i}`, `v${i}`)), 'OK');
    t.is(await retrying(() => clients[(i + 1) % 3].get(`k${i}`)), `v${i}`, 'a key written through one proxy is read through another');
  }
  const health = await eventually(async () => {
    const hs = await Promise.all(fleet.proxies.map(async (p) => (await p.admin('GET', '/health')).body));
    return hs.every((h) => h.fleet.etcd === 'unreachable' && h.fleet.failover === 'suspended') ? hs : undefined;
  }, 20_000, 'every proxy reporting etcd unreachable');
  t.true(health!.every((h) => h.epoch === before && h.status === 'ok'));
  const metrics = await fleet.proxies[0].admin('GET', '/metrics');
  t.regex(metrics.text, /^kvstore_fleet_etcd_up 0$/m);
  t.regex(metrics.text, /^kvstore_fleet_failover_suspended 1$/m);
  for (const p of fleet.proxies) {
    const r = await ctl(p, 'key-rewrite', 'add', 'b:*');
    t.not(r.status, 0);
    t.regex(r.stderr, /etcd unreachable .*topology changes are refused until it is back/);
  }
  const out = fleet.proxies[0].output();
  t.regex(out, /etcd unreachable: serving the last topology; topology changes and automatic failover are suspended/);
  // still serving after the leases would have expired
  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; i < 3; i++) t.is(await retrying(() => clients[i].get(`k${(i + 2) % 3}`)), `v${(i + 2) % 3}`);

  // etcd back: coordination resumes, changes work again
  await Promise.all(fleet.etcd.members.map((m) => m.restart()));
  await eventually(async () => {
    const r = await ctl(fleet.proxies[2], 'key-rewrite', 'add', 'c:*');
    return r.status === 0;
  }, 30_000, 'a change accepted once etcd is back');
  const after = await eventually(async () => {
    const es = await Promise.all(fleet.proxies.map(async (p) => (await p.admin('GET', '/topology')).body.epoch));
    return es.every((e) => e === es[0] && e > before) ? es : undefined;
  }, 10_000, 'every proxy on the new epoch');
  t.truthy(after);
});

/**
 * The worker-side barriers of MigrationSupport with a scripted shard access: what is sent where,
 * in which order, and when topology changes take effect.
 */
import test from 'ava';
import type { KvstoreConfig } from '../../src/config/types';
import type { MigrationCommand, MigrationShardAccess } from '../../src/proxy/MigrationHook';
import { MigrationSupport } from '../../src/proxy/MigrationSupport';
import { encodeCommand } from '../../src/resp';
import type { TopologySnapshot } from '../../src/topology/types';

const config = { backend: { username: '', password: '' }, timeouts: { requestMs: 300 } } as unknown as KvstoreConfig;

function topology(epoch: number, migrations: TopologySnapshot['migrations']): TopologySnapshot {
  return {
    epoch, mode: 'store', hash: 'crc16', keyRewrite: [], migrations,
    shards: [
      { name: 'a', master: '127.0.0.1:1', replicas: [], state: 'up', slots: [[0, 16383]] },
      { name: 'b', master: '127.0.0.1:2', replicas: [], state: 'up', slots: [] },
    ],
  };
}

/** A fake seam: replies are released by hand, every send is logged. */
function fakeShards(current: () => TopologySnapshot) {
  const log: string[] = [];
  const waiting: Array<{ what: string; resolve: (b: Buffer) => void }> = [];
  const access: MigrationShardAccess = {
    shardCount: () => current().shards.length,
    shardName: (i) => current().shards[i].name,
    shardAddress: (i) => current().shards[i].master,
    shardOfSlot: (slot) => current().shards.findIndex((s) => s.slots.some(([a, b]) => slot >= a && slot <= b)),
    migrationOf: (slot) => {
      const m = current().migrations.find((x) => slot >= x.first && slot <= x.last);
      return m ? { from: m.from, to: m.to } : null;
    },
    send: (i, command) => {
      const what = `${current().shards[i].name}: ${command.toString().split('\r\n').filter((_, k) => k % 2 === 0 && k > 0).join(' ')}`;
      log.push(what);
      return new Promise((resolve) => waiting.push({ what, resolve }));
    },
    encode: (args) => encodeCommand(args),
  };
  const replyAll = (reply = '+OK\r\n') => {
    for (const w of waiting.splice(0)) w.resolve(Buffer.from(w.what.includes('MIGRATE') ? '+NOKEY\r\n' : reply));
  };
  return { access, log, replyAll };
}

function command(name: string, key: string, slot: number, ...rest: string[]): MigrationCommand {
  const args = [name, key, ...rest].map((a) => Buffer.from(a));
  return { name: name.toLowerCase(), args, keyIndexes: [1], keySlots: [slot], raw: encodeCommand(args) };
}

const tick = () => new Promise((r) => setImmediate(r));

test('pending migrations hold commands; activation releases them in order through MIGRATE', async (t) => {
  let snap = topology(1, []);
  const seam = { migration: null as unknown };
  const support = new MigrationSupport(seam, config);
  const { access, log, replyAll } = fakeShards(() => snap);
  const apply = (s: TopologySnapshot) => support.applyTopology(s, () => (snap = s));
  t.is(apply(topology(2, [{ first: 0, last: 99, from: 'a', to: 'b', pending: true }])), undefined, 'applied at once');
  const r1 = support.handle(command('SET', 'k', 5, 'v1'), access)!;
  const r2 = support.handle(command('GET', 'k', 5), access)!;
  await tick();
  t.deepEqual(log, [], 'nothing sent while pending');
  t.is(support.heldTotal, 2);
  apply(topology(3, [{ first: 0, last: 99, from: 'a', to: 'b' }]));
  await tick();
  t.deepEqual(log, ['a: MIGRATE 127.0.0.1 2  0 150 KEYS k', 'a: MIGRATE 127.0.0.1 2  0 150 KEYS k']);
  replyAll();
  await tick();
  t.deepEqual(log.slice(2), ['b: SET k v1', 'b: GET k'], 'then both run on B, in order');
  replyAll('$2\r\nv1\r\n');
  t.is((await r1).toString(), '$2\r\nv1\r\n');
  t.truthy(await r2);
});

test('a hand-over waits for commands that are moving keys; commands arriving meanwhile follow the new routing, in order', async (t) => {
  let snap = topology(1, [{ first: 0, last: 99, from: 'a', to: 'b' }]);
  const support = new MigrationSupport({ migration: null }, config);
  support.applyTopology(snap, () => undefined);
  const { access, log, replyAll } = fakeShards(() => snap);
  const first = support.handle(command('SET', 'k', 5, 'v1'), access)!;
  await tick();
  t.deepEqual(log, ['a: MIGRATE 127.0.0.1 2  0 150 KEYS k']);
  // The slot is handed over to b while SET is still moving its key.
  const handedOver = topology(2, []);
  handedOver.shards[0].slots = [[100, 16383]];
  handedOver.shards[1].slots = [[0, 99]];
  let applied = false;
  const done = support.applyTopology(handedOver, () => {
    snap = handedOver;
    applied = true;
  });
  t.true(done instanceof Promise, 'not applied yet');
  t.false(applied);
  const second = support.handle(command('GET', 'k', 5), access)!; // held
  replyAll(); // MIGRATE answered → SET goes to b
  await tick();
  t.deepEqual(log.slice(1), ['b: SET k v1']);
  t.false(applied, 'still waiting for the SET reply');
  replyAll();
  await done;
  t.true(applied);
  await tick();
  t.deepEqual(log.slice(2), ['b: GET k'], 'the held GET went straight to b, after the SET');
  replyAll('$2\r\nv1\r\n');
  t.is((await first).toString(), '+OK\r\n');
  t.is((await second).toString(), '$2\r\nv1\r\n');
});

test('a command held too long fails with a retryable error', async (t) => {
  const snap = topology(2, [{ first: 0, last: 99, from: 'a', to: 'b', pending: true }]);
  const support = new MigrationSupport({ migration: null }, config);
  support.applyTopology(snap, () => undefined);
  const { access } = fakeShards(() => snap);
  const reply = await support.handle(command('GET', 'k', 5), access)!;
  t.is(reply.toString(), '-ERR Kvstore: a slot migration is starting, retry\r\n');
});

test('topology changes that do not touch migrations apply at once even while keys move', async (t) => {
  let snap = topology(1, [{ first: 0, last: 99, from: 'a', to: 'b' }]);
  const support = new MigrationSupport({ migration: null }, config);
  support.applyTopology(snap, () => undefined);
  const { access, replyAll } = fakeShards(() => snap);
  const pending = support.handle(command('GET', 'k', 5), access)!;
  const same = { ...topology(2, [{ first: 0, last: 99, from: 'a', to: 'b' }]) };
  t.is(support.applyTopology(same, () => (snap = same)), undefined);
  replyAll();
  await tick();
  replyAll('$-1\r\n');
  t.is((await pending).toString(), '$-1\r\n');
});

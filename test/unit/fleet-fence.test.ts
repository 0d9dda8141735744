/**
 * The pieces of a fleet proxy that decide without etcd: the workers' lease fence (when to
 * refuse, when to serve again, and what), the cut-off rule (etcd down for everyone or for this
 * proxy alone, src/coordination/CutOff.ts) and which admin endpoints belong to the leader.
 */
import test from 'ava';
import { isLeaderPath } from '../../src/coordination/adminRoutes';
import { changedSlots, fenceFor, judge, PeerReport } from '../../src/coordination/CutOff';
import { FENCE_ALL, FENCED_REPLY, FenceSpec, GATE_HOLD, GATE_WRITES, LeaseFence } from '../../src/proxy/LeaseFence';
import { encodeRoutingTable, evenSlotRanges, ownerTable } from '../../src/topology/slots';
import type { TopologySnapshot } from '../../src/topology/types';

/** The fence, with what it asked the router to do: 'all', a partial spec, or null (unfenced). */
function fence() {
  const replies: Array<string | FenceSpec | null> = [];
  const f = new LeaseFence((spec) => replies.push(spec === null ? null : spec.all ? FENCED_REPLY.toString() : spec));
  return { f, replies };
}

function topo(epoch: number, masters: string[], extra: Partial<TopologySnapshot> = {}): TopologySnapshot {
  const ranges = evenSlotRanges(masters.length);
  return {
    epoch, mode: 'cache', hash: 'crc16', migrations: [], keyRewrite: [],
    shards: masters.map((master, i) => ({ name: `s${i + 1}`, master, replicas: [], state: 'up' as const, slots: [ranges[i]] })),
    ...extra,
  };
}

const report = (id: string, etcd: 'ok' | 'unreachable', topology: TopologySnapshot): PeerReport => ({ id, etcd, topology });

test('no deadline (single proxy, or etcd down for everyone): never fenced', (t) => {
  const { f, replies } = fence();
  t.is(f.deadline, 0);
  f.renew(null);
  t.is(f.deadline, 0);
  t.false(f.fenced);
  t.deepEqual(replies, []);
});

test('a deadline in the future serves; once past, the first check fences with -TRYAGAIN until renewed', (t) => {
  const { f, replies } = fence();
  f.renew(Date.now() + 60_000);
  f.check();
  t.false(f.fenced);
  f.deadline = Date.now() - 1; // time passed without a renewal (the primary stalled)
  f.check();
  t.true(f.fenced);
  t.is(f.deadline, 0, 'stays fenced: no more clock reads until renewed');
  t.deepEqual(replies, [FENCED_REPLY.toString()]);
  t.regex(FENCED_REPLY.toString(), /^-TRYAGAIN .*\r\n$/);
  f.renew(Date.now() + 60_000);
  t.false(f.fenced);
  t.deepEqual(replies, [FENCED_REPLY.toString(), null]);
});

test('a deadline already past when it arrives fences at once; null (etcd unreachable) unfences', (t) => {
  const { f, replies } = fence();
  f.renew(1);
  t.true(f.fenced);
  f.renew(1);
  t.deepEqual(replies, [FENCED_REPLY.toString()], 'fenced once, not again');
  f.renew(null);
  t.false(f.fenced);
  t.deepEqual(replies, [FENCED_REPLY.toString(), null]);
});

test('past the deadline the fence refuses what the primary said; a new spec while fenced replaces it', (t) => {
  const { f, replies } = fence();
  const partial: FenceSpec = { all: false, slots: [[10, 20]], writes: true };
  f.renew(Date.now() + 60_000, partial);
  t.false(f.fenced, 'serving until the deadline whatever the spec');
  f.deadline = Date.now() - 1;
  f.check();
  t.true(f.fenced);
  t.deepEqual(replies, [partial]);
  const wider: FenceSpec = { all: false, slots: [[10, 30]], writes: true };
  f.renew(1, wider); // the peers told of one more change
  f.renew(1, wider); // the same again: nothing to do
  t.deepEqual(replies, [partial, wider]);
  f.renew(1); // back to "everything" (no spec: the default)
  t.deepEqual(replies, [partial, wider, FENCED_REPLY.toString()]);
  f.renew(null, FENCE_ALL);
  t.false(f.fenced);
  t.deepEqual(replies.at(-1), null);
});

test('with a hold: past the deadline commands wait for the primary; its word (no deadline) releases them unfenced', async (t) => {
  const replies: Array<string | null> = [];
  const f = new LeaseFence((spec) => replies.push(spec === null ? null : spec.all ? 'all' : 'partial'), 50);
  const resumed: string[] = [];
  const client = (name: string) => ({ holdForFence: () => resumed.push(`${name} held`), resumeAfterPause: () => resumed.push(`${name} resumed`) });
  f.renew(Date.now() - 1 + 60_000);
  f.deadline = Date.now() - 1;
  f.check();
  t.false(f.fenced, 'not refused yet');
  t.is(f.gate, GATE_HOLD);
  t.true(f.stops(client('a'), true));
  t.false(f.stops(client('b'), false), 'CLIENT UNPAUSE is never held');
  f.renew(null); // the primary: etcd is down for everyone
  t.is(f.gate, 0);
  t.false(f.fenced);
  t.deepEqual(resumed, ['a held', 'a resumed']);
  t.deepEqual(replies, [], 'nothing was ever refused');
  await new Promise((r) => setTimeout(r, 80));
  t.deepEqual(replies, [], 'the hold timer was cancelled');
});

test('with a hold: no word in time fences everything, then the held commands go on (to meet the fence)', async (t) => {
  const replies: Array<string | null> = [];
  const f = new LeaseFence((spec) => replies.push(spec === null ? null : spec.all ? 'all' : 'partial'), 30);
  const resumed: string[] = [];
  f.renew(Date.now() + 60_000);
  f.deadline = Date.now() - 1;
  f.check();
  t.true(f.stops({ holdForFence: () => resumed.push('held'), resumeAfterPause: () => resumed.push('resumed') }, true));
  await new Promise((r) => setTimeout(r, 80));
  t.true(f.fenced);
  t.deepEqual(replies, ['all']);
  t.deepEqual(resumed, ['held', 'resumed']);
  t.is(f.gate, 0);
});

test('with a hold: a partial fence (the primary decided: cut off alone) applies at once, writes gated in store mode', (t) => {
  const replies: Array<string | null> = [];
  const f = new LeaseFence((spec) => replies.push(spec === null ? null : spec.all ? 'all' : 'partial'), 1000);
  f.renew(Date.now() + 60_000, { all: false, slots: [[1, 2]], writes: true });
  f.deadline = Date.now() - 1;
  f.check();
  t.true(f.fenced);
  t.is(f.gate, GATE_WRITES);
  t.deepEqual(replies, ['partial']);
  f.renew(Date.now() + 60_000);
  t.is(f.gate, 0);
  t.deepEqual(replies, ['partial', null]);
});

test('cut-off rule: a peer reaching etcd means cut off alone; peers all unreachable (or none) means down for everyone', (t) => {
  const a = topo(5, ['h:1', 'h:2']);
  const b = topo(7, ['h:1', 'h:3']);
  t.deepEqual(judge(2, [report('p2', 'unreachable', a), report('p3', 'ok', b)]), { kind: 'alone', current: b });
  t.deepEqual(judge(2, [report('p2', 'unreachable', a), report('p3', 'unreachable', b)]), { kind: 'everyone', newest: b }, 'the newest topology a peer serves is taken');
  t.deepEqual(judge(2, [report('p2', 'unreachable', a)]), { kind: 'everyone', newest: a }, 'a peer that does not answer is left out');
  t.deepEqual(judge(0, []), { kind: 'everyone', newest: null }, 'the only member');
  t.deepEqual(judge(2, []), { kind: 'unknown' }, 'peers known but none answers: nothing is known');
  t.deepEqual(judge(2, [report('p2', 'ok', a), report('p3', 'ok', b)]), { kind: 'alone', current: b });
});

test('changed slots: another shard, another master, a shard down, a migration; unchanged slots stay served', (t) => {
  const served = topo(3, ['h:1', 'h:2', 'h:3']);
  t.deepEqual(changedSlots(served, structuredClone(served)), []);
  const promoted = structuredClone(served);
  promoted.shards[1].master = 'h:9';
  const [first, last] = served.shards[1].slots[0];
  t.deepEqual(changedSlots(served, promoted), Array.from({ length: last - first + 1 }, (_, i) => first + i), "the promoted shard's slots");
  const moved = structuredClone(served);
  moved.shards[0].slots = [[0, 99], [101, served.shards[0].slots[0][1]]];
  moved.shards[2].slots = [[100, 100], ...moved.shards[2].slots];
  t.deepEqual(changedSlots(served, moved), [100]);
  const migrating = structuredClone(served);
  migrating.migrations = [{ first: 200, last: 202, from: 's1', to: 's3' }];
  t.deepEqual(changedSlots(served, migrating), [200, 201, 202]);
  const down = structuredClone(served);
  down.shards[2].state = 'down';
  const table = ownerTable(down);
  const [downFirst, downLast] = served.shards[2].slots[0];
  table.fill(0, downFirst, downLast + 1); // cache mode: the down shard's slots routed elsewhere
  down.routing = encodeRoutingTable(table);
  t.is(changedSlots(served, down).length, downLast - downFirst + 1);
  const rules = structuredClone(served);
  rules.keyRewrite = [{ pattern: 'a:*', generation: 1 }];
  t.is(changedSlots(served, rules).length, 16384, 'key-rewrite rules change names in every slot');
});

test('fence spec: ranges of changed slots (writes too in store mode) when alone; everything when nothing is known', (t) => {
  const served = topo(3, ['h:1', 'h:2']);
  const current = structuredClone(served);
  current.shards[0].slots = [[0, 99], [103, 8191]];
  current.shards[1].slots = [[100, 102], [8192, 16383]];
  t.deepEqual(fenceFor({ kind: 'alone', current }, served, false), { all: false, slots: [[100, 102]], writes: false });
  t.deepEqual(fenceFor({ kind: 'alone', current }, served, true), { all: false, slots: [[100, 102]], writes: true });
  t.deepEqual(fenceFor({ kind: 'unknown' }, served, false), FENCE_ALL);
});

test('leader-owned admin endpoints (forwarded from a follower) and local ones', (t) => {
  for (const p of ['/failover', '/shards', '/shards/s3', '/reshard/rebalance', '/reshard/move-slots', '/jobs', '/jobs/7', '/key-rewrite', '/key-rewrite/reclaim']) t.true(isLeaderPath(p), p);
  for (const p of ['/', '/health', '/topology', '/stats', '/metrics', '/proxies', '/fleet', '/fleet/etcd', '/workers', '/reload', '/config', '/failovers', '/jobsx']) t.false(isLeaderPath(p), p);
});

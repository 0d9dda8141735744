import test from 'ava';
import fc from 'fast-check';
import {
  addShard, countSlots, dropShard, finishMigrations, planMoveSlots, planRebalance, planRemoveShard,
  reassignSlots, setShardState, startMigrations, assertShardsUp, activateMigrations,
} from '../../src/reshard/planner';
import { evenSlotRanges, ownerTable, routingTable, encodeRoutingTable, NO_SHARD } from '../../src/topology/slots';
import { SLOT_COUNT, TopologySnapshot } from '../../src/topology/types';
import { TopologyError } from '../../src/errors';

function topo(n: number): TopologySnapshot {
  const ranges = evenSlotRanges(n);
  return {
    epoch: 1, mode: 'store', hash: 'crc16', migrations: [], keyRewrite: [],
    shards: ranges.map((r, i) => ({ name: `s${i}`, master: `127.0.0.1:${7000 + i}`, replicas: [], state: 'up', slots: [r] })),
  };
}

function counts(t: TopologySnapshot): number[] {
  return t.shards.map((s) => s.slots.reduce((n, [a, b]) => n + b - a + 1, 0));
}

function assertCovered(t: { is: (a: unknown, b: unknown, m?: string) => void }, snapshot: TopologySnapshot): void {
  const owners = ownerTable(snapshot);
  t.is(owners.indexOf(NO_SHARD), -1, 'every slot has an owner');
  t.is(counts(snapshot).reduce((a, b) => a + b, 0), SLOT_COUNT, 'no slot owned twice');
}

test('addShard appends a shard with no slots and refuses duplicates', (t) => {
  const next = addShard(topo(3), { name: 'd', master: '127.0.0.1:7100', replicas: ['127.0.0.1:7101'] });
  t.is(next.shards.length, 4);
  t.deepEqual(next.shards[3], { name: 'd', master: '127.0.0.1:7100', replicas: ['127.0.0.1:7101'], state: 'up', slots: [] });
  t.throws(() => addShard(next, { name: 'd', master: '127.0.0.1:1' }), { instanceOf: TopologyError });
  t.throws(() => addShard(next, { name: 'e', master: '127.0.0.1:7000' }), { message: /already belongs/ });
  t.throws(() => addShard(next, { name: 'e', master: 'nope' }), { message: /invalid address/ });
});

test('rebalance after adding a 4th shard moves exactly a quarter of the slots, all to the new shard', (t) => {
  const before = addShard(topo(3), { name: 'd', master: '127.0.0.1:7100' });
  const moves = planRebalance(before);
  t.is(countSlots(moves), 4096);
  t.true(moves.every((m) => m.to === 'd'));
  const after = reassignSlots(before, moves);
  t.deepEqual(counts(after), [4096, 4096, 4096, 4096]);
  assertCovered(t, after);
  t.deepEqual(planRebalance(after), [], 'a balanced cluster needs no move');
});

test('rebalance moves the minimum for any uneven layout (property)', (t) => {
  fc.assert(
    fc.property(fc.array(fc.nat(SLOT_COUNT), { minLength: 1, maxLength: 7 }), fc.nat(3), (cuts, empties) => {
      // Random contiguous split of the slots over shards, plus some empty shards.
      const points = [...new Set(cuts.map((c) => Math.min(c, SLOT_COUNT - 1)))].sort((a, b) => a - b).filter((c) => c > 0);
      const bounds = [0, ...points, SLOT_COUNT];
      const snapshot: TopologySnapshot = { ...topo(1), shards: [] };
      for (let i = 0; i + 1 < bounds.length; i++) {
        snapshot.shards.push({ name: `r${i}`, master: `127.0.0.1:${8000 + i}`, replicas: [], state: 'up', slots: [[bounds[i], bounds[i + 1] - 1]] });
      }
      for (let e = 0; e < empties; e++) snapshot.shards.push({ name: `e${e}`, master: `127.0.0.1:${9000 + e}`, replicas: [], state: 'up', slots: [] });
      const before = counts(snapshot);
      const n = before.length;
      const moves = planRebalance(snapshot);
      const after = reassignSlots(snapshot, moves);
      const c = counts(after);
      if (Math.max(...c) - Math.min(...c) > 1) return false;
      // Lower bound on moves: every slot above ceil(16384/n) must leave its shard.
      const ceil = Math.ceil(SLOT_COUNT / n);
      const floor = Math.floor(SLOT_COUNT / n);
      const extra = SLOT_COUNT % n;
      const sorted = [...before].sort((a, b) => b - a);
      const minimum = sorted.reduce((sum, cnt, i) => sum + Math.max(0, cnt - (i < extra ? ceil : floor)), 0);
      return countSlots(moves) === minimum && ownerTable(after).indexOf(NO_SHARD) === -1;
    }),
    { numRuns: 200 },
  );
  t.pass();
});

test('move-slots splits the range by current owner and skips slots the target already has', (t) => {
  const snapshot = topo(3); // s0: 0-5460, s1: 5461-10921, s2: 10922-16383
  const moves = planMoveSlots(snapshot, 5000, 11000, 's2');
  t.deepEqual(moves, [
    { first: 5000, last: 5460, from: 's0', to: 's2' },
    { first: 5461, last: 10921, from: 's1', to: 's2' },
  ]);
  t.throws(() => planMoveSlots(snapshot, 10, 5, 's2'), { message: /invalid slot range/ });
  t.throws(() => planMoveSlots(snapshot, 0, 16384, 's2'), { message: /invalid slot range/ });
  t.throws(() => planMoveSlots(snapshot, 0, 5, 'zz'), { message: /unknown shard/ });
  const migrating = startMigrations(snapshot, moves);
  t.throws(() => planMoveSlots(migrating, 5400, 5400, 's1'), { message: /already being migrated/ });
});

test('remove-shard drains every slot of the shard to the others, evenly', (t) => {
  const snapshot = topo(4);
  const moves = planRemoveShard(snapshot, 's1');
  t.true(moves.every((m) => m.from === 's1' && m.to !== 's1'));
  t.is(countSlots(moves), 4096);
  const drained = reassignSlots(snapshot, moves);
  t.deepEqual(drained.shards[1].slots, []);
  const c = counts(drained).filter((_, i) => i !== 1);
  t.true(Math.max(...c) - Math.min(...c) <= 1, `even: ${c}`);
  const dropped = dropShard(drained, 's1');
  t.deepEqual(dropped.shards.map((s) => s.name), ['s0', 's2', 's3']);
  assertCovered(t, dropped);
  t.throws(() => planRemoveShard(topo(1), 's0'), { message: /only shard/ });
  t.throws(() => dropShard(snapshot, 's1'), { message: /still owns slots/ });
});

test('a draining shard is emptied by rebalance too', (t) => {
  const snapshot = setShardState(topo(3), 's2', 'draining');
  const moves = planRebalance(snapshot);
  const after = reassignSlots(snapshot, moves);
  t.deepEqual(after.shards[2].slots, []);
  t.deepEqual(counts(after).slice(0, 2), [8192, 8192]);
});

test('start/finish migrations keep owners until the end, then hand the slots over', (t) => {
  const snapshot = addShard(topo(2), { name: 'n', master: '127.0.0.1:7200' });
  const moves = planRebalance(snapshot);
  const migrating = startMigrations(snapshot, moves);
  t.deepEqual(migrating.shards.map((s) => s.slots), snapshot.shards.map((s) => s.slots), 'owners unchanged while migrating');
  t.is(migrating.migrations.length, moves.length);
  t.throws(() => startMigrations(migrating, moves), { message: /already being migrated/ });
  t.throws(() => planRebalance(migrating), { message: /in progress/ });
  const done = finishMigrations(migrating, [moves[0]]);
  t.is(done.migrations.length, moves.length - 1);
  const owners = ownerTable(done);
  t.is(owners[moves[0].first], 2);
  const all = finishMigrations(migrating, moves);
  t.deepEqual(all.migrations, []);
  t.deepEqual(counts(all), [5462, 5461, 5461]);
});

test('dropShard re-indexes an explicit routing table', (t) => {
  const snapshot = topo(3);
  const drained = reassignSlots(snapshot, [{ first: 5461, last: 10921, from: 's1', to: 's0' }]);
  const routing = ownerTable(drained);
  routing.fill(0, 10922, 11000); // cache-mode style: some of s2's slots served by s0
  const dropped = dropShard({ ...drained, routing: encodeRoutingTable(routing) }, 's1');
  const table = routingTable(dropped);
  t.is(table[0], 0);
  t.is(table[10950], 0);
  t.is(table[12000], 1, 's2 is index 1 now');
});

test('moves from or to a shard that is down are refused; pending migrations are activated', (t) => {
  const snapshot = setShardState(addShard(topo(2), { name: 'n', master: '127.0.0.1:7300' }), 'n', 'down');
  const moves = planRebalance(snapshot);
  t.throws(() => assertShardsUp(snapshot, moves), { message: /shard "n" is down/ });
  t.notThrows(() => assertShardsUp(setShardState(snapshot, 'n', 'up'), moves));
  const pending = startMigrations(snapshot, moves, true);
  t.true(pending.migrations.every((m) => m.pending === true));
  t.true(activateMigrations(pending).migrations.every((m) => m.pending === undefined));
});

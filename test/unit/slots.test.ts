import test from 'ava';
import { evenSlotRanges, ownerTable, routingTable, encodeRoutingTable, slotsToRanges, NO_SHARD } from '../../src/topology/slots';
import type { TopologySnapshot } from '../../src/topology/types';

test('slots split evenly over shards in order, covering 0..16383 once', (t) => {
  t.deepEqual(evenSlotRanges(3), [[0, 5460], [5461, 10921], [10922, 16383]]);
  t.deepEqual(evenSlotRanges(1), [[0, 16383]]);
});

test('slotsToRanges compacts and de-duplicates', (t) => {
  t.deepEqual(slotsToRanges([9, 3, 4, 5, 5]), [[3, 5], [9, 9]]);
  t.deepEqual(slotsToRanges([]), []);
});

test('routing table round-trips through base64 and defaults to the owners', (t) => {
  const snapshot: TopologySnapshot = {
    epoch: 1, mode: 'cache', hash: 'crc16', migrations: [], keyRewrite: [],
    shards: [
      { name: 'a', master: '127.0.0.1:1', replicas: [], state: 'up', slots: [[0, 99]] },
      { name: 'b', master: '127.0.0.1:2', replicas: [], state: 'up', slots: [[100, 16383]] },
    ],
  };
  const owners = ownerTable(snapshot);
  t.is(owners[99], 0);
  t.is(owners[100], 1);
  const flipped = owners.map((v) => 1 - v);
  const decoded = routingTable({ ...snapshot, routing: encodeRoutingTable(flipped) });
  t.deepEqual([...decoded], [...flipped]);
  t.is(ownerTable({ ...snapshot, shards: [] })[0], NO_SHARD);
});

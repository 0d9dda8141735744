import test from 'ava';
import fc from 'fast-check';
import { cacheRoutingTable, applyCacheRouting } from '../../src/failover/cacheRouting';
import { parseReply, parseInfo, encodeCommand } from '../../src/resp';
import { evenSlotRanges, ownerTable, routingTable } from '../../src/topology/slots';
import type { ShardState, TopologySnapshot } from '../../src/topology/types';

function snapshot(states: ShardState[]): TopologySnapshot {
  const ranges = evenSlotRanges(states.length);
  return {
    epoch: 1, mode: 'cache', hash: 'crc16', migrations: [], keyRewrite: [],
    shards: states.map((state, i) => ({ name: `s${i + 1}`, master: `127.0.0.1:${7000 + i}`, replicas: [], state, slots: [ranges[i]] })),
  };
}

test('no down shard: no routing table (route by owners)', (t) => {
  t.is(cacheRoutingTable(snapshot(['up', 'up', 'up'])), undefined);
  t.false('routing' in applyCacheRouting({ ...snapshot(['up', 'up']), routing: 'stale' }));
});

test('a down shard\'s slots are spread evenly over the healthy shards; the others keep theirs', (t) => {
  const snap = snapshot(['up', 'down', 'up', 'up']);
  const owners = ownerTable(snap);
  const table = cacheRoutingTable(snap)!;
  const moved = [0, 0, 0, 0];
  for (let slot = 0; slot < table.length; slot++) {
    if (owners[slot] === 1) moved[table[slot]]++;
    else t.is(table[slot], owners[slot]);
  }
  t.is(moved[1], 0);
  const displaced = moved[0] + moved[2] + moved[3];
  t.is(displaced, 4096);
  for (const i of [0, 2, 3]) t.true(Math.abs(moved[i] - displaced / 3) <= 1);
});

test('the table depends only on owners and states (same input, same table) and round-trips', (t) => {
  fc.assert(fc.property(fc.array(fc.constantFrom<ShardState>('up', 'down'), { minLength: 1, maxLength: 8 }), (states) => {
    const a = applyCacheRouting(snapshot(states));
    const b = applyCacheRouting(structuredClone(snapshot(states)));
    if (a.routing !== b.routing) return false;
    const table = routingTable(a);
    const healthy = states.flatMap((s, i) => (s === 'up' ? [i] : []));
    // Every slot is served by a healthy shard whenever there is one.
    return healthy.length === 0 || table.every((i) => states[i] === 'up');
  }));
  t.pass();
});

test('all shards down: the owners keep their slots (the proxy answers CLUSTERDOWN)', (t) => {
  t.is(cacheRoutingTable(snapshot(['down', 'down'])), undefined);
});

test('RESP replies parse whole and report incomplete input', (t) => {
  const wire = Buffer.from('*3\r\n$3\r\nfoo\r\n:42\r\n*2\r\n+OK\r\n-ERR bad\r\n$-1\r\n');
  const text = { strings: true }; // as failover reads replies
  const first = parseReply(wire, 0, text)!;
  t.is((first.value as unknown[])[0], 'foo');
  t.is((first.value as unknown[])[1], 42);
  t.is(((first.value as unknown[])[2] as unknown[])[0], 'OK');
  t.is((((first.value as unknown[])[2] as unknown[])[1] as Error).message, 'ERR bad');
  t.is(parseReply(wire, first.next, text)!.value, null);
  for (let cut = 0; cut < first.next; cut++) t.is(parseReply(wire.subarray(0, cut), 0, text), undefined);
  t.is(encodeCommand(['SET', 'k', 1]).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n');
  t.deepEqual(parseInfo('# Replication\r\nrole:slave\r\nslave_repl_offset:99\r\n'), { role: 'slave', slave_repl_offset: '99' });
});

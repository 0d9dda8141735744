/** Reads from replicas: the lag arithmetic (OffsetHistory) and which replicas may serve (ReplicaReads), on fakes. */
import test from 'ava';
import { OffsetHistory } from '../../src/failover/ReplicaLag';
import { ReadableShard, ReplicaReads } from '../../src/proxy/ReplicaReads';
import type { BackendConnection } from '../../src/proxy/BackendConnection';
import type { BackendHealthSummary } from '../../src/supervisor/messages';

test('OffsetHistory: lag is the time since the master was first seen beyond the replica', (t) => {
  const h = new OffsetHistory();
  t.is(h.lagMs(0, 1000), 0, 'no samples: no evidence of lag');
  h.add(1000, 100);
  h.add(2000, 100);
  h.add(3000, 250);
  h.add(4000, 400);
  t.is(h.lagMs(400, 4500), 0, 'caught up with the latest sample');
  t.is(h.lagMs(500, 4500), 0, 'ahead of the latest sample (read after it)');
  t.is(h.lagMs(300, 4500), 500, 'lacks what appeared at 4000');
  t.is(h.lagMs(250, 4500), 500);
  t.is(h.lagMs(100, 4500), 1500, 'lacks what appeared at 3000');
  t.is(h.lagMs(0, 4500), 3500, 'behind every sample: at least since the oldest');
});

test('OffsetHistory keeps only the last samples', (t) => {
  const h = new OffsetHistory(3);
  for (let i = 1; i <= 5; i++) h.add(i * 1000, i * 10);
  t.is(h.lagMs(0, 6000), 3000, 'oldest kept sample is at 3000');
});

function fakeShard(name: string, replicas: string[]): ReadableShard {
  return { name, replicas, readPools: [], noReplicaReply: null };
}

function health(address: string, state: 'up' | 'down', lagMs: number | null): BackendHealthSummary {
  return { address, shard: 's1', role: 'replica', state, lastError: null, lagMs };
}

test('ReplicaReads: up and within the lag limit, else skipped; readFrom decides the fallback', (t) => {
  const created: string[] = [];
  const reads = new ReplicaReads((_shard, address) => {
    created.push(address);
    return [{ address, retire: () => undefined } as unknown as BackendConnection];
  });
  const shard = fakeShard('s1', ['r1', 'r2', 'r3']);
  reads.refresh([shard], 'replica-preferred', 1000);
  t.deepEqual(shard.readPools, [], 'nothing heard from the primary yet: no replica is readable');
  t.is(shard.noReplicaReply, null, 'replica-preferred falls back to the master');

  reads.setHealth([health('r1', 'up', 10), health('r2', 'up', 5000), health('r3', 'down', 0)]);
  reads.refresh([shard], 'replica-preferred', 1000);
  t.deepEqual(shard.readPools.map((p) => p[0].address), ['r1'], 'r2 lags, r3 is down');

  reads.setHealth([health('r1', 'up', null), health('r2', 'up', 900), health('r3', 'up', 0)]);
  reads.refresh([shard], 'replica', 1000);
  t.deepEqual(shard.readPools.map((p) => p[0].address), ['r2', 'r3'], 'no lag figure (link down): skipped');
  t.deepEqual(created, ['r1', 'r2', 'r3'], 'one pool per replica, reused');

  reads.setHealth([health('r1', 'down', 0)]);
  reads.refresh([shard], 'replica', 1000);
  t.regex(String(shard.noReplicaReply), /^-CLUSTERDOWN The cluster is down: shard 's1' has no replica that is up and within maxReplicaLagMs \(readFrom: replica\)\r\n$/);

  reads.refresh([shard], 'master', 1000);
  t.deepEqual(shard.readPools, []);
  t.is(shard.noReplicaReply, null);
});

test('ReplicaReads: a replica leaving the topology has its connections retired', (t) => {
  const retired: string[] = [];
  const reads = new ReplicaReads((_shard, address) => [{ address, retire: () => retired.push(address) } as unknown as BackendConnection]);
  reads.setHealth([health('r1', 'up', 0), health('r2', 'up', 0)]);
  reads.refresh([fakeShard('s1', ['r1', 'r2'])], 'replica', 1000);
  reads.refresh([fakeShard('s1', ['r1'])], 'replica', 1000);
  t.deepEqual(retired, ['r2']);
  t.is(reads.allBackends().length, 1);
});

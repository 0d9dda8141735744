/**
 * The pieces of a fleet proxy that decide without etcd: the workers' lease fence (when to
 * refuse, when to serve again) and which admin endpoints belong to the leader.
 */
import test from 'ava';
import { isLeaderPath } from '../../src/coordination/adminRoutes';
import { FENCED_REPLY, LeaseFence } from '../../src/proxy/LeaseFence';

function fence() {
  const replies: Array<string | null> = [];
  const f = new LeaseFence((reply) => replies.push(reply === null ? null : reply.toString()));
  return { f, replies };
}

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

test('leader-owned admin endpoints (forwarded from a follower) and local ones', (t) => {
  for (const p of ['/failover', '/shards', '/shards/s3', '/reshard/rebalance', '/reshard/move-slots', '/jobs', '/jobs/7', '/key-rewrite', '/key-rewrite/reclaim']) t.true(isLeaderPath(p), p);
  for (const p of ['/', '/health', '/topology', '/stats', '/metrics', '/proxies', '/fleet', '/workers', '/reload', '/config', '/failovers', '/jobsx']) t.false(isLeaderPath(p), p);
});

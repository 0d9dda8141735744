import test from 'ava';
import { HealthChecker } from '../../src/failover/HealthChecker';
import { startRedisGroup } from '../helpers/redis';
import { FAST_HEALTH, waitFor } from './failover-helpers';

test('a killed backend goes down after downAfter failures, with its error; it comes back up after upAfter', async (t) => {
  const [a, b] = await startRedisGroup(2, t.teardown);
  const checker = new HealthChecker({ health: FAST_HEALTH });
  t.teardown(() => checker.stop());
  const events: string[] = [];
  checker.on('change', (address: string, h: { state: string }) => events.push(`${address} ${h.state}`));
  checker.setAddresses([a.address, b.address]);
  await waitFor('first checks', () => checker.report().every((h) => h.lastOkAt !== null));
  t.true(checker.report().every((h) => h.state === 'up' && h.latencyMs !== null));

  const killedAt = Date.now();
  await a.kill();
  const detectMs = await waitFor('a down', () => checker.state(a.address) === 'down');
  t.log(`down detected ${Date.now() - killedAt} ms after kill -9 (interval ${FAST_HEALTH.intervalMs}, downAfter ${FAST_HEALTH.downAfter})`);
  t.true(detectMs >= 0);
  const h = checker.get(a.address)!;
  t.true(h.consecutiveFailures >= FAST_HEALTH.downAfter);
  t.regex(h.lastError!, /ECONNREFUSED|closed/);
  t.is(checker.state(b.address), 'up');
  t.deepEqual(events, [`${a.address} down`]);

  await a.restart();
  await waitFor('a up', () => checker.state(a.address) === 'up');
  t.true(checker.get(a.address)!.consecutiveSuccesses >= FAST_HEALTH.upAfter);
  t.deepEqual(events, [`${a.address} down`, `${a.address} up`]);
});

test('a hung backend (SIGSTOP) is down once its PINGs time out', async (t) => {
  const [a] = await startRedisGroup(1, t.teardown);
  const checker = new HealthChecker({ health: FAST_HEALTH });
  t.teardown(() => checker.stop());
  checker.setAddresses([a.address]);
  await waitFor('first check', () => checker.get(a.address)!.lastOkAt !== null);
  a.process().kill('SIGSTOP');
  t.teardown(() => void a.process().kill('SIGCONT'));
  await waitFor('a down', () => checker.state(a.address) === 'down');
  t.regex(checker.get(a.address)!.lastError!, /timed out/);
  a.process().kill('SIGCONT');
  await waitFor('a up', () => checker.state(a.address) === 'up');
  t.pass();
});

test('addresses no longer in the topology stop being checked', async (t) => {
  const [a, b] = await startRedisGroup(2, t.teardown);
  const checker = new HealthChecker({ health: FAST_HEALTH });
  t.teardown(() => checker.stop());
  checker.setAddresses([a.address, b.address]);
  checker.setAddresses([b.address]);
  t.deepEqual(checker.report().map((h) => h.address), [b.address]);
});

test('backends with a password: checks AUTH first (backend.username/password); a wrong password counts as a failure', async (t) => {
  const [a] = await startRedisGroup(1, t.teardown, { args: ['--requirepass', 's3cret'] });
  const good = new HealthChecker({ health: FAST_HEALTH, backend: { password: 's3cret' } });
  const bad = new HealthChecker({ health: FAST_HEALTH, backend: { password: 'wrong' } });
  t.teardown(() => good.stop());
  t.teardown(() => bad.stop());
  good.setAddresses([a.address]);
  bad.setAddresses([a.address]);
  await waitFor('good check', () => good.get(a.address)!.lastOkAt !== null);
  await waitFor('bad marked down', () => bad.state(a.address) === 'down');
  t.is(good.state(a.address), 'up');
  t.regex(bad.get(a.address)!.lastError!, /WRONGPASS|invalid/);
});

/**
 * What the workers tell the health checks about a silent server (src/proxy/BackendActivity.ts):
 * which commands in flight may run long, and whether they could have started the silence. The
 * data-path cases run on fake streams and a fake clock (test/helpers/fakeIo.ts).
 */
import test from 'ava';
import { crc16 } from '../../src/native/reference/hash';
import { encodeCommand } from '../../src/resp';
import { ConnectionActivity, encodedCommandName, mergeActivity, SILENCE_SLACK_MS, slowKind } from '../../src/proxy/BackendActivity';
import { fakeProxy, turn } from '../helpers/fakeIo';

function cmd(...args: string[]): string {
  return encodeCommand(args).toString('latin1');
}

/** Keys `a` and `x` live on shard 1 of the fake proxy's two shards (see client-data-path.test.ts). */
test('the keys used here live on shard 1', (t) => {
  for (const k of ['a', 'x']) t.true(crc16(Buffer.from(k), 0, 1) % 16384 >= 8192);
});

test('scripts, KEYS, FLUSHALL/FLUSHDB and SORT may run long; ordinary commands do not', (t) => {
  t.deepEqual(['eval', 'evalsha', 'fcall', 'fcall_ro', 'eval_ro'].map(slowKind), ['script', 'script', 'script', 'script', 'script']);
  t.deepEqual(['keys', 'flushall', 'flushdb', 'sort', 'sort_ro'].map(slowKind), ['other', 'other', 'other', 'other', 'other']);
  t.deepEqual(['get', 'set', 'del', 'lrange', 'exec', null, undefined].map(slowKind), [null, null, null, null, null, null, null]);
});

test('the command name is read from an encoded command', (t) => {
  t.is(encodedCommandName(encodeCommand(['KEYS', '*'])), 'keys');
  t.is(encodedCommandName(encodeCommand(['flushall', 'ASYNC'])), 'flushall');
  t.is(encodedCommandName(Buffer.from('PING\r\n')), null);
  t.is(encodedCommandName(Buffer.from('*1\r\n$9999\r\nKEYS\r\n')), null);
});

function conn(address: string, fields: Partial<ConnectionActivity>): ConnectionActivity {
  return { address, inFlight: 0, oldestAt: -1, lastReplyAt: 0, slow: [], ...fields };
}

test('a slow command explains the silence only if sent no later than the slack after the oldest unanswered request', (t) => {
  const now = 10_000;
  const early = mergeActivity([conn('h:1', { inFlight: 3, oldestAt: 8_000, lastReplyAt: 7_990, slow: [{ command: 'eval', kind: 'script', at: 8_000 + SILENCE_SLACK_MS }] })], ['h:1'], now);
  t.deepEqual(early, [{ address: 'h:1', inFlight: 3, oldestMs: 2000, lastReplyMs: 2010, slow: { command: 'eval', kind: 'script', ms: 2000 - SILENCE_SLACK_MS } }]);
  // sent 500 ms into the silence: queued behind a hang, not its cause
  const late = mergeActivity([conn('h:1', { inFlight: 3, oldestAt: 8_000, slow: [{ command: 'eval', kind: 'script', at: 8_500 }] })], ['h:1'], now);
  t.is(late[0].slow, null);
  t.is(late[0].lastReplyMs, -1);
});

test('connections to one server merge: in flight summed, oldest request and latest reply over all, other servers left out', (t) => {
  const merged = mergeActivity(
    [
      conn('h:1', { inFlight: 2, oldestAt: 9_000, lastReplyAt: 9_500 }),
      conn('h:1', { inFlight: 1, oldestAt: 8_000, lastReplyAt: 7_000, slow: [{ command: 'keys', kind: 'other', at: 8_010 }] }),
      conn('h:2', { inFlight: 5, oldestAt: 1 }),
    ],
    ['h:1'],
    10_000,
  );
  t.deepEqual(merged, [{ address: 'h:1', inFlight: 3, oldestMs: 2000, lastReplyMs: 500, slow: { command: 'keys', kind: 'other', ms: 1990 } }]);
});

test('data path: an EVAL and a KEYS in flight are reported with their age; an EVAL sent after the silence began is not', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  const s1 = kv.addresses[1];
  c.deliver(cmd('GET', 'a') + cmd('EVAL', 'return 1', '1', 'a'));
  kv.backend(1).connected();
  kv.backend(1).deliver('$-1\r\n'); // GET answered; the EVAL runs
  kv.clock.advance(1500);
  const [a] = kv.proxy.backendActivity([s1]);
  t.deepEqual(a, { address: s1, inFlight: 1, oldestMs: 1500, lastReplyMs: 1500, slow: { command: 'eval', kind: 'script', ms: 1500 } });
  kv.backend(1).deliver(':1\r\n');
  t.is(c.takeSent(), '$-1\r\n:1\r\n');
  t.is(kv.proxy.backendActivity([s1])[0].slow, null);

  // a hang: the GET is never answered; an EVAL sent 300 ms later cannot be its cause
  c.deliver(cmd('GET', 'x'));
  kv.clock.advance(300);
  c.deliver(cmd('EVAL', 'return 1', '1', 'x'));
  kv.clock.advance(900);
  const [hung] = kv.proxy.backendActivity([s1]);
  t.is(hung.inFlight, 2);
  t.is(hung.oldestMs, 1200);
  t.is(hung.slow, null);
});

test('data path: a KEYS fan-out is reported on every shard; a client that closed still leaves its command known', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('KEYS', '*'));
  kv.backend(0).connected();
  kv.backend(1).connected();
  kv.clock.advance(700);
  const report = kv.proxy.backendActivity(kv.addresses);
  t.deepEqual(report.map((r) => r.slow?.command), ['keys', 'keys']);
  kv.backend(0).deliver('*0\r\n');
  kv.backend(1).deliver('*0\r\n');

  const d = kv.client();
  d.deliver(cmd('EVAL', 'return 1', '1', 'a'));
  kv.clock.advance(10);
  d.connection.destroy();
  kv.clock.advance(500);
  t.is(kv.proxy.backendActivity([kv.addresses[1]])[0].slow?.command, 'eval');
});

test('data path: an EVAL abandoned by a timed-out connection is still reported until the server answers again', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  const s1 = kv.addresses[1];
  c.deliver(cmd('EVAL', 'return 1', '1', 'a'));
  kv.backend(1).connected();
  kv.clock.advance(kv.config.timeouts.requestMs + 500); // the request times out: the connection fails
  await turn();
  t.regex(c.takeSent(), /timed out/);
  const [a] = kv.proxy.backendActivity([s1]);
  t.is(a.slow?.command, 'eval', 'the script still runs on the server');
  t.true(a.slow!.ms > kv.config.timeouts.requestMs);
  // reconnected; the first reply read means the server runs commands again
  c.deliver(cmd('GET', 'a'));
  kv.clock.advance(3000);
  kv.backend(1).connected();
  kv.backend(1).deliver('$-1\r\n');
  t.is(kv.proxy.backendActivity([s1])[0].slow, null);
});

/**
 * What an idle client keeps (issue 12: ≤ 1 KB per idle connection): session state that most
 * clients never change lives in a side object made on the first change (SessionExtras), the
 * stamps of the read being dispatched live in the reader stage (dropped by the idle sweep), and
 * the worker's native-memory trim runs after many clients went quiet (MemoryTrim). Fake streams
 * and clock (test/helpers/fakeIo.ts); the memory figures themselves are benchmarks/client-heap.ts
 * and benchmarks/connections.ts.
 */
import test from 'ava';
import { encodeCommand } from '../../src/resp';
import { JS_COLLECT_AT, JS_COLLECT_MIN_PASSES, MemoryTrim, TRIM_AFTER_CLIENTS, TRIM_FOLLOW_UPS } from '../../src/proxy/io/MemoryTrim';
import { fakeProxy } from '../helpers/fakeIo';

function cmd(...args: string[]): string {
  return encodeCommand(args).toString('latin1');
}

/** The connection's side object of rarely-set state (null: the client changed none of it). */
function extrasOf(conn: unknown): Record<string, unknown> | null {
  return (conn as { extras: Record<string, unknown> | null }).extras;
}

test('a client that only ran commands holds no side state; CLIENT SETNAME, HELLO 3 and READONLY make it, RESET gives the defaults back', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('PING') + cmd('SET', 'b', '1') + cmd('GET', 'b'));
  kv.backend(0).connected();
  kv.backend(0).deliver('+OK\r\n$1\r\n1\r\n');
  t.is(c.takeSent(), '+PONG\r\n+OK\r\n$1\r\n1\r\n');
  t.is(extrasOf(c.connection), null, 'commands alone set nothing rare');
  t.is(c.connection.name, '');
  t.is(c.connection.proto, 2);
  t.false(c.connection.readOnly);
  t.is(c.connection.session, null);
  t.is(c.connection.pubsub, null);
  t.is(c.connection.bucket, null, 'no rate limit configured: no token bucket');

  c.deliver(cmd('CLIENT', 'SETNAME', 'worker-7'));
  t.is(c.takeSent(), '+OK\r\n');
  t.not(extrasOf(c.connection), null);
  c.deliver(cmd('CLIENT', 'GETNAME') + cmd('READONLY'));
  t.is(c.takeSent(), '$8\r\nworker-7\r\n+OK\r\n');
  t.true(c.connection.readOnly);
  c.deliver(cmd('HELLO', '3'));
  t.true(c.takeSent().startsWith('%'), 'HELLO 3 answers with a RESP3 map');
  t.is(c.connection.proto, 3);
  c.deliver(cmd('RESET'));
  t.is(c.takeSent(), '+RESET\r\n');
  t.is(c.connection.name, '');
  t.false(c.connection.readOnly);
  t.is(c.connection.proto, 2);

  // Setting a default on a client without side state does not make one.
  const d = kv.client();
  d.connection.name = '';
  d.connection.proto = 2;
  d.connection.readOnly = false;
  d.connection.session = null;
  t.is(extrasOf(d.connection), null);
});

test('a rate limit gives every client its bucket (in the side state); the limit still refuses', async (t) => {
  const kv = fakeProxy(t, { config: { limits: { clientCommandsPerSec: 2 } } });
  const c = kv.client();
  t.not(c.connection.bucket, null);
  c.deliver(cmd('PING') + cmd('PING') + cmd('PING'));
  const sent = c.takeSent();
  t.true(sent.startsWith('+PONG\r\n+PONG\r\n-'), sent);
});

test('the stamps of the read being dispatched go with the reader stage when the client is idle', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  t.is(c.connection.requestLog, null);
  t.true(Number.isNaN(c.connection.logDelta));
  c.deliver(cmd('GET', 'b'));
  kv.backend(0).connected();
  t.true(c.connection.readAt > 0, 'latency start stamped');
  t.not(c.connection.requestLog, null, 'SLOWLOG on: requests in flight are logged');
  kv.backend(0).deliver('$-1\r\n');
  t.is(c.takeSent(), '$-1\r\n');
  kv.clock.advance(1000);
  kv.clock.advance(1000);
  t.is(c.connection.requestLog, null);
  t.is(c.connection.readAt, 0);
});

test('written shards for WAIT: below 30 as bits, above in the side state; taking them clears both', (t) => {
  const kv = fakeProxy(t);
  const conn = kv.client().connection;
  t.deepEqual(conn.takeWrittenShards(), []);
  for (const s of [29, 0, 5, 5]) conn.noteWrite(s);
  t.is(extrasOf(conn), null, 'low shards need no side state');
  conn.noteWrite(30);
  conn.noteWrite(200);
  t.deepEqual(conn.takeWrittenShards(), [0, 5, 29, 30, 200]);
  t.deepEqual(conn.takeWrittenShards(), []);
  conn.noteWrite(31);
  t.deepEqual(conn.takeWrittenShards(), [31]);
});

test('CLIENT LIST age and idle count whole seconds, as Redis', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('PING'));
  t.is(c.takeSent(), '+PONG\r\n');
  const created = c.connection.createdAt;
  t.is(created % 1000, 0, 'kept in whole seconds');
  t.true(Math.abs(created - kv.clock.now()) < 1000);
  t.is(c.connection.lastActive % 1000, 0);
});

test('memory trim: after enough clients went quiet or closed, one trim, then follow-ups at growing intervals; V8 asked once the burst is over', (t) => {
  const calls: Array<[number, boolean]> = [];
  let passNo = 0;
  const trim = new MemoryTrim((collectJs) => calls.push([passNo, collectJs]));
  const pass = () => {
    passNo++;
    trim.pass();
  };
  trim.note(TRIM_AFTER_CLIENTS - 1);
  pass();
  t.deepEqual(calls, [], 'too few clients: no trim');
  t.false(trim.pending);
  trim.note(1);
  t.true(trim.pending);
  pass(); // pass 2: the burst's trim
  const last = TRIM_FOLLOW_UPS[TRIM_FOLLOW_UPS.length - 1];
  for (let i = 0; i < 2 * last; i++) pass();
  t.deepEqual(
    calls,
    [[2, false], ...TRIM_FOLLOW_UPS.map((f): [number, boolean] => [2 + f, f === JS_COLLECT_AT])],
    'follow-ups at these passes, V8 asked at JS_COLLECT_AT only, then nothing',
  );
  t.false(trim.pending);

  // Steady churn: a burst every pass restarts the follow-ups, so V8 is never asked (it collects on its own).
  calls.length = 0;
  for (let i = 0; i < 3 * last; i++) {
    trim.note(TRIM_AFTER_CLIENTS);
    pass();
  }
  t.true(calls.every(([, collectJs]) => !collectJs));
  t.is(calls.length, 3 * last);

  // Bursts in a row with quiet gaps: V8 asked at most once per JS_COLLECT_MIN_PASSES.
  calls.length = 0;
  for (let burst = 0; burst < 8; burst++) {
    trim.note(TRIM_AFTER_CLIENTS);
    for (let i = 0; i < JS_COLLECT_AT + 1; i++) pass();
  }
  const asked = calls.filter(([, c]) => c).map(([p]) => p);
  t.true(asked.length >= 2, String(asked));
  for (let i = 1; i < asked.length; i++) t.true(asked[i] - asked[i - 1] >= JS_COLLECT_MIN_PASSES);
});

test("CLIENT LIST cmd: the last command's name, kept when the idle sweep drops the stages and when a deep pipeline's ring is given back", async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  const replies = (conn: unknown) => (conn as { stageReplies: unknown }).stageReplies;
  t.is(c.connection.lastCommand, 'NULL', 'nothing sent yet (Redis: NULL)');
  c.deliver(cmd('CLIENT', 'SETNAME', 'x') + cmd('PING'));
  t.is(c.takeSent(), '+OK\r\n+PONG\r\n');
  t.is(c.connection.lastCommand, 'ping');
  c.deliver(cmd('NOSUCH'));
  t.regex(c.takeSent(), /^-ERR unknown command/);
  t.is(c.connection.lastCommand, 'NULL', 'an unknown command, as Redis');
  c.deliver(cmd('CLIENT', 'GETNAME'));
  t.is(c.takeSent(), '$1\r\nx\r\n');
  kv.clock.advance(1000);
  kv.clock.advance(1000);
  t.is(replies(c.connection), null, 'the idle sweep dropped the replies stage');
  t.is(c.connection.lastCommand, 'client|getname', 'kept across the sweep');
  const d = kv.client();
  d.deliver(cmd('PING'));
  d.takeSent();
  kv.clock.advance(1000);
  kv.clock.advance(1000);
  t.is(replies(d.connection), null);
  t.is(extrasOf(d.connection), null, 'no side state for cmd');
  t.is(d.connection.lastCommand, 'ping');
  // A pipeline deeper than the ring keeps (16): the ring is given back once empty.
  const one = fakeProxy(t, { shards: 1 });
  const e = one.client();
  e.deliver(Array.from({ length: 40 }, (_, i) => cmd('GET', `k${i}`)).join('') + cmd('ECHO', 'last'));
  one.backend(0).connected();
  one.backend(0).deliver('$-1\r\n'.repeat(40));
  const sent = e.takeSent();
  t.true(sent.endsWith('$4\r\nlast\r\n'), JSON.stringify(sent));
  t.is((replies(e.connection) as { ring: { mask: number } }).ring.mask, -1, 'the grown ring was given back');
  t.is(e.connection.lastCommand, 'echo');
});

/**
 * The worker's data path on fake streams and a fake clock (test/helpers/fakeIo.ts): the branches
 * that only misbehaving servers, slow peers or time reach. Each case checks the exact bytes the
 * client receives, and what reached the shards.
 *
 * Two shards, slots split evenly: key `b` and `c` live on shard 0, `a` and `x` on shard 1.
 */
import test from 'ava';
import { crc16 } from '../../src/native/reference/hash';
import { encodeCommand } from '../../src/resp';
import { fakeProxy, FakeProxy, turn } from '../helpers/fakeIo';

function cmd(...args: string[]): string {
  return encodeCommand(args).toString('latin1');
}

function shardOf(key: string): number {
  const b = Buffer.from(key);
  return crc16(b, 0, b.length) % 16384 < 8192 ? 0 : 1;
}

/** The error a backend failure gives every request pending on shard `i`. */
function shardError(kv: FakeProxy, i: number, what: string): string {
  return `-ERR Kvstore: shard 's${i}' (${kv.addresses[i]}) ${what}\r\n`;
}

test('the keys used here live where the tests say', (t) => {
  t.deepEqual(['b', 'c', 'a', 'x'].map(shardOf), [0, 0, 1, 1]);
});

test('a single-key command goes out as the client sent it and its reply comes back as the shard sent it', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('SET', 'a', 'v1') + cmd('GET', 'a'));
  const s1 = kv.backend(1);
  t.is(s1.takeSent(), '', 'nothing is written before the connection is up');
  s1.connected();
  t.is(s1.takeSent(), cmd('SET', 'a', 'v1') + cmd('GET', 'a'), 'both commands in one write');
  s1.deliver('+OK\r\n$2\r\nv1\r\n');
  t.is(c.takeSent(), '+OK\r\n$2\r\nv1\r\n');
  t.is(c.flushes, 1, 'both replies in one write');
});

test('replies arriving out of order across two shards reach the client in request order', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('GET', 'a') + cmd('GET', 'b') + cmd('GET', 'x') + cmd('GET', 'c'));
  kv.backend(0).connected();
  kv.backend(1).connected();
  t.is(kv.backend(0).takeSent(), cmd('GET', 'b') + cmd('GET', 'c'));
  t.is(kv.backend(1).takeSent(), cmd('GET', 'a') + cmd('GET', 'x'));
  kv.backend(0).deliver('$2\r\nvb\r\n$2\r\nvc\r\n'); // b and c first: parked behind a
  t.is(c.takeSent(), '');
  kv.backend(1).deliver('$2\r\nva\r\n'); // a: a and b go out, c waits for x
  t.is(c.takeSent(), '$2\r\nva\r\n$2\r\nvb\r\n');
  kv.backend(1).deliver('$-1\r\n');
  t.is(c.takeSent(), '$-1\r\n$2\r\nvc\r\n');
  t.is(c.connection.inFlight, 0);
});

test('a backend reply that is not RESP fails what is pending there, then the shard answers "unavailable" until it reconnects', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('GET', 'a') + cmd('GET', 'b') + cmd('GET', 'x'));
  kv.backend(0).connected();
  kv.backend(1).connected();
  kv.backend(1).deliver('?not resp\r\n');
  t.is(c.takeSent(), shardError(kv, 1, 'sent a reply that is not RESP'), 'a fails; b is still owed');
  kv.backend(0).deliver('$2\r\nvb\r\n');
  t.is(c.takeSent(), '$2\r\nvb\r\n' + shardError(kv, 1, 'sent a reply that is not RESP'));
  t.true(kv.backend(1).destroyed);
  // Backing off: refused at once, in order with the others.
  c.deliver(cmd('GET', 'a'));
  t.is(c.takeSent(), shardError(kv, 1, 'is unavailable (sent a reply that is not RESP)'));
  // After the backoff (50 ms) a new connection is made and used.
  kv.clock.advance(50);
  t.is(kv.backends.streams.get(kv.addresses[1])!.length, 2);
  c.deliver(cmd('GET', 'a'));
  kv.backend(1).connected();
  t.is(kv.backend(1).takeSent(), cmd('GET', 'a'));
  kv.backend(1).deliver('$2\r\nva\r\n');
  t.is(c.takeSent(), '$2\r\nva\r\n');
});

test('an unsolicited reply (nothing pending) resets that backend connection; replies before it are delivered', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('GET', 'a'));
  kv.backend(1).connected();
  kv.backend(1).deliver('$2\r\nva\r\n+EXTRA\r\n');
  t.is(c.takeSent(), '$2\r\nva\r\n');
  t.true(kv.backend(1).destroyed);
  c.deliver(cmd('GET', 'x'));
  t.is(c.takeSent(), shardError(kv, 1, 'is unavailable (sent a reply nobody asked for)'));
});

test('a FIN in the middle of a reply fails the request whose reply was cut, and those after it', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('GET', 'a') + cmd('GET', 'x'));
  kv.backend(1).connected();
  kv.backend(1).deliver('$5\r\nhel');
  t.is(c.takeSent(), '');
  kv.backend(1).peerEnd();
  t.is(c.takeSent(), shardError(kv, 1, 'connection closed').repeat(2));
  t.is(c.connection.inFlight, 0);
});

test('a reply sink that throws: that request gets an error, other requests on the connection their replies', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  const other = kv.client();
  // SCAN reads its shard's reply; an integer where an array belongs makes that code throw.
  c.deliver(cmd('SCAN', '0'));
  other.deliver(cmd('GET', 'b'));
  kv.backend(0).connected();
  t.is(kv.backend(0).takeSent(), cmd('SCAN', '0') + cmd('GET', 'b'));
  kv.backend(0).deliver(':1\r\n$2\r\nvb\r\n');
  t.is(c.takeSent(), "-ERR Kvstore: could not read a shard's reply (see the proxy log)\r\n");
  t.is(other.takeSent(), '$2\r\nvb\r\n');
  t.false(kv.backend(0).destroyed, 'the backend connection is kept');

  // A sink that throws without such a guard (a bug): the connection goes on with the next reply.
  c.connection.forwardTo(0, Buffer.from(cmd('PING')), 0, {
    onReply() {
      throw new Error('bug');
    },
  });
  other.deliver(cmd('GET', 'c'));
  kv.backend(0).deliver('+PONG\r\n$2\r\nvc\r\n');
  t.is(other.takeSent(), '$2\r\nvc\r\n');
  t.false(kv.backend(0).destroyed);
  t.is(kv.proxy.stats().backends.s0.errors, 0);
});

test('the internal-error path: an error reply after the replies owed, then only this client is closed', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  const other = kv.client();
  // A seam that throws on one key stands for a bug in the read path.
  const rewrite = kv.proxy.hooks.keyRewrite!;
  kv.proxy.hooks.keyRewrite = {
    needsRewrite: (buf, start, end) => {
      if (buf.toString('latin1', start, end) === 'boom') throw new Error('bug');
      return rewrite.needsRewrite(buf, start, end);
    },
    rewrite: (command) => rewrite.rewrite(command),
  };
  c.deliver(cmd('GET', 'b') + cmd('PING') + cmd('GET', 'boom') + cmd('GET', 'c'));
  kv.backend(0).connected();
  t.is(kv.backend(0).takeSent(), cmd('GET', 'b'), 'nothing after the failing command is dispatched');
  t.is(c.takeSent(), '');
  kv.backend(0).deliver('$2\r\nvb\r\n');
  t.is(c.takeSent(), '$2\r\nvb\r\n+PONG\r\n-ERR Kvstore internal error; closing the connection\r\n');
  t.true(c.ended);
  t.true(c.connection.isClosed);
  kv.clock.advance(1000);
  t.true(c.destroyed, 'destroyed after the grace period');
  other.deliver(cmd('PING'));
  t.is(other.takeSent(), '+PONG\r\n');
  t.is(kv.proxy.stats().clients, 1);
});

test('congestion: a backend above its high-water mark stops the client; its drain resumes it, commands in order', async (t) => {
  const kv = fakeProxy(t, { config: { limits: { backendHighWater: 64 } } });
  const c = kv.client();
  const big = 'v'.repeat(100);
  c.deliver(cmd('GET', 'c')); // opens shard 0's connection
  kv.backend(0).connected();
  kv.backend(0).takeSent();
  kv.backend(0).congested = true; // the shard stops reading
  c.deliver(cmd('SET', 'b', big) + cmd('GET', 'b') + cmd('PING'));
  t.true(c.paused, 'reading stopped after SET');
  t.is(kv.backend(0).takeSent(), '', 'SET is queued in the stream, not taken');
  kv.backend(0).deliver('$2\r\nvc\r\n'); // a reply does not resume: still congested
  t.is(c.takeSent(), '$2\r\nvc\r\n');
  t.true(c.paused);
  kv.backend(0).drain();
  t.false(c.paused, 'resumed on drain');
  await turn();
  t.is(kv.backend(0).takeSent(), cmd('SET', 'b', big) + cmd('GET', 'b'));
  t.is(c.takeSent(), '', 'PING waits for GET b');
  kv.backend(0).deliver('+OK\r\n$100\r\n' + big + '\r\n');
  t.is(c.takeSent(), `+OK\r\n$100\r\n${big}\r\n+PONG\r\n`);
});

test('congestion: client output above its high-water mark stops reading; input arriving meanwhile runs after the drain', async (t) => {
  const kv = fakeProxy(t, { config: { limits: { clientOutputHighWater: 10 } } });
  const c = kv.client();
  c.congested = true; // the client stops reading its socket
  c.deliver(cmd('ECHO', 'hello world'));
  t.true(c.paused);
  t.is(c.takeSent(), '');
  // Read in the same turn as the pause (or before it took effect): kept, not dispatched.
  c.deliver(cmd('ECHO', 'second') + cmd('PING').slice(0, 5));
  c.deliver(cmd('PING').slice(5));
  t.is(c.connection.inFlight, 0);
  c.drain();
  t.false(c.paused);
  t.is(c.takeSent(), '$11\r\nhello world\r\n$6\r\nsecond\r\n+PONG\r\n');
});

test('deferred input: reading stops mid-chunk at the pipeline limit, the rest of the chunk runs after it', async (t) => {
  const kv = fakeProxy(t, { config: { limits: { maxPipeline: 2 } } });
  const c = kv.client();
  c.deliver(cmd('GET', 'b') + cmd('GET', 'c') + cmd('ECHO', 'e') + cmd('GET', 'b'));
  kv.backend(0).connected();
  t.is(kv.backend(0).takeSent(), cmd('GET', 'b') + cmd('GET', 'c'), 'two in flight, then reading stops');
  t.true(c.paused);
  t.is(c.connection.inFlight, 2);
  kv.backend(0).deliver('$1\r\n1\r\n');
  t.true(c.paused, 'one in flight is not below half of 2');
  t.is(c.takeSent(), '$1\r\n1\r\n');
  kv.backend(0).deliver('$1\r\n2\r\n');
  // Back to 0 in flight: the deferred ECHO and GET run (ECHO answers at once, GET goes out).
  await turn();
  t.false(c.paused);
  t.is(c.takeSent(), '$1\r\n2\r\n$1\r\ne\r\n');
  t.is(kv.backend(0).takeSent(), cmd('GET', 'b'));
  kv.backend(0).deliver('$1\r\n3\r\n');
  t.is(c.takeSent(), '$1\r\n3\r\n');
});

test('pipeline limit: stops at maxPipeline in flight and restarts at half of it', async (t) => {
  const kv = fakeProxy(t, { config: { limits: { maxPipeline: 4 } } });
  const c = kv.client();
  const gets = Array.from({ length: 10 }, () => cmd('GET', 'a')).join('');
  c.deliver(gets);
  kv.backend(1).connected();
  t.is(kv.backend(1).takeSent(), cmd('GET', 'a').repeat(4));
  t.true(c.paused);
  kv.backend(1).deliver('$1\r\n1\r\n');
  t.true(c.paused, '3 in flight');
  t.is(c.connection.inFlight, 3);
  kv.backend(1).deliver('$1\r\n2\r\n');
  // 2 in flight (half of 4): reading restarted, and stopped again at 4.
  t.is(c.connection.inFlight, 4);
  t.true(c.paused);
  await turn();
  t.is(kv.backend(1).takeSent(), cmd('GET', 'a').repeat(2), 'two more, up to the limit again');
  t.is(c.takeSent(), '$1\r\n1\r\n$1\r\n2\r\n');
  kv.backend(1).deliver('$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n');
  await turn();
  t.is(kv.backend(1).takeSent(), cmd('GET', 'a').repeat(4));
  kv.backend(1).deliver('$1\r\n7\r\n$1\r\n8\r\n$1\r\n9\r\n$1\r\n0\r\n');
  t.is(c.takeSent(), '$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n$1\r\n9\r\n$1\r\n0\r\n');
  t.false(c.paused);
  t.is(c.connection.inFlight, 0);
});

test('idle timeout (fake clock): an idle client is closed; one waiting for a reply is not', async (t) => {
  const kv = fakeProxy(t, { config: { timeouts: { clientIdleMs: 1000 } } });
  const idle = kv.client();
  const waiting = kv.client();
  waiting.deliver(cmd('GET', 'a'));
  kv.backend(1).connected();
  kv.clock.advance(999);
  t.false(idle.destroyed);
  kv.clock.advance(300);
  t.true(idle.destroyed, 'closed after 1 s without traffic');
  t.true(idle.connection.isClosed);
  t.is(idle.takeSent(), '', 'closed without a word, as Redis does');
  t.false(waiting.destroyed, 'a reply is owed: kept');
  kv.clock.advance(3000);
  t.false(waiting.destroyed);
  kv.backend(1).deliver('$2\r\nva\r\n');
  t.is(waiting.takeSent(), '$2\r\nva\r\n');
  kv.clock.advance(1300);
  t.true(waiting.destroyed);
  t.is(kv.proxy.stats().clients, 0);
});

test('a backend that does not answer within timeouts.requestMs fails its requests (fake clock)', async (t) => {
  const kv = fakeProxy(t, { config: { timeouts: { requestMs: 500 } } });
  const c = kv.client();
  c.deliver(cmd('GET', 'b'));
  kv.backend(0).connected();
  kv.clock.advance(400);
  t.is(c.takeSent(), '');
  kv.clock.advance(300);
  await turn(); // failed from a timer, not a read: written in the check phase
  t.is(c.takeSent(), shardError(kv, 0, 'timed out after 500 ms'));
});

test('a client that half-closes gets every reply it is owed, then is closed', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('GET', 'b') + cmd('PING'));
  c.peerEnd();
  kv.backend(0).connected();
  t.false(c.ended);
  kv.backend(0).deliver('$2\r\nvb\r\n');
  t.is(c.takeSent(), '$2\r\nvb\r\n+PONG\r\n');
  t.true(c.ended);
  t.true(c.connection.isClosed);
});

test('a client that goes away: late replies for it are dropped, the backend goes on', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  const other = kv.client();
  c.deliver(cmd('GET', 'b'));
  other.deliver(cmd('GET', 'c'));
  kv.backend(0).connected();
  c.peerClose();
  t.true(c.connection.isClosed);
  kv.backend(0).deliver('$2\r\nvb\r\n$2\r\nvc\r\n');
  t.is(c.takeSent(), '');
  t.is(other.takeSent(), '$2\r\nvc\r\n');
  t.false(kv.backend(0).destroyed);
});

test('a fresh client holds no reply ring and no partial buffer; a deep pipeline\'s ring is given back', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  const ring = (c.connection.replies as unknown as { ring: { mask: number } }).ring;
  t.is(ring.mask, -1, 'nothing allocated before the first command');
  c.deliver(cmd('PING'));
  t.is(c.takeSent(), '+PONG\r\n');
  t.is(ring.mask, 7, '8 entries after first use');
  c.deliver(cmd('GET', 'b').repeat(100));
  kv.backend(0).connected();
  t.is(ring.mask, 127);
  kv.backend(0).deliver('$-1\r\n'.repeat(100));
  t.is(c.takeSent(), '$-1\r\n'.repeat(100));
  t.is(ring.mask, -1, 'grown ring dropped once empty');
  c.deliver(cmd('SET', 'b', 'x').slice(0, 9));
  t.is(c.connection.reader.partialBytes, 9);
  c.deliver(cmd('SET', 'b', 'x').slice(9));
  t.is(c.connection.reader.partialBytes, 0);
  t.is((c.connection.reader as unknown as { partial: unknown }).partial, null, 'the tail buffer is given back');
});

test('an idle client gives its stages back on the idle sweep; a busy one keeps them; the next command makes them again', async (t) => {
  const kv = fakeProxy(t);
  const stages = (conn: unknown) => {
    const c = conn as { stageReader: unknown; stageReplies: unknown; stageFlow: unknown };
    return [c.stageReader, c.stageReplies, c.stageFlow].filter((s) => s !== null).length;
  };
  const quiet = kv.client();
  const waiting = kv.client();
  t.is(stages(quiet.connection), 0, 'a fresh client has none');
  quiet.deliver(cmd('PING'));
  t.is(quiet.takeSent(), '+PONG\r\n');
  waiting.deliver(cmd('GET', 'b'));
  kv.backend(0).connected();
  t.is(stages(quiet.connection), 3);
  const keepsRequests = quiet.connection.ctx.observe.keepsRequests;
  t.true(keepsRequests, 'SLOWLOG is on by default');
  t.not(quiet.connection.requestLog, null, 'SLOWLOG on: the request log is kept while in use');
  kv.clock.advance(1000); // first pass: both were read since the last one
  t.is(stages(quiet.connection), 3, 'read during the last second: kept');
  kv.clock.advance(1000);
  t.is(stages(quiet.connection), 0, 'quiet for a whole pass with nothing in flight: dropped');
  t.is(quiet.connection.requestLog, null, 'the SLOWLOG request log goes too');
  t.is(stages(waiting.connection), 3, 'a reply still owed: kept');
  kv.backend(0).deliver('$1\r\nv\r\n');
  t.is(waiting.takeSent(), '$1\r\nv\r\n', 'the reply reaches the client that kept its stages');
  // The next command after the sweep works as the first one did (sequence numbers start anew).
  quiet.deliver(cmd('PING') + cmd('GET', 'c'));
  kv.backend(0).deliver('$-1\r\n');
  t.is(quiet.takeSent(), '+PONG\r\n$-1\r\n');
  t.is(quiet.connection.inFlight, 0);
  // A partial command keeps the reader (and its bytes) however long the client is quiet.
  quiet.deliver(cmd('SET', 'b', 'x').slice(0, 9));
  kv.clock.advance(3000);
  t.is(quiet.connection.reader.partialBytes, 9);
  quiet.deliver(cmd('SET', 'b', 'x').slice(9));
  kv.backend(0).deliver('+OK\r\n');
  t.is(quiet.takeSent(), '+OK\r\n');
});

test('a split whose sub-replies cannot be merged answers that command with an error, not never', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  c.deliver(cmd('MGET', 'a', 'b') + cmd('GET', 'c'));
  kv.backend(0).connected();
  kv.backend(1).connected();
  t.is(kv.backend(1).takeSent(), cmd('MGET', 'a'));
  t.is(kv.backend(0).takeSent(), cmd('MGET', 'b') + cmd('GET', 'c'));
  // An integer where MGET's one-element array belongs: the merge cannot use it.
  kv.backend(1).deliver(':1\r\n');
  kv.backend(0).deliver('*1\r\n$2\r\nvb\r\n$2\r\nvc\r\n');
  t.is(c.takeSent(), '-ERR Proxy error: unexpected reply from a shard to a split command\r\n$2\r\nvc\r\n');
  t.is(c.connection.inFlight, 0);
  t.false(kv.backend(0).destroyed);
  t.false(kv.backend(1).destroyed);
});

test('split commands in flight together keep their own sub-replies; a pooled fragment reused after an error merges the next command right', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  // Two MGETs and a DEL in flight at once (three fragments), then, after they are answered, two
  // more MGETs that reuse them from the pool.
  c.deliver(cmd('MGET', 'a', 'b', 'x', 'c') + cmd('MGET', 'c', 'a') + cmd('DEL', 'b', 'x', 'a'));
  kv.backend(0).connected();
  kv.backend(1).connected();
  t.is(kv.backend(0).takeSent(), cmd('MGET', 'b', 'c') + cmd('MGET', 'c') + cmd('DEL', 'b'));
  t.is(kv.backend(1).takeSent(), cmd('MGET', 'a', 'x') + cmd('MGET', 'a') + cmd('DEL', 'x', 'a'));
  // Shard 1 first, its first reply cut across two reads; shard 0's error fails only the second MGET.
  kv.backend(1).deliver('*2\r\n$3\r\nva1\r');
  kv.backend(1).deliver('\n$-1\r\n*1\r\n$3\r\nva2\r\n:2\r\n');
  t.is(c.takeSent(), '');
  kv.backend(0).deliver('*2\r\n$2\r\nvb\r\n$2\r\nvc\r\n-ERR shard zero says no\r\n:1\r\n');
  t.is(c.takeSent(), '*4\r\n$3\r\nva1\r\n$2\r\nvb\r\n$-1\r\n$2\r\nvc\r\n' + '-ERR shard zero says no\r\n' + ':3\r\n');
  c.deliver(cmd('MGET', 'x', 'b') + cmd('MGET', 'b', 'a', 'c'));
  t.is(kv.backend(0).takeSent(), cmd('MGET', 'b') + cmd('MGET', 'b', 'c'));
  t.is(kv.backend(1).takeSent(), cmd('MGET', 'x') + cmd('MGET', 'a'));
  kv.backend(0).deliver('*1\r\n$4\r\nvb-2\r\n*2\r\n$4\r\nvb-3\r\n$-1\r\n');
  kv.backend(1).deliver('*1\r\n$4\r\nvx-2\r\n*1\r\n$4\r\nva-3\r\n');
  t.is(c.takeSent(), '*2\r\n$4\r\nvx-2\r\n$4\r\nvb-2\r\n' + '*3\r\n$4\r\nvb-3\r\n$4\r\nva-3\r\n$-1\r\n');
  t.is(c.connection.inFlight, 0);
});

test('early replies parked across several parking buffers (a big one, many small ones) reach the client in request order, twice over', async (t) => {
  const kv = fakeProxy(t);
  const c = kv.client();
  for (let round = 0; round < 2; round++) {
    // a (shard 1) and b (shard 0) alternate; shard 0 answers everything first, so its replies
    // are parked behind a's: 200 small ones and one of 20 KB (more than the first buffer holds).
    const reqs: string[] = [];
    const expected: string[] = [];
    const fromShard0: string[] = [];
    const fromShard1: string[] = [];
    for (let i = 0; i < 200; i++) {
      reqs.push(cmd('GET', 'a'), cmd('GET', 'b'));
      const va = `$4\r\na${String(i).padStart(3, '0')}\r\n`;
      const vb = i === 100 ? `$20000\r\n${'z'.repeat(20000)}\r\n` : `$4\r\nb${round}${String(i % 100).padStart(2, '0')}\r\n`;
      expected.push(va, vb);
      fromShard1.push(va);
      fromShard0.push(vb);
    }
    c.deliver(reqs.join(''));
    if (round === 0) {
      kv.backend(0).connected();
      kv.backend(1).connected();
    }
    kv.backend(0).deliver(fromShard0.join(''));
    t.is(c.takeSent(), '', 'nothing goes out before the first request is answered');
    kv.backend(1).deliver(fromShard1.slice(0, 150).join(''));
    kv.backend(1).deliver(fromShard1.slice(150).join(''));
    t.is(c.takeSent(), expected.join(''));
    t.is(c.connection.inFlight, 0);
  }
});

/**
 * DedicatedSession's branches on fakes (a recording client, pool and connections): what is sent
 * where, what is answered, when the client is held, when a connection goes back or is closed.
 * The same behaviour against real redis-servers: test/integration/proxy-dedicated.test.ts.
 */
import test from 'ava';
import { SLOT_CROSS, SLOT_NONE } from '../../src/native/api';
import { systemClock } from '../../src/proxy/Clock';
import { commandRoutes } from '../../src/proxy/CommandRoutes';
import type { ProxyContext } from '../../src/proxy/ProxyContext';
import type { ReplySink } from '../../src/proxy/ReplySink';
import { errorReply } from '../../src/proxy/Resp';
import { blockingTimeoutMs, xreadBlockIndex } from '../../src/proxy/dedicated/blockingArgs';
import { dedicatedCommandNames } from '../../src/proxy/dedicated/commandKinds';
import { DedicatedSession } from '../../src/proxy/dedicated/DedicatedSession';
import { Outcome, SessionClient, SessionCommand } from '../../src/proxy/dedicated/types';
import { encodeCommand } from '../../src/resp';

const { byName } = commandRoutes();

class FakeConn {
  sent: string[] = [];
  sinks: [ReplySink, number][] = [];
  open = true;
  closeReason = '';
  backendId = 77;
  released: boolean | null = null;
  constructor(readonly shard: number, public proto: 2 | 3 = 2) {}
  /** As DedicatedConnection.speak: HELLO queued ahead when the protocol changes. */
  speak(proto: 2 | 3): void {
    if (proto === this.proto) return;
    this.proto = proto;
    this.sendQuiet(encodeCommand(['HELLO', String(proto)]));
  }
  send(command: Buffer, sink: ReplySink, tag: number, start = 0, end = command.length): void {
    this.sent.push(command.toString('latin1', start, end).split('\r\n').filter((_, i) => i > 0 && i % 2 === 0).join(' '));
    this.sinks.push([sink, tag]);
  }
  sendQuiet(command: Buffer): void {
    this.send(command, { onReply: () => undefined }, 0);
  }
  /** The server answers the oldest pending command. */
  answer(reply: string): void {
    const [sink, tag] = this.sinks.shift()!;
    sink.onReply(tag, Buffer.from(reply));
  }
  fail(reason: string): void {
    this.open = false;
    this.closeReason = reason;
    for (const [sink, tag] of this.sinks.splice(0)) sink.onReply(tag, errorReply(`ERR Kvstore: shard 's0' (x) ${reason}`));
  }
  close(reason: string): void {
    this.fail(reason);
  }
}

class FakePool {
  readonly clock = systemClock;
  conns: FakeConn[] = [];
  refuse: Buffer | null = null;
  acquire(shard: { index: number }, holder: { dedicatedHeld: number }, proto: 2 | 3 = 2): FakeConn | Buffer {
    if (this.refuse) return this.refuse;
    const c = new FakeConn(shard.index, proto);
    holder.dedicatedHeld++;
    c.released = null;
    this.conns.push(c);
    (c as unknown as { holder: typeof holder }).holder = holder;
    return c;
  }
  release(conn: FakeConn, clean: boolean): void {
    conn.released = clean;
    (conn as unknown as { holder: { dedicatedHeld: number } }).holder.dedicatedHeld--;
  }
  sessionOf(): undefined {
    return undefined;
  }
}

class FakeClient implements SessionClient {
  readonly id = 5;
  proto: 2 | 3 = 2;
  replies = new Map<number, string>();
  next = 0;
  held = 0;
  forwarded: string[] = [];
  /** What a shard answers to commands sent on the client's shared connection. */
  forwardReply = '+PONG\r\n';
  written: number[] = [];
  reserve(): number {
    return this.next++;
  }
  onReply(seq: number, reply: Buffer): void {
    this.replies.set(seq, reply.toString('latin1'));
  }
  hold(): void {
    this.held++;
  }
  unhold(): void {
    this.held--;
  }
  forwardTo(shard: number, command: Buffer, _tag: number, sink?: ReplySink): void {
    this.forwarded.push(`${shard}: ${command.toString('latin1').replace(/\r\n/g, ' ')}`);
    sink?.onReply(0, Buffer.from(this.forwardReply));
  }
  takeWrittenShards(): number[] {
    return this.written.splice(0);
  }
  endAfterReplies(): void {}
  /** HELLO queued in MULTI: what the session asked (the proxy's HELLO itself is tested with real servers). */
  hellosRun: string[] = [];
  hello(args: Buffer[]): Buffer {
    this.hellosRun.push(args.join(' '));
    return Buffer.from('+HELLO\r\n');
  }
  helloSwitchesTo(args: Buffer[]): 0 | 2 | 3 {
    const v = args[1]?.toString();
    return v === '2' || v === '3' ? Number(v) as 2 | 3 : 0;
  }
  get last(): string {
    return this.replies.get(this.next - 1)!;
  }
}

function setup(crossSlot: 'slot' | 'shard' = 'slot') {
  const slotTable = new Uint16Array(16384);
  slotTable.fill(1, 8192);
  const ctx = {
    config: { crossSlot, timeouts: { requestMs: 30 } },
    router: {
      slotTable,
      migrating: new Uint8Array(16384),
      shards: [{ index: 0, name: 's0', downReply: null }, { index: 1, name: 's1', downReply: null }],
      keylessShard: 0,
    },
  } as unknown as ProxyContext;
  const pool = new FakePool();
  const client = new FakeClient();
  const session = new DedicatedSession(client, ctx, pool as never);
  const run = (args: string[], slot = SLOT_NONE, extra: Partial<SessionCommand> = {}) => {
    const raw = encodeCommand(args);
    const route = byName.get(args[0].toLowerCase() + (args[0].toLowerCase() === 'client' ? `|${args[1].toLowerCase()}` : ''))!;
    return session.dispatch({
      route, chunk: raw, start: 0, end: raw.length, slot, keysShard: -1, migrating: false, needsRewrite: false, sortRefusal: null,
      args: () => args.map((a) => Buffer.from(a)), ...extra,
    });
  };
  return { ctx, pool, client, session, run };
}

test('MULTI: keyless commands wait for the first key, then everything goes to its shard; EXEC holds and gives back', (t) => {
  const { pool, client, session, run } = setup();
  t.is(run(['MULTI']), Outcome.Handled);
  t.is(client.last, '+OK\r\n');
  t.is(run(['PING']), Outcome.Handled);
  t.is(client.last, '+QUEUED\r\n');
  t.is(pool.conns.length, 0, 'no connection before a key');
  t.is(run(['SET', 'k', 'v'], 9000), Outcome.Handled);
  t.is(pool.conns.length, 1);
  const conn = pool.conns[0];
  t.is(conn.shard, 1);
  t.deepEqual(conn.sent, ['MULTI', 'PING', 'SET k v']);
  run(['EXEC']);
  t.deepEqual(conn.sent, ['MULTI', 'PING', 'SET k v', 'EXEC']);
  t.is(client.held, 1, 'held until EXEC is answered');
  conn.answer('+OK\r\n');
  conn.answer('+QUEUED\r\n');
  conn.answer('+QUEUED\r\n');
  conn.answer('*2\r\n+PONG\r\n+OK\r\n');
  t.is(client.last, '*2\r\n+PONG\r\n+OK\r\n');
  t.is(client.held, 0);
  t.is(conn.released, true);
  t.true(session.idle);
});

test('CROSSSLOT at queue time marks the transaction; EXEC answers EXECABORT and the shard gets DISCARD', (t) => {
  const { pool, client, session, run } = setup();
  run(['MULTI']);
  run(['SET', 'a', '1'], 100);
  run(['SET', 'b', '1'], 101);
  t.is(client.last, "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  run(['GET', 'c'], SLOT_CROSS);
  t.is(client.last, "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  run(['EXEC']);
  t.is(client.last, '-EXECABORT Transaction discarded because of previous errors.\r\n');
  const conn = pool.conns[0];
  t.deepEqual(conn.sent, ['MULTI', 'SET a 1', 'DISCARD']);
  conn.answer('+OK\r\n');
  conn.answer('+QUEUED\r\n');
  t.is(conn.released, null, 'not before DISCARD is answered');
  conn.answer('+OK\r\n');
  t.is(conn.released, true);
  t.true(session.idle);
});

test('crossSlot: shard accepts other slots of the same shard, not another shard', (t) => {
  const { pool, client, run } = setup('shard');
  run(['MULTI']);
  run(['SET', 'a', '1'], 100);
  run(['SET', 'b', '1'], 200);
  t.deepEqual(pool.conns[0].sent, ['MULTI', 'SET a 1', 'SET b 1'], 'both on shard 0');
  t.false(client.replies.has(client.next - 1), 'the shard answers it, not the proxy');
  run(['SET', 'c', '1'], 9000);
  t.is(client.last, "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
});

test('queue-time errors of the dispatcher, nested MULTI, WATCH inside MULTI, refused classes', (t) => {
  const { client, session, run } = setup();
  run(['MULTI']);
  run(['MULTI']);
  t.is(client.last, '-ERR MULTI calls can not be nested\r\n');
  run(['WATCH', 'k'], 5);
  t.is(client.last, '-ERR WATCH inside MULTI is not allowed\r\n');
  run(['DBSIZE']);
  t.regex(client.last, /^-ERR Kvstore does not support DBSIZE inside a transaction: /);
  run(['SUBSCRIBE', 'x']);
  t.regex(client.last, /^-ERR Kvstore does not support SUBSCRIBE inside a transaction: /);
  session.queueError();
  run(['EXEC']);
  t.is(client.last, '-EXECABORT Transaction discarded because of previous errors.\r\n');
  t.is(run(['EXEC']), Outcome.Handled);
  t.is(client.last, '-ERR EXEC without MULTI\r\n');
  run(['DISCARD']);
  t.is(client.last, '-ERR DISCARD without MULTI\r\n');
  run(['MULTI']);
  run(['EXEC']);
  t.is(client.last, '*0\r\n', 'an empty transaction');
});

test('WATCH leases the slot\'s connection; ordinary commands on that shard follow it, others go as usual', (t) => {
  const { pool, client, session, run } = setup();
  run(['WATCH', 'k'], 10);
  const conn = pool.conns[0];
  t.deepEqual(conn.sent, ['WATCH k']);
  t.is(run(['GET', 'k'], 10), Outcome.Handled);
  t.is(run(['GET', 'x'], 9000), Outcome.Normal);
  t.is(run(['WATCH', 'z'], 9000), Outcome.Handled);
  t.is(client.last, "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  run(['UNWATCH']);
  t.deepEqual(conn.sent, ['WATCH k', 'GET k', 'UNWATCH']);
  conn.answer('+OK\r\n');
  conn.answer('$-1\r\n');
  conn.answer('+OK\r\n');
  t.is(conn.released, true);
  t.true(session.idle);
});

test('RESET and the client leaving clean up a transaction before giving the connection back', (t) => {
  const { pool, session, run } = setup();
  run(['MULTI']);
  run(['SET', 'k', 'v'], 10);
  t.is(run(['RESET']), Outcome.Normal, 'the proxy answers +RESET itself');
  t.deepEqual(pool.conns[0].sent, ['MULTI', 'SET k v', 'DISCARD']);
  run(['WATCH', 'k'], 10);
  session.clientClosed();
  t.deepEqual(pool.conns[1].sent, ['WATCH k', 'UNWATCH']);
});

test('a blocking command holds the client; the proxy gives up at its timeout + requestMs', async (t) => {
  const { pool, client, session, run } = setup();
  t.is(run(['BLPOP', 'q', '0.02'], 10), Outcome.Handled);
  t.is(client.held, 1);
  t.truthy(session.blocked);
  await new Promise((r) => setTimeout(r, 120)); // 20 ms + 30 ms requestMs
  t.regex(client.last, /^-ERR Kvstore: no reply within the command's timeout \(20 ms\) \+ timeouts.requestMs \(30 ms\)/);
  t.is(client.held, 0);
  t.false(pool.conns[0].open);
  t.true(session.idle);
});

test('a blocking command answered: released clean; client gone while blocked: closed', (t) => {
  const { pool, client, session, run } = setup();
  run(['BLPOP', 'q', '0'], 10);
  pool.conns[0].answer('*2\r\n$1\r\nq\r\n$1\r\nv\r\n');
  t.is(client.last, '*2\r\n$1\r\nq\r\n$1\r\nv\r\n');
  t.is(pool.conns[0].released, true);
  run(['BRPOP', 'q', '0'], 10);
  session.clientClosed();
  t.is(pool.conns[1].released, false);
});

test('the slot of a blocked command moves: unblocked on its server, answered TRYAGAIN', (t) => {
  const { ctx, pool, client, session, run } = setup();
  run(['BLPOP', 'q', '0'], 10);
  ctx.router.slotTable[10] = 1;
  session.topologyChanged();
  t.deepEqual(client.forwarded, ['0: *4 $6 CLIENT $7 UNBLOCK $2 77 $5 ERROR ']);
  pool.conns[0].answer('-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n');
  t.is(client.last, '-TRYAGAIN Kvstore: slot 10 moved to another shard while the client was blocked; retry\r\n');
});

test('the slot of a blocked command moves before the command reached its server: CLIENT UNBLOCK answers :0 and is sent again until it unblocks', async (t) => {
  const { ctx, pool, client, session, run } = setup();
  client.forwardReply = ':0\r\n';
  run(['BLPOP', 'q', '0'], 10);
  ctx.router.slotTable[10] = 1;
  session.topologyChanged();
  t.is(client.forwarded.length, 1);
  await new Promise((r) => setTimeout(r, 130));
  t.true(client.forwarded.length >= 2, 'asked again while :0');
  client.forwardReply = ':1\r\n';
  await new Promise((r) => setTimeout(r, 80));
  const asked = client.forwarded.length;
  await new Promise((r) => setTimeout(r, 120));
  t.is(client.forwarded.length, asked, 'no more once it answered :1');
  t.true(client.forwarded.every((f) => f === '0: *4 $6 CLIENT $7 UNBLOCK $2 77 $5 ERROR '));
  pool.conns[0].answer('-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n');
  t.is(client.last, '-TRYAGAIN Kvstore: slot 10 moved to another shard while the client was blocked; retry\r\n');
  // A pop answered meanwhile ends the retries and is delivered as it is.
  client.forwardReply = ':0\r\n';
  run(['BLPOP', 'q', '0'], 10);
  ctx.router.slotTable[10] = 0;
  session.topologyChanged();
  const before = client.forwarded.length;
  pool.conns[1].answer('*2\r\n$1\r\nq\r\n$1\r\nx\r\n');
  t.is(client.last, '*2\r\n$1\r\nq\r\n$1\r\nx\r\n');
  await new Promise((r) => setTimeout(r, 120));
  t.is(client.forwarded.length, before, 'not asked again: nothing blocked any more');
});

test('XREAD without BLOCK is an ordinary read; migrating slots and pool refusals answer at once', (t) => {
  const { pool, client, run } = setup();
  t.is(run(['XREAD', 'STREAMS', 's', '0'], 10), Outcome.Normal);
  t.is(run(['BLPOP', 'q', '0'], 10, { migrating: true }), Outcome.Handled);
  t.is(client.last, '-TRYAGAIN Kvstore: a key of this command is in a slot being migrated; retry\r\n');
  pool.refuse = errorReply('ERR Kvstore: limit');
  run(['XREAD', 'BLOCK', '10', 'STREAMS', 's', '0'], 10);
  t.is(client.last, '-ERR Kvstore: limit\r\n');
  t.is(run(['BLPOP', 'q', '0'], 10, { needsRewrite: true }), Outcome.Rewrite);
});

test('WAIT: argument errors are Redis\'s', (t) => {
  const { client, run } = setup();
  run(['WAIT', 'x', '0']);
  t.is(client.last, '-ERR value is not an integer or out of range\r\n');
  run(['WAIT', '1', '-1']);
  t.is(client.last, '-ERR timeout is negative\r\n');
  run(['WAIT', '1', '0.5']);
  t.is(client.last, '-ERR timeout is not an integer or out of range\r\n');
});

test('blocking timeouts are found where each command keeps them', (t) => {
  const b = (s: string) => s.split(' ').map((x) => Buffer.from(x));
  t.is(blockingTimeoutMs('blpop', b('BLPOP a b 1.5')), 1500);
  t.is(blockingTimeoutMs('brpoplpush', b('BRPOPLPUSH a b 0')), 0);
  t.is(blockingTimeoutMs('blmove', b('BLMOVE a b LEFT RIGHT 2')), 2000);
  t.is(blockingTimeoutMs('blmpop', b('BLMPOP 0.25 1 a LEFT')), 250);
  t.is(blockingTimeoutMs('bzmpop', b('BZMPOP 3 1 z MIN')), 3000);
  t.is(blockingTimeoutMs('xread', b('XREAD COUNT 1 BLOCK 700 STREAMS s 0')), 700);
  t.is(blockingTimeoutMs('xreadgroup', b('XREADGROUP GROUP g c BLOCK 0 STREAMS s >')), 0);
  t.is(blockingTimeoutMs('blpop', b('BLPOP a x')), null);
  t.is(blockingTimeoutMs('blpop', b('BLPOP a -1')), null);
  t.is(xreadBlockIndex(b('XREAD STREAMS block 0')), -1, 'a stream named "block" is not the option');
});

test('the dedicated commands come from the table: every blocking command, the transaction ones, WAIT, CLIENT KILL/UNBLOCK', (t) => {
  t.deepEqual(dedicatedCommandNames().sort(), [
    'blmove', 'blmpop', 'blpop', 'brpop', 'brpoplpush', 'bzmpop', 'bzpopmax', 'bzpopmin', 'client|kill', 'client|unblock',
    'discard', 'exec', 'multi', 'unwatch', 'wait', 'watch', 'xread', 'xreadgroup',
  ]);
});

test('RESP3 client: its dedicated connections are leased in RESP3 (transaction, blocking command)', (t) => {
  const { pool, client, run } = setup();
  client.proto = 3;
  run(['MULTI']);
  run(['HGETALL', 'h'], 100);
  t.is(pool.conns[0].proto, 3);
  t.deepEqual(pool.conns[0].sent, ['MULTI', 'HGETALL h'], 'no HELLO: it was leased speaking RESP3');
  run(['EXEC']);
  run(['BLPOP', 'l', '0.01'], 100);
  t.is(pool.conns[1].proto, 3);
  t.deepEqual(pool.conns[1].sent, ['BLPOP l 0.01']);
});

test('a client that switches protocol while holding a WATCH connection: HELLO goes ahead of its next command, the connection comes back in the new protocol', (t) => {
  const { pool, client, session, run } = setup();
  run(['WATCH', 'k'], 100);
  const conn = pool.conns[0];
  t.is(conn.proto, 2);
  client.proto = 3; // HELLO 3, answered by the proxy
  run(['GET', 'k'], 100);
  t.deepEqual(conn.sent, ['WATCH k', 'HELLO 3', 'GET k']);
  run(['MULTI']);
  run(['INCR', 'k'], 100);
  t.deepEqual(conn.sent, ['WATCH k', 'HELLO 3', 'GET k', 'MULTI', 'INCR k'], 'no second HELLO: it already speaks RESP3');
  run(['EXEC']);
  for (const reply of ['+OK\r\n', '%7\r\n', '$1\r\n1\r\n', '+OK\r\n', '+QUEUED\r\n']) conn.answer(reply);
  conn.answer('*1\r\n:2\r\n');
  t.is(conn.released, true);
  t.is(conn.proto, 3, 'the pool files it as RESP3 (DedicatedPool.release reads conn.proto)');
  t.true(session.idle);
  // And back: HELLO 2 between WATCH and UNWATCH.
  run(['WATCH', 'k'], 100);
  const again = pool.conns[1];
  t.is(again.proto, 3, 'leased in the client\'s protocol');
  client.proto = 2;
  run(['UNWATCH']);
  t.deepEqual(again.sent, ['WATCH k', 'HELLO 2', 'UNWATCH']);
  t.is(again.proto, 2);
});

test('HELLO in MULTI: the shard queues its stand-in in its place; EXEC puts the proxy HELLO reply there and files the connection under the new protocol; multiQueued counts what is queued', (t) => {
  const { pool, client, session, run } = setup();
  t.is(session.multiQueued, -1);
  run(['MULTI']);
  t.is(session.multiQueued, 0);
  run(['HELLO', '3', 'SETNAME', 'n']);
  t.is(client.last, '+QUEUED\r\n', 'kept until a key chooses the shard');
  run(['SET', 'a', '1'], 100);
  run(['SET', 'b', '1'], 9000);
  t.is(client.last, "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  t.is(session.multiQueued, 2, 'the refused command is not queued');
  run(['HELLO']);
  t.is(session.multiQueued, 3);
  const conn = pool.conns[0];
  t.deepEqual(conn.sent, ['MULTI', 'HELLO 3', 'SET a 1', 'PING'], 'AUTH/SETNAME stay at the proxy; HELLO without a version: PING');
  run(['DISCARD']);
  t.is(session.multiQueued, -1);
  for (let i = 0; i < 5; i++) conn.answer('+OK\r\n');
  t.deepEqual(client.hellosRun, [], 'DISCARD runs no HELLO');

  run(['MULTI']);
  run(['GET', 'a'], 100);
  run(['HELLO', '3']);
  run(['GET', 'a'], 100);
  run(['EXEC']);
  const tx = pool.conns[1];
  t.deepEqual(tx.sent, ['MULTI', 'GET a', 'HELLO 3', 'GET a', 'EXEC']);
  for (let i = 0; i < 4; i++) tx.answer(i === 0 ? '+OK\r\n' : '+QUEUED\r\n');
  tx.answer('*3\r\n$1\r\n1\r\n%1\r\n+id\r\n:9\r\n$1\r\n1\r\n');
  t.deepEqual(client.hellosRun, ['HELLO 3']);
  t.is(client.last, '*3\r\n$1\r\n1\r\n+HELLO\r\n$1\r\n1\r\n', "the shard's HELLO map replaced by the proxy's");
  t.is(tx.proto, 3, 'filed under RESP3');
  t.is(tx.released, true);

  // A reply the proxy cannot walk: no HELLO applied, an error, and the connection is not reused.
  run(['MULTI']);
  run(['HELLO', '2']);
  run(['GET', 'a'], 100);
  run(['EXEC']);
  const bad = pool.conns[2];
  for (let i = 0; i < 3; i++) bad.answer(i === 0 ? '+OK\r\n' : '+QUEUED\r\n');
  bad.answer('*2\r\n+OK\r\n');
  t.deepEqual(client.hellosRun, ['HELLO 3']);
  t.regex(client.last, /^-ERR Kvstore: could not read EXEC's reply/);
  t.is(bad.released, false);
});

/**
 * DedicatedPool and DedicatedConnection on fake streams: what a dedicated connection sends when it
 * opens (RESP2: AUTH; RESP3: HELLO 3 with AUTH inside), and the rule that a connection goes back
 * to the idle list of the protocol it speaks, so a RESP2 client never gets a RESP3 connection nor
 * the reverse. The same against real redis-servers: test/integration/proxy-dedicated.test.ts.
 */
import test from 'ava';
import pino from 'pino';
import type { DedicatedHolder } from '../../src/proxy/dedicated/DedicatedPool';
import { DedicatedPool } from '../../src/proxy/dedicated/DedicatedPool';
import type { DedicatedConnection } from '../../src/proxy/dedicated/DedicatedConnection';
import type { ShardRoute } from '../../src/proxy/Router';
import { FakeBackends, FakeClock, FakeStream } from '../helpers/fakeIo';
import { testConfig } from '../helpers/proxy';

const ADDRESS = '127.0.0.1:1';
const HELLO3 = '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n';
const HELLO2 = '*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n';
const CLIENT_ID = '*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n';
const HELLO3_REPLY = '%1\r\n$5\r\nproto\r\n:3\r\n';

function setup(t: { teardown(fn: () => void): void }, options: { idlePerShard?: number; password?: string } = {}) {
  const clock = new FakeClock();
  const backends = new FakeBackends(clock);
  const config = testConfig({ dedicated: { idlePerShard: options.idlePerShard ?? 0 }, backend: { password: options.password ?? '' } });
  const pool = new DedicatedPool(config, pino({ level: 'silent' }), false, { connect: backends.connect, clock });
  t.teardown(() => pool.close());
  const shard = { index: 0, name: 's0', address: ADDRESS, downReply: null } as unknown as ShardRoute;
  pool.applyTopology([shard]);
  const holder: DedicatedHolder = { dedicatedHeld: 0, topologyChanged: () => undefined };
  const streams = () => backends.streams.get(ADDRESS) ?? [];
  /** Connect stream `i` and answer what it sent on connect; returns what it sent. */
  const open = (i: number, replies: string): string => {
    const s = streams()[i];
    s.connected();
    const sent = s.takeSent();
    s.deliver(replies);
    return sent;
  };
  const acquire = (proto: 2 | 3) => pool.acquire(shard, holder, proto) as DedicatedConnection;
  return { clock, pool, streams, open, acquire };
}

test('a RESP3 lease opens a connection with HELLO 3; from then on RESP3 connections are kept pre-connected too', (t) => {
  const { clock, streams, open, acquire } = setup(t, { idlePerShard: 1 });
  t.is(streams().length, 1, 'one idle RESP2 connection, none in RESP3 before a RESP3 client');
  t.is(open(0, ':10\r\n'), CLIENT_ID);
  const c3 = acquire(3);
  t.is(c3.proto, 3);
  t.is(streams().length, 2, 'no idle RESP3 connection yet: a new one');
  t.is(open(1, `${HELLO3_REPLY}:11\r\n`), HELLO3 + CLIENT_ID);
  t.is(c3.backendId, 11);
  t.true(c3.open);
  clock.advance(1); // the pool refills
  t.is(streams().length, 3, 'an idle RESP3 connection is now kept as well');
  t.is(open(2, `${HELLO3_REPLY}:12\r\n`), HELLO3 + CLIENT_ID);
});

test('RESP3 with a shard password: AUTH goes inside HELLO 3; a refused HELLO ends the connection', (t) => {
  const { streams, acquire } = setup(t, { password: 'pw' });
  const c3 = acquire(3);
  const s = streams()[0];
  s.connected();
  t.is(s.takeSent(), '*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$2\r\npw\r\n' + CLIENT_ID);
  s.deliver('-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  t.false(c3.open);
  t.regex(c3.closeReason, /^rejected HELLO 3: WRONGPASS/);
  const c2 = acquire(2);
  streams()[1].connected();
  t.is(streams()[1].takeSent(), '*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n' + CLIENT_ID);
  t.is(c2.proto, 2);
});

test('a connection comes back to the idle list of the protocol it speaks: never leased to a client of the other', (t) => {
  const { pool, streams, open, acquire } = setup(t);
  const c2 = acquire(2);
  open(0, ':1\r\n');
  const c3 = acquire(3);
  open(1, `${HELLO3_REPLY}:2\r\n`);
  pool.release(c2, true);
  pool.release(c3, true);
  t.is(pool.idleCount, 2);
  t.is(acquire(3), c3, 'the RESP3 client gets the RESP3 connection');
  t.is(acquire(2), c2, 'the RESP2 client gets the RESP2 connection');
  // The RESP2 connection's client switched to RESP3 (HELLO 3 while holding it): HELLO 3 goes out,
  // and it comes back as a RESP3 connection.
  c2.speak(3);
  t.is(c2.proto, 3);
  const s0: FakeStream = streams()[0];
  c2.flush();
  t.is(s0.takeSent(), HELLO3);
  s0.deliver(HELLO3_REPLY);
  pool.release(c2, true);
  pool.release(c3, true);
  const fresh = acquire(2);
  t.not(fresh, c2, 'a RESP2 client does not get it');
  t.not(fresh, c3);
  t.is(fresh.proto, 2);
  t.is(streams().length, 3, 'a new RESP2 connection was opened instead');
  pool.release(fresh, false);
  const again = [acquire(3), acquire(3)];
  t.true(again.includes(c2) && again.includes(c3), 'both RESP3 connections serve RESP3 clients');
  // And back to RESP2.
  again[0].speak(2);
  again[0].flush();
  t.true(streams().some((s) => s.takeSent() === HELLO2));
});

test('a connection still owing a reply (its HELLO) is closed, not pooled', (t) => {
  const { pool, streams, open, acquire } = setup(t);
  const c2 = acquire(2);
  open(0, ':1\r\n');
  c2.speak(3);
  c2.flush();
  pool.release(c2, true);
  t.false(c2.open, 'the HELLO 3 reply is still owed: closed rather than pooled in a protocol not yet confirmed');
  t.is(pool.idleCount, 0);
  t.is(streams()[0].destroyed, true);
});

/**
 * HELLO queued in MULTI (src/proxy/dedicated/helloInMulti.ts): the stand-in the shard queues and
 * EXEC's reply with the proxy's HELLO replies in their places. The whole path against real
 * servers is in test/integration/proxy-dedicated.test.ts.
 */
import test from 'ava';
import { execReplyWithHellos, protoAfter, QueuedHello, standIn } from '../../src/proxy/dedicated/helloInMulti';

const hello = (index: number, switchesTo: 0 | 2 | 3): QueuedHello => ({ index, args: [Buffer.from('HELLO')], switchesTo });

test('the stand-in: HELLO <ver> when the proxy will switch, PING otherwise; the protocol left is the last switch', (t) => {
  t.is(standIn(hello(0, 3)).toString(), '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n');
  t.is(standIn(hello(0, 2)).toString(), '*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n');
  t.is(standIn(hello(0, 0)).toString(), '*1\r\n$4\r\nPING\r\n');
  t.is(protoAfter([hello(0, 3), hello(1, 0)], 2), 3);
  t.is(protoAfter([hello(0, 3), hello(1, 2)], 2), 2);
  t.is(protoAfter([hello(0, 0)], 3), 3);
});

test("EXEC's reply: each stand-in's element replaced in order; anything but an array is left and nothing runs", (t) => {
  const ran: number[] = [];
  const run = (h: QueuedHello) => {
    ran.push(h.index);
    return Buffer.from(`+H${h.index}\r\n`);
  };
  const reply = Buffer.from('*4\r\n+OK\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n+PONG\r\n*2\r\n$1\r\na\r\n_\r\n');
  t.is(execReplyWithHellos(reply, [hello(1, 3), hello(2, 0)], run)!.toString(), '*4\r\n+OK\r\n+H1\r\n+H2\r\n*2\r\n$1\r\na\r\n_\r\n');
  t.deepEqual(ran, [1, 2]);
  ran.length = 0;
  for (const notRun of ['*-1\r\n', '_\r\n', '-EXECABORT Transaction discarded because of previous errors.\r\n']) {
    t.is(execReplyWithHellos(Buffer.from(notRun), [hello(0, 3)], run)!.toString(), notRun);
  }
  t.deepEqual(ran, [], 'a failed WATCH or an abort ran no HELLO');
  // Truncated, or fewer elements than a HELLO's place: unreadable, and no HELLO is applied.
  t.is(execReplyWithHellos(Buffer.from('*2\r\n+OK\r\n$5\r\nab'), [hello(0, 3)], run), null);
  t.is(execReplyWithHellos(Buffer.from('*1\r\n+OK\r\n'), [hello(1, 3)], run), null);
  t.deepEqual(ran, []);
});

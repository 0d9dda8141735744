/**
 * SLOWLOG's request log on the worker's data path (fake streams, test/helpers/fakeIo.ts) for a
 * client whose pipeline never drains: the shard answers all but the last few requests after each
 * read, so the client never has nothing in flight and its log never starts over. The log must
 * drop the bytes of answered requests (ClientConnection hands it the oldest request in flight),
 * stay bounded, and a slow command at the end of many MiB must be logged with its arguments.
 */
import test from 'ava';
import { decodeReply, encodeCommand } from '../../src/resp';
import { fakeProxy, turn } from '../helpers/fakeIo';

const MiB = 1024 * 1024;

test('a never-draining pipeline over 12 MiB: bounded request log, the last slow command logged in full', async (t) => {
  // Every command is slow (threshold 0): each reply looks its request up in the log.
  const kv = fakeProxy(t, { config: { slowlog: { slowerThanUs: 0, maxLen: 16 } } });
  const c = kv.client();
  const value = 'v'.repeat(100);
  const read = (from: number, n: number) => Array.from({ length: n }, (_, k) => encodeCommand(['SET', 'a', `${value}${from + k}`]).toString('latin1')).join('');
  c.deliver(read(0, 50));
  const shard = kv.backend(1); // key `a` lives on shard 1 of 2
  shard.connected();
  let sent = shard.takeSent().length;
  let pending = 50;
  let next = 50;
  let streamed = sent;
  let longest = 0;
  while (streamed < 12 * MiB) {
    // Answer all but the newest 10, then the next read arrives: 10 or more are always in flight.
    shard.deliver('+OK\r\n'.repeat(pending - 10));
    pending = 10;
    c.deliver(read(next, 50));
    next += 50;
    pending += 50;
    sent = shard.takeSent().length;
    streamed += sent;
    t.true(c.connection.inFlight >= 10);
    longest = Math.max(longest, c.connection.requestLog!.length);
  }
  t.true(longest < 256 * 1024, `longest request log ${longest} bytes (MAX_BYTES is 4 MiB)`);
  // The last one is answered last, after many MiB: logged with its arguments, not its name alone.
  shard.deliver('+OK\r\n'.repeat(pending));
  t.is(c.connection.inFlight, 0);
  const admin = kv.client();
  admin.deliver(encodeCommand(['SLOWLOG', 'GET', '1']).toString('latin1'));
  let reply = '';
  for (let i = 0; i < 20 && reply === ''; i++) {
    await turn();
    reply = admin.takeSent();
  }
  const [entry] = decodeReply(Buffer.from(reply, 'latin1'), { strings: true }) as unknown[][];
  t.deepEqual(entry[3], ['SET', 'a', `${value}${next - 1}`]);
});

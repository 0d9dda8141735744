import test from 'ava';
import { ReplyFramer } from '../../src/proxy/ReplyFramer';

const REPLIES = ['+OK\r\n', '$5\r\nhello\r\n', '*2\r\n$1\r\na\r\n:7\r\n', '-ERR no\r\n', '%1\r\n+k\r\n,1.5\r\n', `$70000\r\n${'x'.repeat(70000)}\r\n`];
const STREAM = Buffer.from(REPLIES.join(''), 'latin1');

function frameInPieces(cuts: number[]): string[] {
  const framer = new ReplyFramer();
  const out: string[] = [];
  let from = 0;
  for (const to of [...cuts, STREAM.length]) {
    // each read arrives in its own (reused) buffer, at an offset, as from a socket
    const read = Buffer.alloc(to - from + 8, 0x7a);
    STREAM.copy(read, 4, from, to);
    mustFrame(framer.feed(read, 4, 4 + to - from, (buf, s, e) => (out.push(buf.toString('latin1', s, e)), true)));
    read.fill(0x7a); // reused by the next read: nothing may point into it
    from = to;
  }
  return out;
}

function mustFrame(ok: boolean): void {
  if (!ok) throw new Error('framer refused RESP');
}

test('whole replies in order however the stream is cut (every single cut point, and many small reads)', (t) => {
  t.deepEqual(frameInPieces([]), REPLIES);
  for (let cut = 1; cut < 200; cut++) t.deepEqual(frameInPieces([cut]), REPLIES, `cut at ${cut}`);
  const small = Array.from({ length: Math.floor(STREAM.length / 997) }, (_, i) => (i + 1) * 997);
  t.deepEqual(frameInPieces(small), REPLIES);
});

test('not RESP: feed answers false; a false from onReply stops framing; clear drops a kept tail', (t) => {
  const framer = new ReplyFramer();
  t.false(framer.feed(Buffer.from('hello\r\n'), 0, 7, () => true));
  const seen: string[] = [];
  const two = new ReplyFramer();
  t.true(two.feed(Buffer.from('+A\r\n+B\r\n'), 0, 8, (buf, s, e) => (seen.push(buf.toString('latin1', s, e)), false)));
  t.deepEqual(seen, ['+A\r\n']);
  const kept = new ReplyFramer();
  const got: string[] = [];
  kept.feed(Buffer.from('$5\r\nhel'), 0, 7, () => true);
  kept.clear();
  kept.feed(Buffer.from(':1\r\n'), 0, 4, (buf, s, e) => (got.push(buf.toString('latin1', s, e)), true));
  t.deepEqual(got, [':1\r\n']);
});

import test from 'ava';
import { ReplyFramer } from '../../src/resp/ReplyFramer';

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

/** Feed `stream` in reads of `size` bytes (each its own buffer, at an offset); the replies framed. */
function frameBySize(stream: Buffer, size: number): Buffer[] {
  const framer = new ReplyFramer();
  const out: Buffer[] = [];
  for (let from = 0; from < stream.length; from += size) {
    const to = Math.min(stream.length, from + size);
    const read = Buffer.alloc(to - from + 2);
    stream.copy(read, 1, from, to);
    mustFrame(framer.feed(read, 1, 1 + to - from, (buf, s, e) => (out.push(Buffer.from(buf.subarray(s, e))), true)));
  }
  return out;
}

test('big replies in many small reads: a 20 MB bulk string and an array of 100,000 elements, each framed whole once', (t) => {
  const body = Buffer.alloc(20 * 1024 * 1024, 0x61);
  body.write('\r\n$3\r\n*', 1000, 'latin1'); // RESP-looking bytes inside the bulk are data
  const bulk = Buffer.concat([Buffer.from(`$${body.length}\r\n`), body, Buffer.from('\r\n')]);
  const elements = Array.from({ length: 100_000 }, (_, i) => (i % 3 === 0 ? `:${i}\r\n` : i % 3 === 1 ? `$${String(i).length}\r\n${i}\r\n` : `*2\r\n+e${i}\r\n$-1\r\n`));
  const array = Buffer.from(`*100000\r\n${elements.join('')}`, 'latin1');
  const stream = Buffer.concat([Buffer.from('+before\r\n'), bulk, array, Buffer.from(':1\r\n')]);
  for (const size of [16 * 1024 + 3, 997]) {
    const got = frameBySize(stream, size);
    t.is(got.length, 4, `reads of ${size} bytes`);
    t.is(got[0].toString(), '+before\r\n');
    t.true(got[1].equals(bulk), `the bulk string, reads of ${size} bytes`);
    t.true(got[2].equals(array), `the array, reads of ${size} bytes`);
    t.is(got[3].toString(), ':1\r\n');
  }
});

test('a reply cut inside a nested array resumes there: same replies for every cut of a small nested stream', (t) => {
  const stream = Buffer.from('*3\r\n*2\r\n$1\r\na\r\n%1\r\n+k\r\n:2\r\n$3\r\nxyz\r\n*0\r\n+tail\r\n', 'latin1');
  const whole = frameBySize(stream, stream.length).map((b) => b.toString('latin1'));
  t.deepEqual(whole, ['*3\r\n*2\r\n$1\r\na\r\n%1\r\n+k\r\n:2\r\n$3\r\nxyz\r\n*0\r\n', '+tail\r\n']);
  for (let size = 1; size < stream.length; size++) t.deepEqual(frameBySize(stream, size).map((b) => b.toString('latin1')), whole, `reads of ${size} bytes`);
});

/**
 * The two per-read calls take their numbers (from, end, resume point) through a typed array the
 * addon reads (NativeHotPath.callArgs, bindCallArgs), not as arguments: the checks the argument
 * form made must still hold, and what the caller writes must be what the addon reads.
 */
import test from 'ava';
import { R_COUNT, S_CONSUMED, S_NCMDS } from '../../src/native/api';
import { NativeHotPath } from '../../src/native/NativeHotPath';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import { makeEngine } from './native-setup';

const GET = Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\na\r\n');

test('parseRequests reads from/end as given: a window of a larger buffer frames only the commands inside it', (t) => {
  const { hp, batch } = makeEngine(new NativeHotPath());
  const three = Buffer.concat([GET, GET, GET]);
  t.is(hp.parseRequests(three, GET.length, 2 * GET.length), 1);
  t.is(batch.status[S_NCMDS], 1);
  t.is(batch.status[S_CONSUMED], GET.length);
  t.is(hp.parseRequests(three, 0), 3, 'end defaults to the whole chunk');
  t.is(hp.parseRequests(three, 0, GET.length - 1), 0, 'a window ending inside a command frames nothing');
});

test('parseRequests and frameReplies refuse from/end outside the chunk and a chunk that is not a Buffer', (t) => {
  const { hp } = makeEngine(new NativeHotPath());
  t.throws(() => hp.parseRequests(GET, 0, GET.length + 1), { instanceOf: RangeError });
  t.throws(() => hp.parseRequests(GET, 5, 4), { instanceOf: RangeError });
  t.throws(() => hp.parseRequests(GET, Number.NaN), { instanceOf: RangeError });
  t.throws(() => hp.parseRequests('*1\r\n$4\r\nPING\r\n' as unknown as Buffer, 0, 4), { instanceOf: TypeError });
  t.throws(() => hp.frameReplies(Buffer.from('+OK\r\n'), 0, 6), { instanceOf: RangeError });
  t.throws(() => hp.frameReplies(new Uint16Array(4) as unknown as Buffer, 0, 0), { instanceOf: TypeError });
});

test('frameReplies returns the count it writes to the status, within the window it is given', (t) => {
  const { hp, replyStatus } = makeEngine(new NativeHotPath());
  const replies = Buffer.from('+OK\r\n$1\r\nx\r\n:7\r\n');
  t.is(hp.frameReplies(replies, 0), 3);
  t.is(replyStatus[R_COUNT], 3);
  t.is(hp.frameReplies(replies, 5, 12), 1);
  t.is(replyStatus[R_COUNT], 1);
});

test('parseRequests with copyTo copies chunk[from, end) to copyTo at copyAt in the same call (native and reference alike)', (t) => {
  for (const hp of [new NativeHotPath(), new ReferenceHotPath()]) {
    makeEngine(hp);
    const chunk = Buffer.concat([Buffer.from('xx'), GET, GET]);
    const log = Buffer.alloc(200, 0x2e);
    t.is(hp.parseRequests(chunk, 2, 2 + GET.length, 0, 0, log, 10), 1);
    t.is(log.toString('latin1', 10, 10 + GET.length), GET.toString('latin1'));
    t.is(log[9], 0x2e, 'nothing before copyAt');
    t.is(log[10 + GET.length], 0x2e, 'nothing past the window');
    t.is(hp.parseRequests(chunk, 2), 2, 'without copyTo: parsed, nothing copied');
  }
});

test('copyBytes copies a range between buffers; the native one copies nothing out of range', (t) => {
  for (const hp of [new NativeHotPath(), new ReferenceHotPath()]) {
    makeEngine(hp);
    const src = Buffer.from('0123456789');
    const dst = Buffer.alloc(8, 0x2e);
    hp.copyBytes(dst, 2, src, 3, 7);
    t.is(dst.toString('latin1'), '..3456..');
  }
  const hp = new NativeHotPath();
  makeEngine(hp);
  const dst = Buffer.alloc(4, 0x2e);
  hp.copyBytes(dst, 2, Buffer.from('abcdef'), 0, 4); // 4 bytes do not fit at 2
  hp.copyBytes(dst, 0, Buffer.from('ab'), 0, 3); // past the source's end
  t.is(dst.toString('latin1'), '....');
});

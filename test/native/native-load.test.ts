import test from 'ava';
import { loadHotPath, hotPathKind } from '../../src/native';
import { NativeHotPath, loadAddon } from '../../src/native/NativeHotPath';
import { CMD_STRIDE, C_START, S_CONSUMED, S_NCMDS, S_NEED, STATUS_LEN } from '../../src/native/api';
import { nativeEngine, referenceEngine, resp } from './native-setup';

test('the addon loads and loadHotPath picks it (nativeEnabled)', (t) => {
  const addon = loadAddon();
  t.is(typeof addon.Engine, 'function');
  t.is(typeof new addon.Engine().hotFunctions().parseAt, 'function');
  const hp = loadHotPath();
  t.true(hp.nativeEnabled);
  t.true(hp instanceof NativeHotPath);
  t.is(hotPathKind(), 'native');
});

test('a re-bind replaces the bound arrays: later results land in the new ones only', (t) => {
  const e = nativeEngine({ cmds: 4 });
  const oldCmds = e.batch.cmds;
  const chunk = Buffer.concat([resp('GET', 'a'), resp('GET', 'b')]);
  t.is(e.hp.parseRequests(chunk, 0), 2);
  const before = Array.from(oldCmds);
  const fresh = { cmds: new Int32Array(CMD_STRIDE * 4), args: new Int32Array(64), keys: new Int32Array(64), status: new Int32Array(STATUS_LEN) };
  e.hp.bindBatch(fresh, e.replyEnds, e.replyStatus, e.plan);
  t.is(e.hp.parseRequests(chunk, resp('GET', 'a').length), 1);
  t.is(fresh.status[S_NCMDS], 1);
  t.is(fresh.cmds[C_START], resp('GET', 'a').length);
  t.deepEqual(Array.from(oldCmds), before);
});

test('wrong argument types throw instead of crashing', (t) => {
  const e = nativeEngine();
  t.throws(() => e.hp.parseRequests('PING\r\n' as unknown as Buffer, 0), { instanceOf: TypeError });
  t.throws(() => e.hp.parseRequests(Buffer.from('PING\r\n'), 99), { instanceOf: RangeError });
  t.throws(() => e.hp.bindSlotTable(new Uint16Array(10)), { instanceOf: RangeError });
  t.throws(() => e.hp.bindBatch({ ...e.batch, cmds: new Uint32Array(9) as unknown as Int32Array }, e.replyEnds, e.replyStatus, e.plan), { instanceOf: TypeError });
  t.throws(() => e.hp.split(Buffer.from('PING\r\n'), 5), { instanceOf: RangeError });
});

test('two instances share nothing: each keeps its own bound arrays and config', (t) => {
  const a = nativeEngine({ maxInlineBytes: 8 });
  const b = nativeEngine();
  const line = Buffer.from('PING 0123456789\r\n');
  t.is(b.hp.parseRequests(line, 0), 1);
  t.is(a.hp.parseRequests(line, 0), 0); // too big for a's limit
  t.is(a.batch.status[S_NCMDS], 0);
  t.is(b.batch.status[S_NCMDS], 1); // untouched by a's call
});

test('an end bound: bytes after it are never framed (native and reference agree)', (t) => {
  const wire = Buffer.concat([resp('SET', 'k', 'v'), resp('GET', 'k')]);
  const cutAt = resp('SET', 'k', 'v').length + 5; // inside the GET
  const padded = Buffer.concat([wire.subarray(0, cutAt), Buffer.from('*1\r\n$4\r\nPING\r\n')]); // bytes past the bound
  const replies = Buffer.from('+OK\r\n$1\r\nv\r\n:1\r\n');
  for (const e of [nativeEngine(), referenceEngine()]) {
    t.is(e.hp.parseRequests(padded, 0, cutAt), 1, 'only the SET is complete before the bound');
    t.is(e.batch.status[S_CONSUMED], resp('SET', 'k', 'v').length);
    t.true(e.batch.status[S_NEED] > 0 || e.batch.status[S_NCMDS] === 1);
    t.is(e.hp.frameReplies(replies, 0, 9), 1, '+OK and half of the bulk');
    t.is(e.replyEnds[0], 5);
    t.is(e.hp.frameReplies(replies, 5, replies.length), 2);
  }
  t.throws(() => nativeEngine().hp.parseRequests(wire, 0, wire.length + 1), { instanceOf: RangeError });
});

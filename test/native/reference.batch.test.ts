/**
 * The calling convention around the output arrays: S_FULL, S_GROW_ARGS (only once the whole
 * command is there, so a huge announced argc never makes the caller allocate ahead of the
 * bytes), S_NEED for a large bulk, and the loader facade.
 */
import test from 'ava';
import {
  CMD_STRIDE, C_END, C_START, S_CONSUMED, S_FULL, S_GROW_ARGS, S_NCMDS, S_NEED, R_COUNT, R_CONSUMED, R_NEED,
} from '../../src/native/api';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import { hotPathKind, loadHotPath } from '../../src/native/index';
import { bind, feed, makeBatch, setup } from './wire-cases';

const mb = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;

test('S_FULL: a 100-command pipeline through room for 7 commands', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp);
  const h = makeBatch(7, 1024, 1024);
  bind(hp, h);
  const wire = Buffer.from(Array.from({ length: 100 }, (_, i) => mb('SET', `k${i}`, `v${i}`)).join(''));
  let from = 0;
  let calls = 0;
  let total = 0;
  for (;;) {
    const n = hp.parseRequests(wire, from);
    calls++;
    total += n;
    const c = (n - 1) * CMD_STRIDE;
    if (n > 0) t.is(h.batch.cmds[c + C_END] - from, h.batch.status[S_CONSUMED]);
    from += h.batch.status[S_CONSUMED];
    if (!h.batch.status[S_FULL]) break;
    t.is(n, 7);
  }
  t.is(total, 100);
  t.is(calls, 15);
  t.is(from, wire.length);
});

test('S_FULL when keys fill up before commands do', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp);
  const h = makeBatch(64, 1024, 5);
  bind(hp, h);
  const wire = Buffer.from(mb('MGET', 'a', 'b', 'c') + mb('MGET', 'd', 'e', 'f'));
  t.is(hp.parseRequests(wire, 0), 1);
  t.is(h.batch.status[S_FULL], 1);
  t.is(hp.parseRequests(wire, h.batch.status[S_CONSUMED]), 1);
  t.is(h.batch.status[S_FULL], 0);
});

test('S_GROW_ARGS only once the oversized command is complete', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp);
  const h = makeBatch(8, 16, 16);
  bind(hp, h);
  const keys = Array.from({ length: 5000 }, (_, i) => `key${i}`);
  const wire = Buffer.from(mb('MGET', ...keys));
  // Incomplete: nothing to grow yet, whatever argc the header announced.
  t.is(hp.parseRequests(wire.subarray(0, wire.length - 3), 0), 0);
  t.is(h.batch.status[S_GROW_ARGS], 0);
  t.is(h.batch.status[S_NEED], wire.length, 'inside the last bulk: the exact total');
  t.is(hp.parseRequests(Buffer.from('*2000000000\r\n$3\r\nGET\r\n'), 0), 0);
  t.is(h.batch.status[S_GROW_ARGS], 0, 'an announced argc alone does not ask for memory');
  // Complete: grow to the command's argc, then it parses.
  t.is(hp.parseRequests(wire, 0), 0);
  t.is(h.batch.status[S_GROW_ARGS], 5001);
  const got = feed(hp, h, [wire]);
  t.is(got.commands.length, 1);
  t.is(got.commands[0].keys.length, 5000);
});

test('S_GROW_ARGS is not reported behind complete commands: S_FULL first', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp);
  const h = makeBatch(8, 16, 16);
  bind(hp, h);
  const wire = Buffer.from(mb('PING') + mb('MGET', ...Array.from({ length: 40 }, (_, i) => `k${i}`)));
  t.is(hp.parseRequests(wire, 0), 1);
  t.is(h.batch.status[S_FULL], 1);
  t.is(h.batch.status[S_GROW_ARGS], 0);
  t.is(hp.parseRequests(wire, h.batch.status[S_CONSUMED]), 0);
  t.is(h.batch.status[S_GROW_ARGS], 41);
});

test('a large bulk is never rescanned: S_NEED / R_NEED give the full size', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp);
  const h = makeBatch(8, 16, 16);
  bind(hp, h);
  const value = 'x'.repeat(1 << 20);
  const wire = Buffer.from(mb('SET', 'k', value));
  t.is(hp.parseRequests(wire.subarray(0, 100), 0), 0);
  t.is(h.batch.status[S_NEED], wire.length);
  t.is(h.batch.status[S_NCMDS], 0);
  const reply = Buffer.from(`$${value.length}\r\n${value}\r\n`);
  t.is(hp.frameReplies(reply.subarray(0, 50), 0), 0);
  t.is(h.replyStatus[R_NEED], reply.length);
  t.is(hp.frameReplies(reply, 0), 1);
  t.is(h.replyStatus[R_CONSUMED], reply.length);
  t.is(h.replyStatus[R_COUNT], 1);
});

test('commands are zero-copy ranges of the chunk', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp);
  const h = makeBatch(8, 16, 16);
  bind(hp, h);
  const first = mb('GET', 'a');
  const wire = Buffer.from('xx' + first + 'PING\r\n');
  t.is(hp.parseRequests(wire, 2), 2);
  t.is(h.batch.cmds[C_START], 2);
  t.is(wire.subarray(h.batch.cmds[C_START], h.batch.cmds[C_END]).toString(), first);
  t.is(wire.subarray(h.batch.cmds[CMD_STRIDE + C_START], h.batch.cmds[CMD_STRIDE + C_END]).toString(), 'PING\r\n');
});

test('loadHotPath: KVSTORE_NATIVE=0 gives the reference; otherwise the flag matches the kind', (t) => {
  const saved = process.env.KVSTORE_NATIVE;
  try {
    process.env.KVSTORE_NATIVE = '0';
    const ref = loadHotPath();
    t.false(ref.nativeEnabled);
    t.true(ref instanceof ReferenceHotPath);
    t.is(hotPathKind(), 'reference');
    delete process.env.KVSTORE_NATIVE;
    const any = loadHotPath();
    t.is(hotPathKind(), any.nativeEnabled ? 'native' : 'reference');
  } finally {
    if (saved === undefined) delete process.env.KVSTORE_NATIVE;
    else process.env.KVSTORE_NATIVE = saved;
  }
});

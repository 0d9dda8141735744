import test from 'ava';
import net from 'node:net';
import {
  C_CMD, F_BAD_KEYS, F_INLINE, F_NEEDS_DECODE, ProtocolErrorCode, S_CONSUMED, S_ERROR, S_FULL, S_GROW_ARGS, S_NCMDS, S_NEED,
  SLOT_CROSS, SLOT_NONE, protocolErrorText,
} from '../../src/native/api';
import { commandId } from '../../src/commands/table';
import { startRedis } from '../helpers/redis';
import { nativeEngine, resp, runRequests } from './native-setup';

const E = ProtocolErrorCode;

/** Wire bytes → expected commands (argv as strings) and final error, as Redis 7.0 reads them. */
const cases: Array<{ name: string; wire: Buffer | string; argv: string[][]; error?: ProtocolErrorCode; errorByte?: string }> = [
  { name: 'RESP array', wire: resp('SET', 'k', 'v'), argv: [['SET', 'k', 'v']] },
  { name: 'inline', wire: 'PING\r\n', argv: [['PING']] },
  { name: 'inline with bare LF and blanks', wire: '  GET   a\t\n', argv: [['GET', 'a']] },
  { name: 'empty inline lines and *0 / *-1 are skipped', wire: '\r\n\n   \r\n*0\r\n*-1\r\n*-7\r\nPING\r\n', argv: [['PING']] },
  { name: 'the two bytes after a bulk are skipped unchecked', wire: '*1\r\n$4\r\nPINGxyPING\n', argv: [['PING'], ['PING']] },
  { name: 'the byte after a length CR is skipped unchecked', wire: '*1\rX$4\rYPING\r\n', argv: [['PING']] },
  { name: 'binary bulk with CRLF and NUL inside', wire: resp('SET', 'k', Buffer.from('a\r\n\0b')), argv: [['SET', 'k', 'a\r\n\0b']] },
  { name: 'zero-length bulk', wire: resp('GET', ''), argv: [['GET', '']] },
  { name: 'a \\v inside an unquoted inline token belongs to it', wire: 'GET a\vb\r\n', argv: [['GET', 'a\vb']] },
  { name: 'invalid multibulk length (not a number)', wire: 'PING\r\n*x\r\n', argv: [['PING']], error: E.InvalidMultibulkLength },
  { name: 'invalid multibulk length (leading zero)', wire: '*01\r\n', argv: [], error: E.InvalidMultibulkLength },
  { name: 'invalid multibulk length (above INT_MAX)', wire: '*2147483648\r\n', argv: [], error: E.InvalidMultibulkLength },
  { name: 'invalid bulk length (negative)', wire: '*1\r\n$-1\r\n', argv: [], error: E.InvalidBulkLength },
  { name: 'invalid bulk length ("+3")', wire: '*1\r\n$+3\r\nabc\r\n', argv: [], error: E.InvalidBulkLength },
  { name: 'invalid bulk length (missing CR: the line runs into the next one)', wire: '*2\r\n$3\nGET\r\n$1\r\na\r\n', argv: [], error: E.InvalidBulkLength },
  { name: "expected '$'", wire: '*2\r\n$3\r\nGET\r\n:1\r\n', argv: [], error: E.ExpectedDollar, errorByte: ':' },
  { name: 'unbalanced quotes', wire: 'SET "a b c\r\n', argv: [], error: E.UnbalancedQuotes },
  { name: 'closing quote followed by a non-blank', wire: 'SET "a"b c\r\n', argv: [], error: E.UnbalancedQuotes },
  { name: 'too big inline request', wire: 'x'.repeat(70 * 1024), argv: [], error: E.TooBigInlineRequest },
  { name: 'too big mbulk count string', wire: '*' + '1'.repeat(70 * 1024), argv: [], error: E.TooBigMbulkCountString },
  { name: 'too big bulk count string', wire: '*1\r\n$' + '1'.repeat(70 * 1024), argv: [], error: E.TooBigBulkCountString },
  { name: 'bulk over proto-max-bulk-len', wire: '*1\r\n$536870913\r\n', argv: [], error: E.InvalidBulkLength },
];

for (const c of cases) {
  test(`wire: ${c.name}`, (t) => {
    const wire = Buffer.isBuffer(c.wire) ? c.wire : Buffer.from(c.wire, 'latin1');
    const r = runRequests(nativeEngine(), [wire]);
    t.deepEqual(r.commands.map((cmd) => cmd.args.map((a) => a.toString('latin1'))), c.argv);
    t.is(r.error, c.error ?? 0);
    if (c.errorByte) t.is(String.fromCharCode(r.errorByte), c.errorByte);
    // Fed one byte at a time, the same commands and the same outcome.
    if (wire.length < 2000) {
      const pieces = [...wire].map((b) => Buffer.from([b]));
      const slow = runRequests(nativeEngine(), pieces);
      t.deepEqual(slow.commands.map((cmd) => cmd.args), r.commands.map((cmd) => cmd.args));
      t.is(slow.error, r.error);
    }
  });
}

test('quoted inline: raw ranges flagged F_NEEDS_DECODE; decodeInline and the key slot use the decoded bytes', (t) => {
  const e = nativeEngine();
  const line = 'SET "a\\x41{t}" \'it\\\'s\'';
  const r = runRequests(e, [Buffer.from(line + '\r\n')]);
  t.is(r.commands.length, 1);
  const cmd = r.commands[0];
  t.is(cmd.flags, F_INLINE | F_NEEDS_DECODE);
  t.deepEqual(cmd.args.map((a) => a.toString()), ['SET', '"a\\x41{t}"', "'it\\'s'"]);
  t.deepEqual(e.hp.decodeInline(Buffer.from(line))!.map((a) => a.toString()), ['SET', 'aA{t}', "it's"]);
  t.is(cmd.slot, e.hp.keySlot(Buffer.from('t')));
  t.is(e.hp.decodeInline(Buffer.from('GET "open')), null);
});

test('command ids, container subcommands (any case), keys by key spec, common slot', (t) => {
  const e = nativeEngine();
  const wire = Buffer.concat([
    resp('get', 'k1'),
    resp('OBJECT', 'encoding', 'k2'),
    resp('MGET', '{t}a', '{t}b'),
    resp('MGET', 'a', 'b', 'c'),
    resp('EVAL', 'return 1', '2', 'x', 'y', 'arg'),
    resp('EVAL', 'return 1', '0'),
    resp('XREAD', 'COUNT', '2', 'STREAMS', 's1', 's2', '0', '0'),
    resp('ZUNIONSTORE', 'dst', 'x', 'a'),
    resp('NOSUCHCMD', 'a'),
    resp('PING'),
  ]);
  const cmds = runRequests(e, [wire]).commands;
  t.is(cmds[0].cmd, commandId('get'));
  t.deepEqual(cmds[0].keys.map((k) => k[0]), [1]);
  t.is(cmds[1].cmd, commandId('object|encoding'));
  t.deepEqual(cmds[1].keys.map((k) => k[0]), [2]);
  t.is(cmds[2].slot, e.hp.keySlot(Buffer.from('t')));
  t.is(cmds[3].slot, SLOT_CROSS);
  t.deepEqual(cmds[4].keys.map((k) => k[0]), [3, 4]);
  t.deepEqual(cmds[5].keys, []);
  t.is(cmds[5].slot, SLOT_NONE);
  t.deepEqual(cmds[6].keys.map((k) => k[0]), [4, 5]);
  t.is(cmds[7].flags & F_BAD_KEYS, F_BAD_KEYS); // numkeys "x"
  t.is(cmds[8].cmd, -1);
  t.is(cmds[9].cmd, commandId('ping'));
  t.is(cmds[9].slot, SLOT_NONE);
  for (const c of cmds) for (const [arg, slot] of c.keys) t.is(slot, e.hp.keySlot(c.args[arg]));
});

test('a large bulk reports S_NEED once its length is known, so it is not rescanned', (t) => {
  const e = nativeEngine();
  const big = resp('SET', 'k', Buffer.alloc(100000, 0x61));
  const head = big.subarray(0, 40);
  t.is(e.hp.parseRequests(head, 0), 0);
  t.is(e.batch.status[S_NEED], big.length);
  t.is(e.batch.status[S_CONSUMED], 0);
  t.is(e.hp.parseRequests(big, 0), 1);
  t.is(e.batch.status[S_NEED], 0);
});

test('S_FULL when the command array fills; S_GROW_ARGS for one command wider than args', (t) => {
  const e = nativeEngine({ cmds: 2, args: 4 });
  const wire = Buffer.concat([resp('GET', 'a'), resp('GET', 'b'), resp('GET', 'c')]);
  t.is(e.hp.parseRequests(wire, 0), 2);
  t.is(e.batch.status[S_FULL], 1);
  t.is(e.hp.parseRequests(wire, e.batch.status[S_CONSUMED]), 1);
  t.is(e.batch.status[S_FULL], 0);
  const wide = resp('MGET', 'a', 'b', 'c', 'd', 'e');
  t.is(e.hp.parseRequests(wide, 0), 0);
  t.is(e.batch.status[S_GROW_ARGS], 6);
  e.rebind(6, 6);
  t.is(e.hp.parseRequests(wide, 0), 1);
  t.is(e.batch.cmds[C_CMD], commandId('mget'));
  t.is(e.batch.status[S_NCMDS], 1);
});

/** Sends raw bytes to a real redis-server and collects what it answers until it closes or idles. */
function askRedis(port: number, wire: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer = setTimeout(() => sock.destroy(), 400);
    sock.on('data', (d) => {
      chunks.push(d);
      clearTimeout(timer);
      timer = setTimeout(() => sock.destroy(), 200);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    sock.on('error', reject);
    sock.write(wire);
  });
}

test('every protocol error text is exactly what redis-server answers to the same bytes', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  for (const c of cases.filter((x) => x.error)) {
    const wire = Buffer.isBuffer(c.wire) ? c.wire : Buffer.from(c.wire, 'latin1');
    const r = runRequests(nativeEngine(), [wire]);
    const answer = await askRedis(redis.port, wire);
    const errorLine = answer.split('\r\n').find((l) => l.startsWith('-ERR Protocol error'));
    t.is(errorLine, '-' + protocolErrorText(r.error, r.errorByte), c.name);
  }
});

/**
 * The one error encoder (src/proxy/ErrorReply.ts): client bytes stay bytes, Kvstore's text is
 * UTF-8, and no CR/LF from any part (an exception message above all) reaches the reply, so a
 * message cannot inject a reply line of its own. Also checked where messages of thrown errors
 * become replies: fan-out merges and the migration hook.
 */
import test from 'ava';
import { errorReply, messageOf } from '../../src/proxy/ErrorReply';
import { sendToAllShards } from '../../src/proxy/FanOut';
import { MigrationHook, MigrationShardAccess } from '../../src/proxy/MigrationHook';
import type { ProxyContext } from '../../src/proxy/ProxyContext';
import type { ReplySink } from '../../src/proxy/ReplySink';
import type { ReplyTarget } from '../../src/proxy/ReplyTarget';
import { unknownCommandError, unknownSubcommandError } from '../../src/proxy/ReplyTexts';
import { encodeCommand } from '../../src/resp';

const INJECTION = 'boom\r\n+OK\r\n:1\n\r';

test('Kvstore text is UTF-8; client bytes are copied as they are', (t) => {
  t.deepEqual(errorReply('ERR plain'), Buffer.from('-ERR plain\r\n'));
  t.deepEqual(errorReply('ERR shard é'), Buffer.from('-ERR shard \xc3\xa9\r\n', 'latin1'));
  t.deepEqual(errorReply("ERR got '", Buffer.from([0xff]), "'"), Buffer.from("-ERR got '\xff'\r\n", 'latin1'));
  t.deepEqual(errorReply('ERR ', Buffer.from([0x80, 0x00, 0xfe])), Buffer.from([0x2d, 0x45, 0x52, 0x52, 0x20, 0x80, 0x00, 0xfe, 0x0d, 0x0a]));
});

test('CR and LF become spaces in every part, text or bytes', (t) => {
  t.deepEqual(errorReply('ERR Kvstore: ', INJECTION), Buffer.from('-ERR Kvstore: boom  +OK  :1  \r\n'));
  t.deepEqual(errorReply('ERR a\r', Buffer.from('\n\r\nb')), Buffer.from('-ERR a    b\r\n'));
  t.is(messageOf(new Error('x\r\ny')), 'x\r\ny');
  t.is(messageOf('plain'), 'plain');
});

test("Redis's unknown command / subcommand texts keep 0xff bytes and cut at 128 bytes", (t) => {
  const reply = unknownCommandError([Buffer.from('F\xffO', 'latin1'), Buffer.from('a\r\nb'), Buffer.alloc(200, 0x78)]);
  t.is(reply.toString('latin1'), `-ERR unknown command 'F\xffO', with args beginning with: 'a  b' '${'x'.repeat(128 - 7)}' \r\n`);
  t.is(unknownSubcommandError('client', Buffer.from('\xffzz', 'latin1')).toString('latin1'), "-ERR unknown subcommand '\xffzz'. Try CLIENT HELP.\r\n");
});

/** A ReplyTarget whose shards answer at once; records what the client would get. */
function recordingTarget(shardReply: Buffer): { target: ReplyTarget; replies: Array<[number, string]> } {
  const replies: Array<[number, string]> = [];
  const target: ReplyTarget = {
    isClosed: false,
    onReply: (seq, reply) => replies.push([seq, reply.toString('latin1')]),
    forwardTo: (_shard: number, _command: Buffer, tag: number, sink?: ReplySink) => sink!.onReply(tag, shardReply),
  };
  return { target, replies };
}

test('fan-out: a merge that throws answers one error line, not the message\'s lines', (t) => {
  const { target, replies } = recordingTarget(Buffer.from('+OK\r\n'));
  const logged: unknown[] = [];
  const ctx = { router: { shards: [{}, {}] }, log: { error: (o: unknown) => logged.push(o) } } as unknown as ProxyContext;
  sendToAllShards(target, ctx, encodeCommand(['DBSIZE']), 7, () => {
    throw new Error(INJECTION);
  });
  t.deepEqual(replies, [[7, '-ERR Kvstore: could not merge shard replies: boom  +OK  :1  \r\n']]);
  t.is(logged.length, 1);
});

test('migration hook: a failed MIGRATE answers one error line, not the message\'s lines', async (t) => {
  const hook = new MigrationHook({ auth: {}, timeoutMs: 100 });
  const shards: MigrationShardAccess = {
    shardCount: () => 2,
    shardName: (i) => ['a', 'b'][i],
    shardAddress: (i) => ['127.0.0.1:1', '127.0.0.1:2'][i],
    shardOfSlot: () => 0,
    migrationOf: () => ({ from: 'a', to: 'b' }),
    send: () => Promise.reject(new Error(INJECTION)),
    encode: encodeCommand,
  };
  const command = { name: 'get', args: [Buffer.from('GET'), Buffer.from('k')], keyIndexes: [1], keySlots: [12539], raw: encodeCommand(['GET', 'k']) };
  const reply = await hook.handle(command, shards);
  t.is(reply!.toString('latin1'), '-ERR Kvstore: moving the key for an ongoing migration failed (boom  +OK  :1  ); retry\r\n');
});

/**
 * CLIENT LIST / CLIENT INFO fields that describe a client's state (flags, multi, sub/psub/ssub,
 * cmd): the same sequence of commands is sent to a direct redis-server and through the proxy,
 * and each client's line is compared field by field where a proxy client can be in that state.
 */
import test, { ExecutionContext } from 'ava';
import { eventually } from '../helpers/kvstore';
import { startProxy } from '../helpers/proxy';
import { encodeCommand, RawClient } from '../helpers/raw';
import { startRedis } from '../helpers/redis';

/** The fields compared with Redis: those a proxy client has (fd, buffers and laddr differ by nature). */
const COMPARED = ['name', 'flags', 'db', 'sub', 'psub', 'ssub', 'multi', 'cmd', 'user', 'resp'];

type Line = Record<string, string>;

function parseLines(reply: Buffer): Line[] {
  const text = reply.toString('latin1').replace(/^[$=]\d+\r\n(txt:)?/, '');
  return text.trim().split('\n').filter(Boolean).map((line) => Object.fromEntries(line.trim().split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

function pick(line: Line | undefined): Line {
  if (line === undefined) return {};
  return Object.fromEntries(COMPARED.map((f) => [f, line[f]]));
}

/**
 * Clients named after their state, each left in it; returns the observer's view of every named
 * client once the blocked ones are seen blocked (they are answered by a server only later).
 */
async function clientsInStates(t: ExecutionContext, port: number): Promise<Record<string, Line>> {
  const open = async (name: string): Promise<RawClient> => {
    const c = await RawClient.connect(port);
    t.teardown(() => c.close());
    if (name !== '') await c.call('CLIENT', 'SETNAME', name);
    return c;
  };
  const observer = await open('observer');
  const multi = await open('multi');
  t.is((await multi.call('MULTI')).toString(), '+OK\r\n');
  t.is((await multi.call('SET', '{t}k', 'v')).toString(), '+QUEUED\r\n');
  t.is((await multi.call('GET', '{t}k')).toString(), '+QUEUED\r\n');
  t.is((await multi.call('NOSUCHCOMMAND')).toString().slice(0, 4), '-ERR', 'refused at queue time: not counted in multi=');
  const emptyMulti = await open('emptymulti');
  await emptyMulti.call('MULTI');
  const blpop = await open('blpop');
  blpop.write(encodeCommand(['BLPOP', 'nolist', '0']));
  const xread = await open('xread');
  xread.write(encodeCommand(['XREAD', 'BLOCK', '0', 'STREAMS', 'nostream', '$']));
  const sub = await open('sub');
  sub.write(encodeCommand(['SUBSCRIBE', 'c1', 'c2']));
  sub.write(encodeCommand(['PSUBSCRIBE', 'p*']));
  await sub.replies(3);
  const ssub = await open('ssub');
  ssub.write(encodeCommand(['SSUBSCRIBE', '{s}1', '{s}2', '{s}3']));
  await ssub.replies(3);
  // Messages reach them after their last command: cmd stays (p)subscribe / ssubscribe.
  await observer.call('PUBLISH', 'c1', 'm');
  await observer.call('PUBLISH', 'pattern', 'm');
  await observer.call('SPUBLISH', '{s}2', 'm');
  await sub.replies(2);
  await ssub.reply();
  const subping = await open('subping');
  await subping.call('SUBSCRIBE', 'c1');
  await subping.call('PING');
  await observer.call('PUBLISH', 'c1', 'm2');
  await sub.reply();
  await subping.reply();
  const resp3 = await open('resp3');
  await resp3.call('HELLO', '3');
  await resp3.call('CLIENT', 'NO-EVICT', 'on');
  const unknown = await open('unknown');
  await unknown.call('NOSUCHCOMMAND');
  // CLIENT PAUSE WRITE: a write waits (Redis: postponed, flag b, cmd the held command); reads go on.
  const paused = await open('paused');
  await observer.call('CLIENT', 'PAUSE', '3000', 'WRITE');
  const held = paused.call('SET', '{t}p', 'v');
  const seen = await eventually<Record<string, Line> | null>(async () => {
    const lines = parseLines(await observer.call('CLIENT', 'LIST'));
    const byName = Object.fromEntries(lines.map((l) => [l.name, l]));
    return byName.blpop?.cmd === 'blpop' && byName.xread?.cmd === 'xread' && byName.paused?.cmd === 'set' ? byName : null;
  }, 5000, 'the blocked clients listed as blocked');
  await observer.call('CLIENT', 'UNPAUSE');
  t.is((await held).toString(), '+OK\r\n', 'the held write runs after UNPAUSE');
  return seen!; // (eventually returns only a found value)
}

test('CLIENT LIST flags, multi=, sub/psub/ssub and cmd= match a direct redis-server for MULTI, BLPOP, XREAD BLOCK, (P|S)SUBSCRIBE, HELLO 3', async (t) => {
  const direct = await startRedis();
  t.teardown(() => direct.kill());
  const kv = await startProxy(t, { shards: 2 });
  const want = await clientsInStates(t, direct.port);
  const got = await clientsInStates(t, kv.port);
  // What Redis 7.0 shows, written out so that a change on either side is seen.
  t.like(want.multi, { flags: 'x', multi: '2', cmd: 'NULL' }, 'Redis: the refused command is the last one (unknown: NULL)');
  t.like(want.emptymulti, { flags: 'x', multi: '0', cmd: 'multi' });
  t.like(want.blpop, { flags: 'b', multi: '-1', cmd: 'blpop' });
  t.like(want.xread, { flags: 'b', cmd: 'xread' });
  t.like(want.sub, { flags: 'P', sub: '2', psub: '1', ssub: '0', cmd: 'psubscribe' });
  t.like(want.ssub, { flags: 'P', sub: '0', psub: '0', ssub: '3', cmd: 'ssubscribe' });
  t.like(want.resp3, { flags: 'e', resp: '3', cmd: 'client|no-evict' });
  t.like(want.observer, { flags: 'N', multi: '-1', cmd: 'client|list' });
  t.like(want.subping, { flags: 'P', sub: '1', cmd: 'ping' }, 'PING in subscribed mode, after a message');
  t.like(want.unknown, { flags: 'N', cmd: 'NULL' });
  t.like(want.paused, { flags: 'b', cmd: 'set' });
  for (const name of Object.keys(want)) t.deepEqual(pick(got[name]), pick(want[name]), `client ${name}`);
});

test('CLIENT INFO of a READONLY client shows r (as a Redis Cluster node), CLIENT LIST of one in WAIT b; both clear', async (t) => {
  const kv = await startProxy(t, { shards: 1 });
  const c = await RawClient.connect(kv.port);
  const other = await RawClient.connect(kv.port);
  t.teardown(() => { c.close(); other.close(); });
  const info = async () => parseLines(await c.call('CLIENT', 'INFO'))[0];
  t.like(await info(), { flags: 'N', cmd: 'client|info', multi: '-1' });
  await c.call('READONLY');
  t.like(await info(), { flags: 'r' });
  await c.call('CLIENT', 'NO-EVICT', 'on');
  t.like(await info(), { flags: 're' }, "Redis's order: r, then e");
  await c.call('READWRITE');
  await c.call('CLIENT', 'NO-EVICT', 'off');
  t.like(await info(), { flags: 'N' });
  // After a write, WAIT for a replica the shard does not have blocks until its timeout (Redis: flag b while waiting).
  await c.call('SET', 'k', 'v');
  const id = (await c.call('CLIENT', 'ID')).toString().slice(1, -2);
  c.write(encodeCommand(['WAIT', '1', '2000']));
  const seen = await eventually(async () => {
    const line = parseLines(await other.call('CLIENT', 'LIST', 'ID', id))[0];
    return line.flags === 'b' ? line : null;
  }, 5000, 'WAIT listed as blocked');
  t.like(seen, { cmd: 'wait', multi: '-1' });
  t.is((await c.reply()).toString(), ':0\r\n', 'no replica acknowledged');
  t.like(await info(), { flags: 'N', cmd: 'client|info' });
});

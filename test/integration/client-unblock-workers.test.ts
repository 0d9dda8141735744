/**
 * CLIENT UNBLOCK of a client that lives on another worker (`kvstore start` with 2 workers): the
 * owner of the id unblocks it on its shard, reached through the primary; replies as Redis 7.0.
 */
import test from 'ava';
import { startKvstore } from '../helpers/kvstore';
import { RawClient, encodeCommand } from '../helpers/raw';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('CLIENT UNBLOCK reaches a client blocked on the other worker', async (t) => {
  const kv = await startKvstore(t, { shards: 2, workers: 2 });
  // The kernel spreads connections over the workers' sockets: connect until both have one.
  const clients: { c: RawClient; id: number }[] = [];
  t.teardown(() => clients.forEach(({ c }) => c.close()));
  while (clients.length < 64 && new Set(clients.map(({ id }) => id % 256)).size < 2) {
    const c = await RawClient.connect(kv.port);
    clients.push({ c, id: Number((await c.call('CLIENT', 'ID')).toString().slice(1, -2)) });
  }
  const blocked = clients[0];
  const admin = clients.find(({ id }) => id % 256 !== blocked.id % 256);
  if (admin === undefined) return t.fail(`no client on a second worker: ${clients.map(({ id }) => id).join(',')}`);
  const id = String(blocked.id);

  blocked.c.write(encodeCommand(['BLPOP', 'q', '0']));
  const r1 = blocked.c.reply(5000);
  await sleep(150);
  t.is((await admin.c.call('CLIENT', 'UNBLOCK', id)).toString(), ':1\r\n');
  t.is((await r1).toString(), '*-1\r\n', 'TIMEOUT: the nil reply of a timed-out BLPOP');
  t.is((await admin.c.call('CLIENT', 'UNBLOCK', id)).toString(), ':0\r\n', 'no longer blocked');

  blocked.c.write(encodeCommand(['BLPOP', 'q', '0']));
  const r2 = blocked.c.reply(5000);
  await sleep(150);
  t.is((await admin.c.call('CLIENT', 'UNBLOCK', id, 'ERROR')).toString(), ':1\r\n');
  t.is((await r2).toString(), '-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n');

  // The unblocked client goes on; ids of no blocked client (on either worker, or nobody's) answer 0.
  t.is((await blocked.c.call('PING')).toString(), '+PONG\r\n');
  t.is((await admin.c.call('CLIENT', 'UNBLOCK', id)).toString(), ':0\r\n');
  t.is((await admin.c.call('CLIENT', 'UNBLOCK', String(blocked.id + 256 * 1000))).toString(), ':0\r\n');
  t.is((await admin.c.call('CLIENT', 'UNBLOCK', String(admin.id))).toString(), ':0\r\n');
  t.is((await admin.c.call('CLIENT', 'UNBLOCK', id, 'FOO')).toString(), '-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n');
});

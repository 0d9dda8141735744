/**
 * RespClient with replies far bigger than a socket read: a fake server (a net.Server on a free
 * loopback port) answers with a 20 MB bulk string and an array of 100,000 elements, written in
 * small pieces with a turn of the event loop between them, so the client gets them in many
 * reads; the decoded values must be exactly those replies, and the connection must stay usable.
 */
import net from 'node:net';
import test from 'ava';
import { RespClient } from '../../src/resp';

/** Answers each command (one per write from the client is enough here) with the next reply, in pieces. */
async function fakeServer(t: { teardown(fn: () => void): void }, replies: Buffer[], piece: number): Promise<string> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', async () => {
      const reply = replies[next++ % replies.length];
      for (let from = 0; from < reply.length; from += piece) {
        socket.write(reply.subarray(from, Math.min(reply.length, from + piece)));
        await new Promise((r) => setImmediate(r));
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

test('a 20 MB bulk string and an array of 100,000 elements in small reads decode to the same values', async (t) => {
  const body = Buffer.alloc(20 * 1024 * 1024);
  for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
  const bulk = Buffer.concat([Buffer.from(`$${body.length}\r\n`), body, Buffer.from('\r\n')]);
  const array = Buffer.from(`*100000\r\n${Array.from({ length: 100_000 }, (_, i) => `$${String(i).length}\r\n${i}\r\n`).join('')}`, 'latin1');
  const address = await fakeServer(t, [bulk, array, Buffer.from('+PONG\r\n')], 16 * 1024 + 5);
  const client = new RespClient(address, { reconnect: false });
  t.teardown(() => client.close());

  const value = (await client.command(['DUMP', 'big'])) as Buffer;
  t.true(Buffer.isBuffer(value));
  t.is(value.length, body.length);
  t.true(value.equals(body));

  const items = (await client.command(['LRANGE', 'l', 0, -1])) as Buffer[];
  t.is(items.length, 100_000);
  let wrong = 0;
  for (let i = 0; i < items.length; i++) if (!Buffer.isBuffer(items[i]) || items[i].toString() !== String(i)) wrong++;
  t.is(wrong, 0);

  t.is(await client.command(['PING']), 'PONG');
});

test('raw: a big reply comes back as its exact bytes', async (t) => {
  const array = Buffer.from(`*50000\r\n${Array.from({ length: 50_000 }, (_, i) => `:${i}\r\n`).join('')}`, 'latin1');
  const address = await fakeServer(t, [array], 1000);
  const client = new RespClient(address, { reconnect: false });
  t.teardown(() => client.close());
  t.true((await client.raw(Buffer.from('*1\r\n$4\r\nPING\r\n'))).equals(array));
});

test('bytes that are not RESP fail the connection and reject the command', async (t) => {
  const address = await fakeServer(t, [Buffer.from('hello\r\n')], 100);
  const client = new RespClient(address, { reconnect: false });
  t.teardown(() => client.close());
  const err = await t.throwsAsync(client.command(['PING']));
  t.regex(err!.message, /not a RESP reply/);
  t.true(client.isClosed);
});

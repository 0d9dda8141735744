/**
 * NodeStream over a TLS socket (the client tls.port path): a TLS write completes asynchronously,
 * so the stream hands its output buffer to the socket and takes it back as the spare when the
 * write's callback comes. Checked over a real TLS connection (openssl certificates): the bytes
 * arrive intact and in order whatever the interleaving of flushes and write completions (small
 * replies, big ones past the spare limit, several flushes before a callback), and a steady
 * one-reply-per-flush exchange reuses the same buffer instead of allocating one per flush.
 */
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { NodeStream } from '../../src/proxy/io/NodeStream';
import { DETACHED } from '../../src/proxy/io/ByteStream';
import { makeCertificates } from '../helpers/tls';

interface Pair {
  stream: NodeStream;
  /** Everything the client has read so far. */
  received(): Buffer;
  /** Resolves once the client has read `n` bytes in all. */
  until(n: number): Promise<void>;
}

async function tlsPair(t: import('ava').ExecutionContext): Promise<Pair> {
  const certs = makeCertificates((fn) => t.teardown(fn));
  const accepted = new Promise<tls.TLSSocket>((resolve) => {
    const server = tls.createServer({ cert: fs.readFileSync(certs.certFile), key: fs.readFileSync(certs.keyFile) }, resolve);
    t.teardown(() => server.close());
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      const client = tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(certs.caFile), servername: 'localhost' });
      t.teardown(() => client.destroy());
      client.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        for (const w of waiters.filter((x) => length >= x.n)) w.resolve();
      });
    });
  });
  const chunks: Buffer[] = [];
  let length = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const socket = await accepted;
  const stream = new NodeStream(socket);
  stream.attach(DETACHED);
  t.teardown(() => stream.destroy());
  return {
    stream,
    received: () => Buffer.concat(chunks),
    until: (n) => (length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

/** A payload whose bytes say where they belong, so a reused buffer overwritten too early shows. */
function payload(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let j = 0; j < size; j++) b[j] = (i * 31 + j) & 0xff;
  return b;
}

const nextTurn = () => new Promise((r) => setImmediate(r));

test('over TLS, output flushed in any interleaving with write completions arrives intact and in order', async (t) => {
  const { stream, received, until } = await tlsPair(t);
  const expected: Buffer[] = [];
  let total = 0;
  for (let i = 0; i < 600; i++) {
    // mostly small replies, some past the spare limit (64 KiB), several flushes per turn
    const size = i % 97 === 0 ? 200_000 : i % 13 === 0 ? 5000 : 1 + ((i * 7) % 120);
    const p = payload(i, size);
    // appended in two parts, as a reply can be
    stream.append(p, 0, size >> 1);
    stream.append(p, size >> 1, size);
    expected.push(p);
    total += size;
    stream.flush();
    if (i % 3 === 0) await nextTurn(); // let some writes complete between flushes, not all
  }
  await until(total);
  t.is(received().length, total);
  t.true(received().equals(Buffer.concat(expected)), 'bytes intact and in order');
});

test('over TLS, one reply per flush reuses the output buffer once each write completes', async (t) => {
  const { stream, until } = await tlsPair(t);
  const outputOf = () => (stream as unknown as { out: Buffer | null }).out;
  const buffers = new Set<Buffer>();
  let total = 0;
  for (let i = 0; i < 200; i++) {
    const p = payload(i, 40);
    stream.append(p);
    buffers.add(outputOf()!);
    stream.flush();
    total += p.length;
    await until(total); // the reply is read: its write has completed
    await nextTurn();
  }
  // Each write is asynchronous on a TLS socket, so without the spare this would be 200 buffers.
  t.true(buffers.size <= 2, `${buffers.size} output buffers for 200 flushes`);
});

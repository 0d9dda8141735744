/**
 * The data path's socket layer (src/proxy/io): NativeStream (the addon's libuv sockets) and
 * NodeStream (net.Socket) must behave the same for everything the connections rely on. Each
 * case runs against both, over real loopback TCP.
 */
import test, { ExecutionContext } from 'ava';
import net from 'node:net';
import { acceptMode, ByteStream, connectedStream, enableNativeIo, listenForClients, nativeIoTotals, StreamHandler, workersBindOwnSockets } from '../../src/proxy/io';
import { isSharedReadBuffer } from '../../src/proxy/io';
import { IoAddon, NativeStream } from '../../src/proxy/io/NativeStream';
import { loadAddon } from '../../src/native/NativeHotPath';

const nativeReady = enableNativeIo(true, true);

type Kind = 'native' | 'node';
const KINDS: Kind[] = ['native', 'node'];

/** Records every event of one stream. */
class Recorder implements StreamHandler {
  chunks: Buffer[] = [];
  ended = false;
  drains = 0;
  connected = false;
  closes: (string | null)[] = [];
  timeouts = 0;
  sawSharedBuffer = false;
  private waiters: (() => void)[] = [];

  onStreamData(data: Buffer, start: number, end: number): void {
    if (isSharedReadBuffer(data)) this.sawSharedBuffer = true;
    this.chunks.push(Buffer.from(data.subarray(start, end))); // copied: only valid during this call
    this.wake();
  }
  onStreamEnd(): void {
    this.ended = true;
    this.wake();
  }
  onStreamDrain(): void {
    this.drains++;
    this.wake();
  }
  onStreamConnect(): void {
    this.connected = true;
    this.wake();
  }
  onStreamClose(error: string | null): void {
    this.closes.push(error);
    this.wake();
  }
  onStreamTimeout(): void {
    this.timeouts++;
    this.wake();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async until(cond: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a stream event');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }
}

/** A loopback server whose accepted sockets are handed to `onSocket`. */
async function server(onSocket: (s: net.Socket) => void, options: net.ServerOpts = {}): Promise<{ port: number; close: () => void }> {
  const srv = net.createServer(options, onSocket);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<net.Socket>();
  srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

function skipNative(t: ExecutionContext, kind: Kind): boolean {
  if (kind === 'native' && !nativeReady) {
    t.fail('the addon sockets did not load (is the addon built?)');
    return true;
  }
  return false;
}

for (const kind of KINDS) {
  const native = kind === 'native';

  test(`${kind}: connect, write, read an echo; native reads land in the shared buffer`, async (t) => {
    if (skipNative(t, kind)) return;
    const echo = await server((s) => s.pipe(s));
    t.teardown(echo.close);
    const rec = new Recorder();
    const stream = connectedStream('127.0.0.1', echo.port, rec, native, 30_000);
    t.is(stream.kind, kind);
    stream.append(Buffer.from('xxhello'), 2, 7);
    stream.append(Buffer.from(' world'));
    t.is(stream.queued, 11); // nothing is sent before flush, and not before the connection is up
    await rec.until(() => rec.connected);
    stream.flush();
    await rec.until(() => rec.bytes.length >= 11);
    t.is(rec.bytes.toString(), 'hello world');
    t.is(rec.sawSharedBuffer, native);
    stream.destroy();
    await rec.until(() => rec.closes.length > 0);
    await new Promise((r) => setTimeout(r, 50));
    t.deepEqual(rec.closes, [null], 'close is reported exactly once, without an error');
  });

  test(`${kind}: 8 MB through a slow reader goes out asynchronously, intact, then drains`, async (t) => {
    if (skipNative(t, kind)) return;
    const received: Buffer[] = [];
    let total = 0;
    const done = new Promise<void>((resolve) => {
      void server((s) => {
        s.pause();
        setTimeout(() => s.resume(), 200); // the kernel buffers fill: the write cannot finish at once
        s.on('data', (d: Buffer) => {
          received.push(d);
          total += d.length;
          if (total >= 8 << 20) resolve();
        });
      }).then((srv) => {
        t.teardown(srv.close);
        const rec = new Recorder();
        const stream = connectedStream('127.0.0.1', srv.port, rec, native, 30_000);
        const payload = Buffer.alloc(8 << 20);
        for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
        void rec.until(() => rec.connected).then(() => {
          stream.append(payload);
          payload.fill(0); // the stream copied: changing the source afterwards changes nothing
          t.true(stream.flush() > 0, 'the kernel cannot take 8 MB at once');
          void rec.until(() => rec.drains > 0, 10_000).then(() => {
            t.is(stream.queued, 0);
            stream.destroy();
          });
        });
      });
    });
    await done;
    const all = Buffer.concat(received);
    t.is(all.length, 8 << 20);
    let bad = -1;
    for (let i = 0; i < all.length; i++) if (all[i] !== i % 251) { bad = i; break; }
    t.is(bad, -1, 'every byte arrived in order');
  });

  test(`${kind}: a refused connection closes with ECONNREFUSED`, async (t) => {
    if (skipNative(t, kind)) return;
    const srv = await server(() => undefined);
    const port = srv.port;
    srv.close();
    await new Promise((r) => setTimeout(r, 50));
    const rec = new Recorder();
    connectedStream('127.0.0.1', port, rec, native, 30_000);
    await rec.until(() => rec.closes.length > 0);
    t.false(rec.connected);
    t.deepEqual(rec.closes, ['ECONNREFUSED']);
  });

  test(`${kind}: an accepted client is paused until attached; pause stops reading; half-close then end`, async (t) => {
    if (skipNative(t, kind)) return;
    const rec = new Recorder();
    let stream: ByteStream | null = null;
    const listener = await listenForClients({
      host: '127.0.0.1',
      port: 0,
      nativeIo: native,
      onStream: (s) => {
        stream = s;
        setTimeout(() => s.attach(rec), 100); // nothing may be read before the owner is there
      },
      onError: (err) => t.fail(String(err)),
    });
    t.is(listener.kind, kind);
    t.false(listener.reusePort, 'one process: no SO_REUSEPORT (a taken port must fail)');
    t.teardown(() => void listener.close());
    const srv = listener.address;
    const client = net.connect(srv.port, '127.0.0.1');
    const fromServer: Buffer[] = [];
    client.on('data', (d: Buffer) => fromServer.push(d));
    const clientClosed = new Promise((r) => client.on('close', r));
    await new Promise((r) => client.once('connect', r));
    client.write('one');
    await rec.until(() => rec.bytes.toString() === 'one');
    t.is(stream!.kind, kind);
    t.regex(stream!.remote, /^127\.0\.0\.1:\d+$/);

    stream!.pause();
    client.write('two');
    await new Promise((r) => setTimeout(r, 150));
    t.is(rec.bytes.toString(), 'one', 'nothing is read while paused');
    stream!.resume();
    await rec.until(() => rec.bytes.toString() === 'onetwo');

    client.end(); // half-close: the stream may still answer
    await rec.until(() => rec.ended);
    stream!.append(Buffer.from('bye'));
    stream!.end();
    await clientClosed;
    t.is(Buffer.concat(fromServer).toString(), 'bye');
    await rec.until(() => rec.closes.length > 0);
    t.is(rec.closes.length, 1);
  });

  test(`${kind}: the idle timeout fires after a quiet period, not while traffic flows`, async (t) => {
    if (skipNative(t, kind)) return;
    const echo = await server((s) => s.pipe(s));
    t.teardown(echo.close);
    const rec = new Recorder();
    const stream = connectedStream('127.0.0.1', echo.port, rec, native, 30_000);
    t.teardown(() => stream.destroy());
    await rec.until(() => rec.connected);
    stream.setIdleTimeout(800);
    for (let i = 0; i < 8; i++) {
      stream.append(Buffer.from('ping'));
      stream.flush();
      await new Promise((r) => setTimeout(r, 100));
    }
    t.is(rec.timeouts, 0, 'traffic every 100 ms keeps it alive');
    await rec.until(() => rec.timeouts > 0, 3000);
    t.is(rec.timeouts, 1);
    stream.setIdleTimeout(0);
  });

  test(`${kind}: the peer resetting the connection closes the stream with an error`, async (t) => {
    if (skipNative(t, kind)) return;
    const srv = await server((s) => setTimeout(() => s.resetAndDestroy(), 50));
    t.teardown(srv.close);
    const rec = new Recorder();
    connectedStream('127.0.0.1', srv.port, rec, native, 30_000);
    await rec.until(() => rec.closes.length > 0 || rec.ended);
    if (rec.ended && rec.closes.length === 0) t.fail('a reset must not look like a clean half-close');
    t.deepEqual(rec.closes, ['ECONNRESET']);
  });
}

test('native: host names go through net.Socket; bad arguments throw instead of crashing', async (t) => {
  if (skipNative(t, 'native')) return;
  const echo = await server((s) => s.pipe(s));
  t.teardown(echo.close);
  const rec = new Recorder();
  const byName = connectedStream('localhost', echo.port, rec, true, 1000);
  t.is(byName.kind, 'node');
  byName.destroy();
  const addon = loadAddon() as unknown as IoAddon;
  t.throws(() => addon.ioConnect('not-an-ip', 1), { instanceOf: TypeError, message: /not an IP address/ });
  t.throws(() => addon.ioConnect(7 as unknown as string, 1), { instanceOf: TypeError });
  const args = new Float64Array(3);
  const { appendAt, flushAt } = addon.ioHotCalls(args);
  args.set([100_000, 0, 4]);
  t.throws(() => appendAt('text' as unknown as Buffer), { instanceOf: TypeError });
  args[0] = Number.NaN;
  t.is(flushAt(), 0, 'a non-numeric id is no stream');
  args[0] = 100_000;
  t.is(flushAt(), 0, 'an unopened stream has nothing queued');
  args.set([123_456, 0, 1]);
  t.notThrows(() => appendAt(Buffer.from('x')), 'an unknown id is ignored');
  t.is(flushAt(), 0);
  t.is(addon.ioBuffered(123_456), null);
  t.notThrows(() => addon.ioCloseListener(99));
});

test('native: a taken port fails with EADDRINUSE; port 0 binds a free port', async (t) => {
  if (skipNative(t, 'native')) return;
  const blocker = await server(() => undefined);
  t.teardown(blocker.close);
  const onStream = () => t.fail('no client connects');
  await t.throwsAsync(() => listenForClients({ host: '127.0.0.1', port: blocker.port, nativeIo: true, onStream, onError: onStream }), { code: 'EADDRINUSE' });
  const l = await listenForClients({ host: 'localhost', port: 0, nativeIo: true, onStream, onError: onStream });
  t.teardown(() => void l.close());
  t.is(l.kind, 'native');
  t.true(l.address.port > 0);
  t.is(net.isIP(l.address.host), 4, 'a host name is resolved before binding');
});

test('acceptMode: native accept everywhere in one process; SO_REUSEPORT in Linux workers; net.Server for workers elsewhere', (t) => {
  t.deepEqual(acceptMode(false, 'linux', true), { native: false, reusePort: false });
  t.deepEqual(acceptMode(true, 'linux', false), { native: true, reusePort: false });
  t.deepEqual(acceptMode(true, 'darwin', false), { native: true, reusePort: false });
  t.deepEqual(acceptMode(true, 'linux', true), { native: true, reusePort: true });
  t.deepEqual(acceptMode(true, 'darwin', true), { native: false, reusePort: false });
  t.is(workersBindOwnSockets('native', 'linux'), nativeReady, 'the primary expects own sockets exactly when the addon can listen');
  t.false(workersBindOwnSockets('node', 'linux'));
  t.false(workersBindOwnSockets('native', 'darwin'));
});

test('native: output buffers are held only while output is queued (accepted clients), and totals count them', async (t) => {
  if (skipNative(t, 'native')) return;
  const accepted: NativeStream[] = [];
  const rec = new Recorder();
  const l = await listenForClients({
    host: '127.0.0.1',
    port: 0,
    nativeIo: true,
    onStream: (s) => {
      s.attach(rec);
      accepted.push(s as NativeStream);
    },
    onError: (err) => t.fail(String(err)),
  });
  t.teardown(() => void l.close());
  const client = net.connect(l.address.port, '127.0.0.1');
  client.pause(); // its receive buffer fills: the server's output has to wait
  t.teardown(() => client.destroy());
  await rec.until(() => accepted.length === 1);
  const s = accepted[0];
  t.deepEqual(s.nativeBuffered, [0, 0], 'an idle accepted client holds no output buffer');
  s.append(Buffer.from('+OK\r\n'));
  const [queued, allocated] = s.nativeBuffered;
  t.is(queued, 5);
  t.true(allocated >= 5);
  t.true(nativeIoTotals()!.outputQueued >= 5);
  t.is(s.flush(), 0);
  t.deepEqual(s.nativeBuffered, [0, 0], 'given back once the kernel took everything');

  const big = Buffer.alloc(16 << 20, 120);
  s.append(big);
  const left = s.flush();
  t.true(left > 0, 'a paused reader cannot take 16 MB at once');
  t.is(s.nativeBuffered[0], left);
  t.true(nativeIoTotals()!.outputQueued >= left, 'the total counts what waits for the kernel');
  t.true(nativeIoTotals()!.outputAllocated >= left);
  client.resume();
  await rec.until(() => rec.drains > 0, 10_000);
  t.deepEqual(s.nativeBuffered, [0, 0], 'the in-flight buffer is given back after the write');
  s.destroy();
  await rec.until(() => rec.closes.length > 0);
});

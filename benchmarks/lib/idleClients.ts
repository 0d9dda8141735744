/**
 * A child process of benchmarks/connections.ts: opens `count` client connections to
 * 127.0.0.1:`port` from source address `source` (a 127.0.0.x: each has its own range of
 * ephemeral ports), sends one PING on each and waits for +PONG (so every connection has been
 * used once, as a real client's would), then keeps them idle until the parent says `close`.
 * Several of these run at once: one process holds at most its fd limit of sockets.
 *
 * Messages to the parent: { opened, failed, ms } once all are up; { error } on a fatal error.
 */
import net from 'node:net';

const [portArg, countArg, source, concurrencyArg] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const concurrency = Number(concurrencyArg ?? 256);
const sockets: net.Socket[] = [];
let failed = 0;

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: source });
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      if (!ok) {
        failed++;
        s.destroy();
      }
      resolve();
    };
    s.setNoDelay(true);
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
    s.once('connect', () => s.write('*1\r\n$4\r\nPING\r\n')); // RESP: Twemproxy has no inline commands
    s.once('data', (d: Buffer) => {
      if (d.toString() === '+PONG\r\n') {
        sockets.push(s);
        finish(true);
      } else finish(false);
    });
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      next++;
      await openOne();
    }
  });
  await Promise.all(lanes);
  process.send!({ opened: sockets.length, failed, ms: Date.now() - started });
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'close') {
    for (const s of sockets) s.destroy();
    setTimeout(() => process.exit(0), 50);
  }
});
process.on('disconnect', () => process.exit(0));
main().catch((err: Error) => {
  process.send!({ error: err.message });
  process.exit(1);
});

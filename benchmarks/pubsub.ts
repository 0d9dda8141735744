/**
 * Pub/sub fan-out, direct redis-server vs Kvstore, in one run:
 *
 *   npm run build && node dist/benchmarks/pubsub.js [subscribers, default 1000] [seconds per cell, default 5] [rounds, default 2] [workers: 1|auto, default 1]
 *
 * N subscribers (raw sockets in this process) SUBSCRIBE one channel; one publisher sends PUBLISH
 * in windows of 20 (waits for the 20 replies, then goes again). Each message carries its send
 * time (process.hrtime, fixed width), so every delivery gives a latency. Reported: deliveries
 * per second (messages x subscribers) and the p99 delivery latency.
 *
 * Direct = one redis-server; Kvstore = `kvstore start` with 1 (or auto) workers over 3
 * redis-servers. Systems alternate cell by cell; medians over the rounds. Everything started here
 * is stopped at the end (by pid).
 */
import net from 'node:net';
import { installSignalCleanup, stopAll } from './lib/processes';
import { Server, startRedisServer } from './lib/servers';
import { startKvstore } from './lib/kvstore';
import { median } from './lib/stats';
import { RawClient, encodeCommand } from '../test/helpers/raw';

const WINDOW = 20;
const CHANNEL = 'bench';
const STAMP = 20; // digits of the send time in ns
/** A delivered frame: *3 $7 message $5 bench $20 <stamp>. */
const FRAME_LEN = Buffer.byteLength(`*3\r\n$7\r\nmessage\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n$${STAMP}\r\n${'0'.repeat(STAMP)}\r\n`);
const STAMP_AT = FRAME_LEN - STAMP - 2;

interface Cell {
  deliveriesPerSec: number;
  p99Ms: number;
}

async function subscribe(port: number, n: number): Promise<{ sockets: net.Socket[]; latencies: number[]; delivered: () => number }> {
  const latencies: number[] = [];
  let delivered = 0;
  const sockets: net.Socket[] = [];
  let confirmed = 0;
  for (let i = 0; i < n; i++) {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    let pending: Buffer | null = null;
    let confirmedThis = false;
    s.on('data', (d: Buffer) => {
      let buf = pending ? Buffer.concat([pending, d]) : d;
      if (!confirmedThis) {
        const end = buf.indexOf(':1\r\n');
        if (end < 0) {
          pending = buf;
          return;
        }
        confirmedThis = true;
        confirmed++;
        buf = buf.subarray(end + 4);
      }
      const now = process.hrtime.bigint();
      let pos = 0;
      for (; pos + FRAME_LEN <= buf.length; pos += FRAME_LEN) {
        const sent = BigInt(buf.toString('latin1', pos + STAMP_AT, pos + STAMP_AT + STAMP));
        latencies.push(Number(now - sent) / 1e6);
        delivered++;
      }
      pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : null;
    });
    s.write(encodeCommand(['SUBSCRIBE', CHANNEL]));
    sockets.push(s);
    if (i % 500 === 499) await new Promise((r) => setTimeout(r, 10));
  }
  const deadline = Date.now() + 30_000;
  while (confirmed < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (confirmed < n) throw new Error(`only ${confirmed} of ${n} subscribers confirmed`);
  return { sockets, latencies, delivered: () => delivered };
}

async function fanOut(port: number, subscribers: number, seconds: number): Promise<Cell> {
  const subs = await subscribe(port, subscribers);
  const pub = await RawClient.connect(port);
  let published = 0;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  while (Date.now() < deadline) {
    const batch: Buffer[] = [];
    for (let i = 0; i < WINDOW; i++) batch.push(encodeCommand(['PUBLISH', CHANNEL, process.hrtime.bigint().toString().padStart(STAMP, '0')]));
    pub.write(Buffer.concat(batch));
    await pub.replies(WINDOW);
    published += WINDOW;
  }
  // Let the last deliveries arrive.
  const expected = published * subscribers;
  const settle = Date.now() + 10_000;
  while (subs.delivered() < expected && Date.now() < settle) await new Promise((r) => setTimeout(r, 20));
  const elapsed = (Date.now() - started) / 1000;
  pub.close();
  subs.sockets.forEach((s) => s.destroy());
  const sorted = subs.latencies.sort((a, b) => a - b);
  if (subs.delivered() !== expected) console.error(`warning: ${subs.delivered()} of ${expected} deliveries arrived`);
  return { deliveriesPerSec: subs.delivered() / elapsed, p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? NaN };
}

async function main(): Promise<void> {
  const subscribers = Number(process.argv[2] ?? 1000);
  const seconds = Number(process.argv[3] ?? 5);
  const rounds = Number(process.argv[4] ?? 2);
  const workers = process.argv[5] === 'auto' ? 'auto' : 1;
  installSignalCleanup();
  try {
    const direct = await startRedisServer('direct');
    const shards: Server[] = await Promise.all([0, 1, 2].map((i) => startRedisServer(`shard${i}`)));
    const kvName = `kvstore-${workers}`;
    const kvstore = await startKvstore(kvName, workers, shards);
    const systems: [string, number][] = [['redis', direct.port], [kvName, kvstore.port]];
    const cells: Record<string, Cell[]> = {};
    await fanOut(kvstore.port, Math.min(subscribers, 100), 1); // warm-up
    for (let r = 0; r < rounds; r++) for (const [name, port] of systems) (cells[name] ??= []).push(await fanOut(port, subscribers, seconds));
    console.log(`| system | deliveries/s | p99 delivery latency (ms) |`);
    console.log(`| --- | ---: | ---: |`);
    for (const [name] of systems) {
      const list = cells[name];
      console.log(`| ${name} | ${Math.round(median(list.map((c) => c.deliveriesPerSec))!)} | ${median(list.map((c) => c.p99Ms))!.toFixed(2)} |`);
    }
    console.log(`\n${subscribers} subscribers on one channel, publisher windows of ${WINDOW}, ${seconds} s per cell, median of ${rounds} rounds, systems interleaved.`);
  } finally {
    await stopAll();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

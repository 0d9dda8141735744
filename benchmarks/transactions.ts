/**
 * Transactions and blocking commands, direct Redis vs Kvstore, in one run:
 *
 *   npm run build && node dist/benchmarks/transactions.js [seconds per cell, default 5] [rounds, default 2]
 *
 * - MULTI / SET / INCR / EXEC: 50 clients, each sends the four commands in one write and waits
 *   for the four replies (keys of one client in one slot); transactions per second.
 * - BLPOP / LPUSH ping-pong: 25 pairs; one client of a pair blocks in BLPOP, the other pushes
 *   once it is blocked, and the pair goes again when the pop is answered; round trips per second.
 *
 * Direct = one redis-server; Kvstore = `kvstore start` with 1 worker over 3 redis-servers (the
 * same build as this checkout). The systems alternate cell by cell; medians over the rounds.
 * Everything started here is stopped at the end (by pid).
 */
import { installSignalCleanup, stopAll } from './lib/processes';
import { Server, startRedisServer } from './lib/servers';
import { startKvstore } from './lib/kvstore';
import { median } from './lib/stats';
import { RawClient, encodeCommand } from '../test/helpers/raw';

const TX_CLIENTS = 50;
const PAIRS = 25;

async function transactions(port: number, seconds: number): Promise<number> {
  const clients = await Promise.all(Array.from({ length: TX_CLIENTS }, () => RawClient.connect(port)));
  let done = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(clients.map(async (c, n) => {
    const batch = Buffer.concat([['MULTI'], ['SET', `{tx${n}}k`, 'v'], ['INCR', `{tx${n}}c`], ['EXEC']].map((x) => encodeCommand(x)));
    while (Date.now() < deadline) {
      c.write(batch);
      const replies = await c.replies(4);
      if (replies[3][0] !== 0x2a) throw new Error(`EXEC failed: ${replies[3].toString()}`);
      done++;
    }
  }));
  clients.forEach((c) => c.close());
  return done / seconds;
}

async function pingPong(port: number, seconds: number): Promise<number> {
  const poppers = await Promise.all(Array.from({ length: PAIRS }, () => RawClient.connect(port)));
  const pushers = await Promise.all(Array.from({ length: PAIRS }, () => RawClient.connect(port)));
  let done = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(poppers.map(async (popper, n) => {
    const pusher = pushers[n];
    const pop = encodeCommand(['BLPOP', `pp${n}`, '0']);
    const push = encodeCommand(['LPUSH', `pp${n}`, 'x']);
    while (Date.now() < deadline) {
      popper.write(pop);
      // Push right away: the pop is either blocked already or finds the element (both are a round trip).
      pusher.write(push);
      await pusher.reply();
      const r = await popper.reply();
      if (r[0] !== 0x2a) throw new Error(`BLPOP failed: ${r.toString()}`);
      done++;
    }
  }));
  [...poppers, ...pushers].forEach((c) => c.close());
  return done / seconds;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const rounds = Number(process.argv[3] ?? 2);
  installSignalCleanup();
  try {
    const direct = await startRedisServer('direct');
    const shards: Server[] = await Promise.all([0, 1, 2].map((i) => startRedisServer(`shard${i}`)));
    const kvstore = await startKvstore('kvstore-1', 1, shards);
    const systems: [string, number][] = [['redis', direct.port], ['kvstore-1', kvstore.port]];
    const results: Record<string, Record<string, number[]>> = { 'MULTI/SET/INCR/EXEC (tx/s)': {}, 'BLPOP/LPUSH ping-pong (round trips/s)': {} };
    await transactions(kvstore.port, 1); // warm-up
    await pingPong(kvstore.port, 1);
    for (let r = 0; r < rounds; r++) {
      for (const [name, port] of systems) (results['MULTI/SET/INCR/EXEC (tx/s)'][name] ??= []).push(await transactions(port, seconds));
      for (const [name, port] of systems) (results['BLPOP/LPUSH ping-pong (round trips/s)'][name] ??= []).push(await pingPong(port, seconds));
    }
    console.log(`| workload | redis direct | kvstore-1 | kvstore / direct |`);
    console.log(`| --- | ---: | ---: | ---: |`);
    for (const [workload, bySystem] of Object.entries(results)) {
      const d = median(bySystem.redis)!;
      const k = median(bySystem['kvstore-1'])!;
      console.log(`| ${workload} | ${Math.round(d)} | ${Math.round(k)} | ${(k / d).toFixed(2)} |`);
    }
    console.log(`\n${TX_CLIENTS} transaction clients, ${PAIRS} ping-pong pairs, ${seconds} s per cell, median of ${rounds} rounds, systems interleaved.`);
  } finally {
    await stopAll();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

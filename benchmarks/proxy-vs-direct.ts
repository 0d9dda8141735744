/**
 * redis-benchmark against one direct redis-server, Twemproxy (nutcracker) over 3 shards and
 * Kvstore (one in-process worker) over the same 3 shards, in one run:
 *
 *   npm run build && node dist/benchmarks/proxy-vs-direct.js [requests, default 400000]
 *
 * Prints requests/second for SET and GET at -P 1 and -P 16 with 50 clients. Keys are random
 * (-r 100000) so they spread over the shards.
 *
 * Measured 2026-11-25 on the shared 2-core dev VM (load average ~30 from other jobs, so expect
 * +-20% run to run), 400,000 requests, native hot path, one kvstore worker:
 *   redis (direct, 1 server)   -P 1   SET  44713/s  GET  53079/s
 *   twemproxy (3 shards)       -P 1   SET  46926/s  GET  41434/s
 *   kvstore (3 shards)         -P 1   SET  60615/s  GET  49110/s
 *   redis (direct, 1 server)   -P 16  SET 197726/s  GET 382775/s
 *   twemproxy (3 shards)       -P 16  SET 236128/s  GET 219660/s
 *   kvstore (3 shards)         -P 16  SET 305344/s  GET 324939/s
 * The brief's command (`-t set,get -P 16 -c 50 -n 200000 -q`, one key, so one shard):
 * kvstore SET 342k/s GET 314k/s, direct redis SET 673k/s GET 717k/s. The proxy's CPU goes
 * mostly to write(2) on loopback; ~0.08 socket writes per command at -P 16.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProxy } from '../test/helpers/proxy';
import { freePort, waitForPort } from '../test/helpers/ports';

function benchmark(port: number, pipeline: number, requests: number): Promise<Record<string, number>> {
  return new Promise((resolve) => {
    const args = ['-p', String(port), '-t', 'set,get', '-P', String(pipeline), '-c', '50', '-n', String(requests), '-r', '100000', '--csv'];
    const child = spawn('redis-benchmark', args);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', () => {
      const result: Record<string, number> = {};
      for (const line of out.split('\n')) {
        const m = /^"(\w+)","([\d.]+)"/.exec(line);
        if (m) result[m[1]] = Number(m[2]);
      }
      resolve(result);
    });
  });
}

async function startTwemproxy(shards: string[]): Promise<{ port: number; stop: () => void } | null> {
  const binary = spawnSync('sh', ['-c', 'command -v nutcracker'], { encoding: 'utf8' }).stdout.trim();
  if (!binary) return null;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-twem-'));
  const conf = path.join(dir, 'nutcracker.yml');
  fs.writeFileSync(
    conf,
    ['bench:', `  listen: 127.0.0.1:${port}`, '  hash: fnv1a_64', '  distribution: ketama', '  redis: true', '  servers:', ...shards.map((s, i) => `   - ${s}:1 s${i}`)].join('\n') + '\n',
  );
  const child = spawn(binary, ['-c', conf, '-s', String(await freePort()), '-o', path.join(dir, 'log')], { stdio: 'ignore' });
  await waitForPort(port);
  return {
    port,
    stop: () => {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 400_000);
  const teardowns: (() => Promise<void> | void)[] = [];
  const t = { teardown: (fn: () => Promise<void> | void) => teardowns.push(fn) };
  try {
    const kv = await startProxy(t, { shards: 3 });
    const twem = await startTwemproxy(kv.redis.map((r) => r.address));
    if (twem) teardowns.push(twem.stop);
    const targets: [string, number][] = [
      ['redis (direct, 1 server)', kv.redis[0].port],
      ...(twem ? [['twemproxy (3 shards)', twem.port] as [string, number]] : []),
      [`kvstore (3 shards, native=${kv.proxy.nativeEnabled})`, kv.port],
    ];
    // Warm the proxy's JIT first (the first ~100k requests run much slower than steady state).
    await benchmark(kv.port, 16, 200_000);
    const rows: string[] = [];
    for (const pipeline of [1, 16]) {
      for (const [name, port] of targets) {
        const r = await benchmark(port, pipeline, requests);
        rows.push(`${name.padEnd(36)} -P ${String(pipeline).padEnd(3)} SET ${String(Math.round(r.SET ?? 0)).padStart(8)}/s  GET ${String(Math.round(r.GET ?? 0)).padStart(8)}/s`);
        console.log(rows[rows.length - 1]);
      }
    }
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

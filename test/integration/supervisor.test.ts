/**
 * The supervisor as users run it: `kvstore start` (primary + node:cluster workers) over real
 * redis-servers. Workers share one port; a killed worker is replaced while the other's clients
 * carry on; SIGTERM drains without losing acknowledged requests; topology changes are acked by
 * every worker before the admin call returns; SIGHUP reloads live. Serial: each test runs a
 * primary with workers and redis-servers, and the machine may have only two cores.
 */
import test from 'ava';
import net from 'node:net';
import Redis from 'ioredis';
import { eventually, startKvstore } from '../helpers/kvstore';
import { startRedis } from '../helpers/redis';

/** A raw connection that answers one-line replies (+OK, :n, -ERR), one request at a time. */
class LineClient {
  private buffer = '';
  private waiting: Array<(line: string | null) => void> = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      let i: number;
      while ((i = this.buffer.indexOf('\r\n')) >= 0 && this.waiting.length) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        this.waiting.shift()!(line);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w(null);
    });
    socket.on('error', () => undefined);
  }
  static connect(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }
  /** Send one command; resolves with its reply line, or null if the connection closed. */
  send(...args: string[]): Promise<string | null> {
    if (this.closed) return Promise.resolve(null);
    const p = new Promise<string | null>((resolve) => this.waiting.push(resolve));
    this.socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    return p;
  }
  close(): void {
    this.socket.destroy();
  }
}

test.serial('two workers share one port and both receive connections', async (t) => {
  const kv = await startKvstore(t, { workers: 2 });
  const pids = await kv.workerPids();
  t.is(pids.length, 2);
  t.not(pids[0], pids[1]);

  const clients = await Promise.all(Array.from({ length: 20 }, () => LineClient.connect(kv.port)));
  t.teardown(() => clients.forEach((c) => c.close()));
  for (const [i, c] of clients.entries()) t.is(await c.send('SET', `k${i}`, `v${i}`), '+OK');

  const stats = (await kv.admin('GET', '/stats')).body;
  t.is(stats.workers.length, 2);
  t.deepEqual(stats.workers.map((w: { pid: number }) => w.pid).sort(), [...pids].sort());
  for (const w of stats.workers) t.true(w.totalConnections > 0, `worker ${w.pid} got no connection: ${JSON.stringify(stats.workers)}`);
  // Clients handed over by the primary (node:cluster) are still taken over by the addon's sockets.
  const expectNativeIo = process.env.KVSTORE_IO !== 'node' && process.env.KVSTORE_NATIVE !== '0';
  for (const w of stats.workers) t.is(w.nativeIo, expectNativeIo);
  t.is(stats.workers.reduce((n: number, w: { clients: number }) => n + w.clients, 0), 20);
  t.is(stats.clients, 20);
  t.true(stats.commands.set.calls >= 20);
});

test.serial('a killed worker is replaced; the other worker\'s clients are untouched', async (t) => {
  const kv = await startKvstore(t, { workers: 2 });
  const clients = await Promise.all(Array.from({ length: 16 }, () => LineClient.connect(kv.port)));
  t.teardown(() => clients.forEach((c) => c.close()));
  for (const c of clients) t.is(await c.send('PING'), '+PONG');

  const before = (await kv.admin('GET', '/stats')).body;
  const [victim, survivor] = before.workers as Array<{ id: number; pid: number; clients: number }>;
  t.true(victim.clients > 0 && survivor.clients > 0, JSON.stringify(before.workers));
  process.kill(victim.pid, 'SIGKILL');

  // exactly the victim's clients are disconnected
  await eventually(() => clients.filter((c) => c.closed).length === victim.clients, 10_000, 'victim clients to close');
  const alive = clients.filter((c) => !c.closed);
  t.is(alive.length, survivor.clients);
  for (const [i, c] of alive.entries()) t.is(await c.send('SET', `after-kill-${i}`, 'x'), '+OK');

  // the worker comes back with a new pid, and serves
  const workers = await eventually(async () => {
    const w = (await kv.admin('GET', '/workers')).body.workers as Array<{ id: number; pid: number; ready: boolean; restarts: number }>;
    const back = w.find((x) => x.id === victim.id);
    return back && back.ready && back.pid !== victim.pid ? w : undefined;
  }, 15_000, 'the worker to restart');
  t.is(workers!.find((w) => w.id === victim.id)!.restarts, 1);
  t.is(workers!.find((w) => w.id === survivor.id)!.pid, survivor.pid);
  await kv.workerPids();

  // 24: with per-worker SO_REUSEPORT sockets the kernel hashes each connection to a worker, so
  // the restarted one misses all of them with probability 2^-24 (8 gave 1 in 256)
  const fresh = await Promise.all(Array.from({ length: 24 }, () => LineClient.connect(kv.port)));
  t.teardown(() => fresh.forEach((c) => c.close()));
  for (const c of fresh) t.is(await c.send('PING'), '+PONG');
  const after = (await kv.admin('GET', '/stats')).body;
  t.is(after.workerRestarts, 1);
  t.true(after.workers.every((w: { totalConnections: number }) => w.totalConnections > 0), JSON.stringify(after.workers));
  // counters of the dead worker are kept: totals never go down
  t.true(after.totalCommands >= before.totalCommands);
});

test.serial('listen port 0 with one worker: the restarted worker serves the same port; counters in /metrics do not go down', async (t) => {
  // the helper starts kvstore with listen.port 0; the only worker's shared socket closes with it
  const kv = await startKvstore(t, { workers: 1 });
  t.is((kv.config.listen as { port: number }).port, 0);
  t.not(kv.port, 0);
  t.like((await kv.admin('GET', '/health')).body, { listen: { host: '127.0.0.1', port: kv.port }, admin: { host: '127.0.0.1', port: kv.adminPort } });
  const first = await LineClient.connect(kv.port);
  for (let i = 0; i < 10; i++) t.is(await first.send('SET', `p${i}`, 'v'), '+OK');
  const commandsTotal = async () => Number(/^kvstore_commands_total (\d+)$/m.exec((await kv.admin('GET', '/metrics')).text)?.[1]);
  const before = await commandsTotal();
  t.true(before >= 10);

  const [pid] = await kv.workerPids();
  process.kill(pid, 'SIGKILL');
  await eventually(async () => {
    const w = (await kv.admin('GET', '/workers')).body.workers as Array<{ pid: number; ready: boolean }>;
    return w[0].ready && w[0].pid !== pid;
  }, 15_000, 'the worker to restart');
  await kv.workerPids();
  first.close();

  const again = await LineClient.connect(kv.port);
  t.teardown(() => again.close());
  t.is(await again.send('GET', 'p1'), '$1');
  t.true((await commandsTotal()) >= before + 1, 'the dead worker\'s commands are still counted');
  t.is((await kv.admin('GET', '/health')).body.listen.port, kv.port);
});

test.serial('SIGTERM under load: drains, exits 0, and loses no acknowledged request', async (t) => {
  const kv = await startKvstore(t, { workers: 2 });
  const n = 8;
  const clients = await Promise.all(Array.from({ length: n }, () => LineClient.connect(kv.port)));
  t.teardown(() => clients.forEach((c) => c.close()));
  const acked = new Array(n).fill(0);
  let stop = false;
  const loops = clients.map(async (c, i) => {
    while (!stop) {
      const reply = await c.send('INCR', `load:{${i}}`);
      if (reply === null) return; // closed by the drain
      if (!reply.startsWith(':')) throw new Error(`unexpected reply ${reply}`);
      acked[i] = Number(reply.slice(1));
    }
  });
  await eventually(() => acked.every((a) => a > 50), 15_000, 'load to build up');
  kv.process.kill('SIGTERM');
  const exit = await kv.exited;
  stop = true;
  await Promise.all(loops);
  t.deepEqual(exit, { code: 0, signal: null });
  t.regex(kv.output(), /shutting down: draining workers/);

  // every acknowledged INCR is in the backends (read them directly)
  const direct = kv.redis.map((r) => new Redis(r.port, { lazyConnect: true }));
  t.teardown(() => direct.forEach((d) => d.disconnect()));
  for (let i = 0; i < n; i++) {
    const values = await Promise.all(direct.map((d) => d.get(`load:{${i}}`)));
    const stored = Number(values.find((v) => v !== null) ?? 0);
    t.true(stored >= acked[i], `client ${i}: ${acked[i]} acknowledged but ${stored} stored`);
  }
  t.true(acked.reduce((a, b) => a + b, 0) > n * 50);
});

test.serial('topology changes return only once every worker routes by the new epoch; SIGHUP and POST /reload apply live', async (t) => {
  const kv = await startKvstore(t, { shards: 3, workers: 2 });
  const topo = (await kv.admin('GET', '/topology')).body;
  t.is(topo.epoch, 1);
  // clients connected before the reloads must stay connected and keep working
  const early = await Promise.all(Array.from({ length: 4 }, () => LineClient.connect(kv.port)));
  t.teardown(() => early.forEach((c) => c.close()));
  for (const c of early) t.is(await c.send('SET', 'before-reload', '1'), '+OK');

  // drop s3 from the config and set a password; restart-only keys are reported, not applied
  kv.writeConfig({ ...kv.config, shards: (kv.config.shards as unknown[]).slice(0, 2), password: 'sekret', workers: 3 });
  const r1 = await kv.admin('POST', '/reload');
  t.is(r1.status, 200, r1.text);
  t.true(r1.body.applied.includes('password'), JSON.stringify(r1.body));
  t.true(r1.body.warnings.some((w: string) => /workers changed; it takes effect on restart/.test(w)));
  t.true(r1.body.warnings.some((w: string) => /s3 is in the topology but not in the config; it stays/.test(w)));
  t.is(r1.body.epoch, 1);
  // the password applies to new clients at once
  const client = await LineClient.connect(kv.port);
  t.teardown(() => client.close());
  t.regex((await client.send('GET', 'x'))!, /^-NOAUTH/);
  t.is(await client.send('AUTH', 'sekret'), '+OK');
  t.is(await client.send('PING'), '+PONG');

  // a new shard in the config joins with no slots
  const fourth = await startRedis();
  t.teardown(() => fourth.kill());
  kv.writeConfig({ ...kv.config, shards: [...(kv.config.shards as unknown[]), { name: 's4', master: fourth.address }] });
  const r2 = await kv.admin('POST', '/reload');
  t.is(r2.status, 200, r2.text);
  t.is(r2.body.epoch, 2);
  t.true(r2.body.applied.some((a: string) => /added s4/.test(a)), JSON.stringify(r2.body));
  t.true(r2.body.applied.includes('password'), 'password removed again');
  // the reload returned only after both workers acknowledged epoch 2
  const stats = (await kv.admin('GET', '/stats')).body;
  t.deepEqual(stats.workers.map((w: { epoch: number }) => w.epoch), [2, 2]);
  const after = (await kv.admin('GET', '/topology')).body;
  t.deepEqual(after.shards.map((s: { name: string }) => s.name), ['s1', 's2', 's3', 's4']);
  t.deepEqual(after.shards[3].slots, []);
  t.deepEqual(after.shards[0].slots, topo.shards[0].slots);

  for (const c of early) {
    t.false(c.closed);
    t.is(await c.send('EXISTS', 'before-reload'), ':1');
  }

  // SIGHUP: same path; a broken file is refused and the running config kept
  kv.writeConfig({ ...kv.config, mode: 'bogus' });
  kv.process.kill('SIGHUP');
  await eventually(() => /reload refused; keeping the running config/.test(kv.output()), 10_000, 'SIGHUP reload to be refused');
  const bad = await kv.admin('POST', '/reload');
  t.is(bad.status, 400);
  t.regex(bad.body.error.message, /mode: must be one of/);
  t.is((await kv.admin('GET', '/health')).body.status, 'ok');
});

test.serial('a taken port makes start fail with a clear message and exit 1', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const taken = (blocker.address() as net.AddressInfo).port;
  await t.throwsAsync(() => startKvstore(t, { workers: 1, config: { listen: { host: '127.0.0.1', port: taken } } }), {
    message: new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken}.*already in use`),
  });
});

test.serial('a taken admin port makes start fail with a clear message', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const taken = (blocker.address() as net.AddressInfo).port;
  await t.throwsAsync(() => startKvstore(t, { workers: 1, config: { admin: { host: '127.0.0.1', port: taken } } }), {
    message: new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken} for the admin API: already in use`),
  });
});

/**
 * The admin API: its router (routes other modules register, JSON bodies, typed errors → HTTP
 * statuses), the Prometheus output (parsed back, counters move with traffic), and the CLI
 * (`kvstore ctl topology/stats`, `check-config`, `version`) against a running kvstore.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { AdminReply, AdminServer, HttpError, mapErrorCode } from '../../src/admin/AdminServer';
import { ConfigError, KvstoreError, TopologyError } from '../../src/errors';
import { adminRequest, eventually, KVSTORE_BIN, startKvstore } from '../helpers/kvstore';

const execFileAsync = promisify(execFile);

/** A strict parser for the Prometheus text format 0.0.4 (enough to validate our output). */
function parsePrometheus(text: string): Map<string, { type: string; help: string; samples: Array<{ labels: Record<string, string>; value: number }> }> {
  const families = new Map<string, { type: string; help: string; samples: Array<{ labels: Record<string, string>; value: number }> }>();
  const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+]+|NaN|\+Inf|-Inf)$/;
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/))) {
      if (families.has(m[1])) throw new Error(`HELP for ${m[1]} twice`);
      families.set(m[1], { type: '', help: m[2], samples: [] });
    } else if ((m = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/))) {
      const f = families.get(m[1]);
      if (!f || f.type) throw new Error(`TYPE for ${m[1]} without HELP or twice`);
      f.type = m[2];
    } else if ((m = line.match(sampleRe))) {
      // A histogram's samples are <name>_bucket, <name>_sum and <name>_count.
      const base = families.has(m[1]) ? m[1] : m[1].replace(/_(bucket|sum|count)$/, '');
      const f = families.get(base);
      if (!f || !f.type || (base !== m[1] && f.type !== 'histogram')) throw new Error(`sample ${m[1]} before its TYPE`);
      const labels: Record<string, string> = {};
      if (m[3]) {
        labelRe.lastIndex = 0;
        let lm: RegExpExecArray | null;
        let consumed = 0;
        while (consumed < m[3].length && (lm = labelRe.exec(m[3]))) {
          labels[lm[1]] = lm[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
          consumed = labelRe.lastIndex;
        }
        if (consumed !== m[3].length) throw new Error(`bad labels in ${line}`);
      }
      f.samples.push({ labels, value: Number(m[4]) });
    } else {
      throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    }
  }
  return families;
}

async function startAdmin(t: { teardown(fn: () => Promise<void>): void }): Promise<AdminServer> {
  const admin = new AdminServer({ host: '127.0.0.1', port: 0 });
  await admin.listen();
  t.teardown(() => admin.close());
  return admin;
}

test('routes registered by other modules get params, query and JSON bodies', async (t) => {
  const admin = await startAdmin(t);
  admin.route('POST', '/failover', (req) => ({ shard: req.body.shard, force: req.query.get('force') === '1' }));
  admin.route('GET', '/jobs/:id', (req) => ({ id: req.params.id }));
  admin.route('GET', '/text', () => AdminReply.text('hello\n'));
  admin.route('POST', '/created', () => AdminReply.json({ ok: 1 }, 201));
  const { port } = admin.address();

  const f = await adminRequest(port, 'POST', '/failover?force=1', { shard: 's2' });
  t.is(f.status, 200);
  t.deepEqual(f.body, { shard: 's2', force: true });
  t.deepEqual((await adminRequest(port, 'GET', '/jobs/j%2F7')).body, { id: 'j/7' });
  const text = await adminRequest(port, 'GET', '/text');
  t.is(text.text, 'hello\n');
  t.is((await adminRequest(port, 'POST', '/created')).status, 201);
  t.deepEqual(admin.listRoutes().map((r) => `${r.method} ${r.path}`), ['POST /failover', 'GET /jobs/:id', 'GET /text', 'POST /created']);
});

test('typed errors map to HTTP statuses with a JSON error body', async (t) => {
  const admin = await startAdmin(t);
  class JobNotFound extends KvstoreError {
    constructor(id: string) {
      super('E_JOB_NOT_FOUND', `no job ${id}`);
    }
  }
  mapErrorCode('E_JOB_NOT_FOUND', 404);
  admin.route('POST', '/topology-error', () => {
    throw new TopologyError('shard s9 does not exist');
  });
  admin.route('POST', '/config-error', () => {
    throw new ConfigError('bad');
  });
  admin.route('GET', '/http-error', () => {
    throw new HttpError(422, 'slots must be FIRST-LAST');
  });
  admin.route('GET', '/job', () => {
    throw new JobNotFound('7');
  });
  admin.route('GET', '/bug', async () => {
    throw new Error('boom');
  });
  const { port } = admin.address();
  const r = await adminRequest(port, 'POST', '/topology-error');
  t.is(r.status, 409);
  t.deepEqual(r.body, { error: { code: 'E_TOPOLOGY', message: 'shard s9 does not exist' } });
  t.is((await adminRequest(port, 'POST', '/config-error')).status, 400);
  t.is((await adminRequest(port, 'GET', '/http-error')).status, 422);
  t.is((await adminRequest(port, 'GET', '/job')).status, 404);
  t.is((await adminRequest(port, 'GET', '/bug')).status, 500);
  const badJson = await new Promise<number>((resolve, reject) => {
    const req = require('node:http').request({ host: '127.0.0.1', port, method: 'POST', path: '/topology-error' }, (res: { statusCode: number; resume(): void }) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end('{not json');
  });
  t.is(badJson, 400);
  t.is((await adminRequest(port, 'GET', '/nope')).status, 404);
  t.is((await adminRequest(port, 'GET', '/topology-error')).status, 405);
});

test('a running kvstore: /health, /topology, /stats, /metrics (parsed; counters move) and ctl', async (t) => {
  const kv = await startKvstore(t, { shards: 3, workers: 2 });
  const health = await kv.admin('GET', '/health');
  t.is(health.status, 200);
  t.like(health.body, { status: 'ok', workers: 2, workersExpected: 2, shards: 3 });

  const topo = (await kv.admin('GET', '/topology')).body;
  t.is(topo.epoch, 1);
  t.is(topo.mode, 'cache');
  t.deepEqual(
    topo.shards.map((s: any) => [s.name, s.master, s.replicas, s.state, s.slots]),
    [
      ['s1', kv.redis[0].address, [], 'up', [[0, 5460]]],
      ['s2', kv.redis[1].address, [], 'up', [[5461, 10921]]],
      ['s3', kv.redis[2].address, [], 'up', [[10922, 16383]]],
    ],
  );

  const metrics1 = await kv.admin('GET', '/metrics');
  t.is(metrics1.status, 200);
  const m1 = parsePrometheus(metrics1.text);
  const value = (m: typeof m1, name: string, labels: Record<string, string> = {}) =>
    m.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? 0;
  t.is(m1.get('kvstore_commands_total')!.type, 'counter');
  t.is(value(m1, 'kvstore_workers'), 2);
  t.is(value(m1, 'kvstore_topology_epoch'), 1);
  t.is(m1.get('kvstore_shard_up')!.samples.length, 3);
  // Native buffers of the addon's sockets: each worker has its 1 MiB read arena.
  const nativeIo = value(m1, 'kvstore_native_io') === 1;
  t.is(value(m1, 'kvstore_native_buffered_bytes', { kind: 'read_arena' }), nativeIo ? 2 * 1024 * 1024 : 0);
  t.is(m1.get('kvstore_native_buffered_bytes')!.type, 'gauge');

  const client = new Redis(kv.port);
  t.teardown(() => client.disconnect());
  for (let i = 0; i < 25; i++) await client.set(`m${i}`, 'v');
  await client.mget('m1', 'm2', 'm3');
  await client.call('NOSUCHCOMMAND').catch(() => undefined);

  const m2 = parsePrometheus((await kv.admin('GET', '/metrics')).text);
  t.true(value(m2, 'kvstore_commands_total') >= value(m1, 'kvstore_commands_total') + 26);
  t.true(value(m2, 'kvstore_command_calls_total', { command: 'set' }) >= 25);
  t.true(value(m2, 'kvstore_command_calls_total', { command: 'mget' }) >= 1);
  t.true(value(m2, 'kvstore_connections_total') > value(m1, 'kvstore_connections_total'));
  t.true(value(m2, 'kvstore_errors_total') >= 1);
  t.is(value(m2, 'kvstore_clients'), 1);

  const stats = (await kv.admin('GET', '/stats')).body;
  t.is(stats.clients, 1);
  t.true(stats.commands.set.calls >= 25);
  t.is(Object.keys(stats.backends).length > 0, true);
  t.true(Object.values(stats.backends).some((b: any) => b.connectedWorkers > 0), JSON.stringify(stats.backends));
  if (nativeIo) {
    t.is(stats.nativeBuffers.arenaBytes, 2 * 1024 * 1024);
    t.is(stats.nativeBuffers.outputQueued, 0, 'nothing waits for the kernel when idle');
    t.true(stats.nativeBuffers.streams >= 1, 'the client and the backend connections are native streams');
    t.true(stats.workers.every((w: any) => w.nativeBuffers.arenaBytes === 1024 * 1024));
  }

  // ops/s is sampled about once a second over all workers
  let busy = true;
  const load = (async () => {
    while (busy) await client.incr('ops');
  })();
  const ops = await eventually(async () => (await kv.admin('GET', '/stats')).body.opsPerSec, 10_000, 'ops/s to be measured');
  busy = false;
  await load;
  t.true(ops > 0);

  // the CLI over the same API
  const env = { ...process.env, KVSTORE_LOG_LEVEL: 'silent' };
  const admin = `127.0.0.1:${kv.adminPort}`;
  const topoJson = await execFileAsync(process.execPath, [KVSTORE_BIN, 'ctl', '--admin', admin, 'topology', '--json'], { env });
  // Backend health counters move between the two reads; the topology itself must be identical.
  const withoutHealth = ({ backends: _b, ...rest }: Record<string, unknown>) => rest;
  t.deepEqual(withoutHealth(JSON.parse(topoJson.stdout)), withoutHealth(topo));
  const topoText = await execFileAsync(process.execPath, [KVSTORE_BIN, 'ctl', '--admin', admin, 'topology'], { env });
  t.regex(topoText.stdout, /^epoch 1 {2}mode cache {2}hash crc16\n/);
  t.regex(topoText.stdout, /s2 +up +127\.0\.0\.1:\d+ +- +5461-10921 \(5461\)/);
  const statsJson = JSON.parse((await execFileAsync(process.execPath, [KVSTORE_BIN, 'ctl', '--admin', admin, 'stats', '--json'], { env })).stdout);
  t.is(statsJson.workers.length, 2);
  t.true(statsJson.commands.set.calls >= 25);
  const statsText = (await execFileAsync(process.execPath, [KVSTORE_BIN, 'ctl', `--admin=${admin}`, 'stats'], { env })).stdout;
  t.regex(statsText, /WORKER +PID +EPOCH/);
  t.regex(statsText, /\nset +\d+ +0 +\d+ +\d+ +\d+\n/, 'calls, errors, then p50/p99/p99.9 in µs');
  const workersJson = JSON.parse((await execFileAsync(process.execPath, [KVSTORE_BIN, 'ctl', '--admin', admin, 'workers', '--json'], { env })).stdout);
  t.deepEqual(workersJson.workers.map((w: { pid: number }) => w.pid).sort(), statsJson.workers.map((w: { pid: number }) => w.pid).sort());
  const viaConfig = await execFileAsync(process.execPath, [KVSTORE_BIN, 'ctl', '--config', kv.configFile, 'health'], { env });
  t.regex(viaConfig.stdout, /^ok: epoch 1, 2 worker\(s\) ready/);
});

test('kvstore ctl, check-config and version: exit codes and messages', async (t) => {
  const env = { ...process.env, KVSTORE_LOG_LEVEL: 'silent' };
  const run = async (...args: string[]) => {
    try {
      const r = await execFileAsync(process.execPath, [KVSTORE_BIN, ...args], { env });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout, err: e.stderr };
    }
  };
  const version = await run('version');
  t.is(version.code, 0);
  t.regex(version.out, /^kvstore \d+\.\d+\.\d+ \(node v\d+/);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const good = path.join(dir, 'good.yaml');
  fs.writeFileSync(good, 'workers: 2\nshards:\n  - { name: s1, master: 127.0.0.1:6379 }\n');
  const ok = await run('check-config', good);
  t.is(ok.code, 0);
  t.regex(ok.out, /good\.yaml: OK — 1 shard\(s\), mode cache, hash crc16, workers 2/);
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'workers: none\nshards:\n  - { name: s1, master: 127.0.0.1:6379 }\n  - { name: s1, master: 127.0.0.1:6380 }\n');
  const r = await run('check-config', bad);
  t.is(r.code, 1);
  t.regex(r.err, /bad\.yaml: invalid config:\n {2}- workers: must be "auto"/);
  t.is((await run('check-config')).code, 2);
  t.is((await run('frobnicate')).code, 2);

  const unreachable = await run('ctl', '--admin', '127.0.0.1:1', 'topology');
  t.is(unreachable.code, 1);
  t.regex(unreachable.err, /cannot reach the admin API at 127\.0\.0\.1:1/);
  const unknown = await run('ctl', 'no-such-verb');
  t.is(unknown.code, 2);
  t.regex(unknown.err, /unknown command "no-such-verb"; known: .*topology/);
  const help = await run('ctl', 'help');
  t.regex(help.out, /topology \[--json\]/);
  t.regex(help.out, /stats \[--json\]/);
});

/**
 * Online import (src/import/) end to end: the real program (primary + workers) over 3 shards, a
 * source redis-server with keys of every type, TTLs and big keys, a concurrent writer on the
 * source, `kvstore ctl import ... --wait`, a deletion during the live phase, `ctl import
 * --cutover`, then every key compared (type, value, TTL within 1 s) both ways.
 *
 * The ava tests use IMPORT_TEST_KEYS keys (default 20,000) to stay within the suite's time
 * under load; benchmarks/import.ts runs the same scenario with 100,000 keys and reports keys/s
 * and the source's latency.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main';
import { RespClient } from '../../src/resp';
import type { ImportInfo } from '../../src/import/types';
import { allKeys, compareKeys, populate, startWriter } from '../helpers/importData';
import { adminRequest, eventually, KVSTORE_BIN, KvstoreProcess, startKvstore } from '../helpers/kvstore';
import { readPortFile } from '../../src/supervisor/portFile';
import { startRedis } from '../helpers/redis';
import { trackPid, untrackPid } from '../helpers/reaper';

const KEYS = Number(process.env.IMPORT_TEST_KEYS ?? 20_000);

async function ctl(kv: { adminPort: number }, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['ctl', '--admin', `127.0.0.1:${kv.adminPort}`, ...args], { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function status(kv: { adminPort: number }): Promise<ImportInfo> {
  return (await adminRequest(kv.adminPort, 'GET', '/import')).body.import;
}

test('import: every type, TTLs, big keys, under a concurrent writer; live deletes; cutover leaves both sides equal', async (t) => {
  const source = await startRedis();
  t.teardown(() => source.stop());
  const kv = await startKvstore(t, { shards: 3, workers: 2 });
  const src = new RespClient(source.address);
  const writerConn = new RespClient(source.address);
  const proxy = new RespClient(`127.0.0.1:${kv.port}`);
  t.teardown(() => [src, writerConn, proxy].forEach((c) => c.close()));
  await src.command(['CONFIG', 'SET', 'notify-keyspace-events', 'Ex']);
  await populate(src, KEYS, 5000);
  await src.command(['SET', 'k:doomed', 'soon gone']);
  // A key Kvstore holds already: onExisting skip keeps Kvstore's value.
  await src.command(['SET', 'k:clash', 'from the source']);
  await proxy.command(['SET', 'k:clash', 'kvstore had it']);

  const writer = startWriter(writerConn, KEYS, 2000);
  t.teardown(() => writer.stop());
  const started = Date.now();
  // --big-key-bytes 50000: the 5,000-element hash/set/zset go through the chunked copy.
  const run = await ctl(kv, 'import', '--from', source.address, '--on-existing', 'skip', '--big-key-bytes', '50000', '--wait');
  t.is(run.code, 0, run.err);
  const caughtUp = await status(kv);
  t.log(`full pass of ${caughtUp.keysCopied} keys (+${caughtUp.liveCopied} live) in ${((Date.now() - started) / 1000).toFixed(1)} s under ${writer.ops} writer ops; ${caughtUp.keysPerSecond} keys/s`);
  // --wait printed the status that ended it (the writer keeps going, so by now more may be pending).
  t.regex(run.out.split('\n').pop()!, /: running \(live\) .* caught up/);
  t.is(caughtUp.phase, 'live');
  t.is(caughtUp.bigKeys, 3, 'hash, set and zset above the threshold were copied in chunks');
  t.is(caughtUp.keysSkipped, 1);

  // The source's notification setting was extended (E and x kept, K and A added).
  const flags = String(((await src.command(['CONFIG', 'GET', 'notify-keyspace-events'])) as Buffer[])[1]);
  t.true(flags.includes('K') && flags.includes('E'), flags);

  // Live phase: a deletion and an update on the source reach Kvstore.
  t.is(String(await proxy.command(['GET', 'k:doomed'])), 'soon gone');
  await src.command(['DEL', 'k:doomed']);
  await src.command(['SET', 'k:late', 'written in the live phase', 'PX', 90_000]);
  await eventually(async () => (await proxy.command(['EXISTS', 'k:doomed'])) === 0, 10_000, 'the deletion to reach Kvstore');
  await eventually(async () => String(await proxy.command(['GET', 'k:late'])) === 'written in the live phase', 10_000, 'the live write');

  const listed = await ctl(kv, 'jobs');
  t.regex(listed.out, /import \d+\s+import \(live\)/);

  // The application stops writing to the source, then cuts over.
  await writer.stop();
  const cut = await ctl(kv, 'import', '--cutover');
  t.is(cut.code, 0, cut.err);
  t.regex(cut.out, /cutover requested: \d+ key\(s\) pending, lag \d+ ms/);
  const done = await status(kv);
  t.is(done.state, 'done');
  t.is(done.pending, 0);
  t.true(done.liveCopied > 0 && done.liveDeleted > 0, `live copied ${done.liveCopied}, deleted ${done.liveDeleted}`);
  t.is(String(((await src.command(['CONFIG', 'GET', 'notify-keyspace-events'])) as Buffer[])[1]), 'xE', 'restored');

  // Every source key is in Kvstore with the same type, value and TTL (±1 s) ...
  const sourceKeys = (await allKeys(src)).filter((k) => k.toString() !== 'k:clash');
  const cmp = await compareKeys(src, proxy, sourceKeys);
  t.deepEqual(cmp.missing.slice(0, 10), [], `${cmp.missing.length} missing`);
  t.deepEqual(cmp.different.slice(0, 10), [], `${cmp.different.length} different`);
  t.deepEqual(cmp.ttlOff.slice(0, 10), [], `${cmp.ttlOff.length} TTLs off`);
  t.log(`${cmp.keys} keys equal; largest TTL difference ${cmp.maxTtlDiffMs} ms`);
  // ... and Kvstore holds nothing else (no temporary names left, no key the source deleted).
  const kvKeys = await allKeys(proxy);
  t.is(kvKeys.length, sourceKeys.length + 1);
  t.is(String(await proxy.command(['GET', 'k:clash'])), 'kvstore had it');
  t.is(await proxy.command(['EXISTS', 'k:doomed']), 0);
});

/** Start the primary again on an existing config (same state dir, same ports). */
async function restartPrimary(t: { teardown(fn: () => void | Promise<void>): void }, kv: KvstoreProcess): Promise<{ port: number; adminPort: number }> {
  let output = '';
  const child = spawn(process.execPath, [KVSTORE_BIN, 'start', '-c', kv.configFile], { env: { ...process.env, KVSTORE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  trackPid(child.pid);
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    untrackPid(child.pid);
    resolve();
  }));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  // Ports 0 in the config: the new primary's ports are in ports.json once it serves.
  const ports = await eventually(() => {
    const file = readPortFile(String(kv.config.stateDir));
    return file && file.pid === child.pid ? { port: file.listen.port, adminPort: file.admin.port } : null;
  }, 30_000, `restarted kvstore to serve:\n${output}`) as { port: number; adminPort: number };
  await eventually(async () => (await adminRequest(ports.adminPort, 'GET', '/health')).body?.status === 'ok', 30_000, `restarted kvstore to be healthy:\n${output}`);
  return ports;
}

test('import: a proxy killed mid-pass resumes the import from its saved cursor, then refreshes', async (t) => {
  const source = await startRedis();
  t.teardown(() => source.stop());
  const kv = await startKvstore(t, { shards: 3, workers: 1 });
  const src = new RespClient(source.address);
  const writerConn = new RespClient(source.address);
  t.teardown(() => [src, writerConn].forEach((c) => c.close()));
  const count = Math.min(KEYS, 10_000);
  await populate(src, count);

  // Paced so the kill lands mid-pass.
  const started = await ctl(kv, 'import', '--from', source.address, '--rate', '2500', '--on-existing', 'replace');
  t.is(started.code, 0, started.err);
  const saved = () => JSON.parse(fs.readFileSync(path.join(String(kv.config.stateDir), 'import.json'), 'utf8'));
  await eventually(async () => (await status(kv)).keysCopied >= count / 4 && saved().cursor !== '0', 20_000, 'a quarter of the pass, persisted');
  const writer = startWriter(writerConn, count, 500);
  t.teardown(() => writer.stop());
  const workers = await kv.workerPids();
  kv.process.kill('SIGKILL');
  await kv.exited;
  // Workers leave when their primary is gone; wait for them (the listener port is reused).
  await eventually(() => workers.every((pid) => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }), 15_000, 'the old workers to exit');
  const before = saved();
  t.is(fs.statSync(path.join(String(kv.config.stateDir), 'import.json')).mode & 0o777, 0o600, 'it may hold the source password');
  t.is(before.info.state, 'running');
  t.is(before.info.phase, 'copy');
  t.not(before.cursor, '0', 'the cursor was persisted');

  const restarted = await restartPrimary(t, kv);
  const resumed = await eventually(async () => {
    const s = await status(restarted);
    return s && s.resumed === 1 && s.caughtUp ? s : null;
  }, 60_000, 'the resumed import to catch up');
  t.true(resumed!.passes >= 2, 'the interrupted pass finished, then a refresh pass ran');
  await writer.stop();
  const cut = await ctl(restarted, 'import', '--cutover');
  t.is(cut.code, 0, cut.err);
  const proxy = new RespClient(`127.0.0.1:${restarted.port}`);
  t.teardown(() => proxy.close());
  const keys = await allKeys(src);
  const cmp = await compareKeys(src, proxy, keys);
  t.deepEqual(cmp.missing.slice(0, 10), [], `${cmp.missing.length} missing`);
  t.deepEqual(cmp.different.slice(0, 10), [], `${cmp.different.length} different`);
  t.deepEqual(cmp.ttlOff.slice(0, 10), [], `${cmp.ttlOff.length} TTLs off`);
});

test('import: onExisting fail refuses before copying anything; cancel and errors through ctl', async (t) => {
  const source = await startRedis();
  t.teardown(() => source.stop());
  const kv = await startKvstore(t, { shards: 3, workers: 1 });
  const src = new RespClient(source.address);
  const proxy = new RespClient(`127.0.0.1:${kv.port}`);
  t.teardown(() => [src, proxy].forEach((c) => c.close()));
  await populate(src, 500, 0, 'app:');
  await proxy.command(['SET', 'app:7', 'taken']);

  const failed = await ctl(kv, 'import', '--from', source.address, '--on-existing', 'fail', '--wait');
  t.is(failed.code, 1);
  t.regex(failed.err, /1 key\(s\) of the source exist in Kvstore already \(onExisting: fail\), e\.g\. "app:7"; nothing was copied/);
  t.is(await proxy.command(['DBSIZE']), 1);
  t.is(String(((await src.command(['CONFIG', 'GET', 'notify-keyspace-events'])) as Buffer[])[1]), '', 'the source setting is restored');

  const usage = await ctl(kv, 'import', '--rate', 'fast', '--from', source.address);
  t.is(usage.code, 2);
  t.regex(usage.err, /--rate needs a whole number/);
  const early = await ctl(kv, 'import', '--cutover');
  t.not(early.code, 0);
  t.regex(early.err, /no import is running/);

  // --match and --strip-prefix: app:N becomes N in Kvstore; then cancel in the live phase.
  const started = await ctl(kv, 'import', '--from', source.address, '--match', 'app:1*', '--strip-prefix', 'app:', '--on-existing', 'replace', '--wait');
  t.is(started.code, 0, started.err);
  t.is(String(await proxy.command(['GET', '16'])), String(await src.command(['GET', 'app:16'])));
  t.deepEqual(await proxy.command(['LRANGE', '1', 0, -1]), await src.command(['LRANGE', 'app:1', 0, -1]));
  t.is(await proxy.command(['EXISTS', '2']), 0, 'app:2 does not match app:1*');
  // The subscription drops (here: killed on the source): the job subscribes again and runs a
  // refresh pass, so what changed meanwhile still arrives.
  const passesBefore = (await status(kv)).passes;
  await src.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
  await src.command(['SET', 'app:1-after-the-drop', 'still copied']);
  await eventually(async () => String(await proxy.command(['GET', '1-after-the-drop'])) === 'still copied', 15_000, 'the change after the dropped subscription');
  await eventually(async () => (await status(kv)).passes > passesBefore && (await status(kv)).phase === 'live', 15_000, 'the refresh pass');
  await src.command(['SET', 'app:1-later', 'live again']);
  await eventually(async () => String(await proxy.command(['GET', '1-later'])) === 'live again', 15_000, 'live changes on the new subscription');

  const again = await ctl(kv, 'import', '--from', source.address);
  t.not(again.code, 0);
  t.regex(again.err, /import \d+ is running/);
  const cancelled = await ctl(kv, 'import', '--cancel');
  t.is(cancelled.code, 0, cancelled.err);
  t.regex(cancelled.out, /cancelled/);
  const st = await ctl(kv, 'import-status', '--json');
  t.is(JSON.parse(st.out).state, 'cancelled');
});

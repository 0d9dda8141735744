/**
 * The release as a user gets it: `build.sh version X --out TMP` writes the tarball; unpacked
 * elsewhere, `./kv_store.sh start` brings up 3 shards (master + replica, 6371-6376) and the proxy
 * (7400, admin 7500), `./test_all` passes, `./kv_store.sh stop` stops it and no process is left.
 * Those ports are fixed by the interface: when something else holds one, the test cannot run (it
 * never touches processes it did not start), and it never reports a pass it did not earn:
 * - with CI set (CI=true, as CI services do) it FAILS: a CI machine has those ports free, and a
 *   packaging test that quietly does not run would let a broken release through;
 * - otherwise (a developer's machine, where a `./kv_store.sh start` of their own may be up) it is
 *   declared SKIPPED, with the busy ports in its title, so the summary shows it did not run.
 * The check runs when the file loads (ava declares tests synchronously, so it runs in a child
 * process); a port taken later, between the check and `kv_store.sh start`, fails the test.
 */
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/kvstore';

const execFileAsync = promisify(execFile);
const FIXED_PORTS = [6371, 6372, 6373, 6374, 6375, 6376, 7400, 7500];

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The fixed ports something accepts connections on, checked synchronously (in a child node). */
function busyFixedPorts(): number[] {
  const probe = `
    const net = require('node:net');
    const ports = ${JSON.stringify(FIXED_PORTS)};
    Promise.all(ports.map((port) => new Promise((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(port); });
      s.once('error', () => resolve(null));
    }))).then((r) => process.stdout.write(JSON.stringify(r.filter((p) => p !== null))));`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`cannot check the fixed ports: ${r.stderr || r.error}`);
  return JSON.parse(r.stdout) as number[];
}

const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
const busyAtLoad = busyFixedPorts();
const TITLE = 'build.sh tarball: unpack, kv_store.sh start, test_all, kv_store.sh stop, nothing left behind';
const BUSY = `port(s) ${busyAtLoad.join(', ')} in use by other processes; the packaging test needs 6371-6376, 7400 and 7500 free`;
if (busyAtLoad.length && !inCi) process.stderr.write(`packaging.test: SKIPPED: ${BUSY}\n`);
const declare = busyAtLoad.length && !inCi ? test.skip : test;

/** Running = exists and is not a zombie (exited daemons wait for PID 1 to reap them). */
function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Pids whose command line mentions `needle` (Linux /proc). */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) found.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return found;
}

function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return kids;
}

declare(busyAtLoad.length ? `${TITLE} (SKIPPED: ${BUSY})` : TITLE, async (t) => {
  if (busyAtLoad.length) {
    t.fail(`CI is set and ${BUSY}`);
    return;
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-pkg-'));
  const out = path.join(work, 'out');
  const unpack = path.join(work, 'unpacked');
  fs.mkdirSync(unpack, { recursive: true });
  const env = { ...process.env };
  delete env.KVSTORE_LOG_LEVEL;
  delete env.KVSTORE_LOCAL_DIR;
  const home = () => path.join(unpack, 'kvstore-9.9.9');
  t.teardown(() => {
    // if the test failed midway: stop exactly what this copy started, then remove it
    if (fs.existsSync(path.join(home(), 'kv_store.sh'))) spawnSync(path.join(home(), 'kv_store.sh'), ['stop'], { cwd: home(), stdio: 'ignore' });
    fs.rmSync(work, { recursive: true, force: true });
  });

  await execFileAsync(path.join(REPO_ROOT, 'build.sh'), ['version', '9.9.9', '--out', out, '--prebuilt'], { cwd: REPO_ROOT, env, maxBuffer: 16 * 1024 * 1024 });
  const tarball = path.join(out, 'kvstore-9.9.9.tar.gz');
  t.true(fs.existsSync(tarball));
  await execFileAsync('tar', ['-xzf', tarball, '-C', unpack]);
  for (const f of ['bin/kvstore', 'kv_store.sh', 'test_all', 'samples/kvstore.yaml', 'README.md', 'build/Release/kvstore_native.node', 'node_modules/convict', 'dist/src/cli/main.js']) {
    t.true(fs.existsSync(path.join(home(), f)), `${f} missing from the tarball`);
  }
  t.false(fs.existsSync(path.join(home(), 'node_modules', 'ava')), 'dev dependencies were packaged');
  t.false(fs.existsSync(path.join(home(), 'src')), 'TypeScript sources were packaged');

  const version = await execFileAsync(path.join(home(), 'bin', 'kvstore'), ['version'], { cwd: home(), env });
  t.regex(version.stdout, /^kvstore 9\.9\.9 /);

  const started = await execFileAsync(path.join(home(), 'kv_store.sh'), ['start'], { cwd: home(), env }).catch((err) => err);
  if (/already in use by other processes/.test(started.stderr ?? '')) {
    // another run took the fixed ports between our check and the start (e.g. a parallel suite)
    t.fail(`the fixed ports were taken by another process during the test, it could not run: ${started.stderr.trim()}`);
    return;
  }
  t.falsy(started.code, `kv_store.sh start failed:\n${started.stdout}\n${started.stderr}`);
  t.regex(started.stdout, /redis-cli -p 7400/);
  const status = await execFileAsync(path.join(home(), 'kv_store.sh'), ['status'], { cwd: home(), env });
  t.is(status.stdout.match(/redis-server .* running/g)?.length, 6, status.stdout);
  t.regex(status.stdout, /kvstore +127\.0\.0\.1:7400 +pid \d+ +running/);

  const run = path.join(home(), '.kvstore-local');
  const proxyPid = Number(fs.readFileSync(path.join(run, 'kvstore.pid'), 'utf8'));
  const pids = [proxyPid, ...childrenOf(proxyPid), ...FIXED_PORTS.slice(0, 6).map((p) => Number(fs.readFileSync(path.join(run, `redis-${p}.pid`), 'utf8')))];
  t.true(pids.length >= 8, `expected the proxy, its workers and 6 redis-servers: ${pids}`);
  t.true(pids.every(pidAlive));

  const checked = await execFileAsync(path.join(home(), 'test_all'), ['-h', '127.0.0.1', '-p', '7400'], { cwd: home(), env }).catch((err) => err);
  t.regex(checked.stdout, /PASSED ALL TEST/, checked.stdout);

  const topo = JSON.parse((await execFileAsync(path.join(home(), 'bin', 'kvstore'), ['ctl', 'topology', '--json'], { cwd: home(), env })).stdout);
  t.deepEqual(
    topo.shards.map((s: { name: string; master: string; replicas: string[] }) => [s.name, s.master, s.replicas]),
    [
      ['s1', '127.0.0.1:6371', ['127.0.0.1:6372']],
      ['s2', '127.0.0.1:6373', ['127.0.0.1:6374']],
      ['s3', '127.0.0.1:6375', ['127.0.0.1:6376']],
    ],
  );

  const stopped = await execFileAsync(path.join(home(), 'kv_store.sh'), ['stop'], { cwd: home(), env });
  t.regex(stopped.stdout, /stopped/);
  t.deepEqual(pids.filter(pidAlive), [], 'processes left after stop');
  t.deepEqual(processesMentioning(home()), [], 'processes still running from the unpacked release');
  for (const p of FIXED_PORTS) t.false(await portInUse(p), `port ${p} still in use after stop`);
});

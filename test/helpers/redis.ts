/**
 * Real redis-servers for tests: each on a free loopback port, in its own temp dir, without
 * persistence unless asked, stopped by PID (never by name) when the test ends.
 * redis-server cannot bind port 0 and report it, so a port is picked free first; another test
 * may take it before redis-server binds it. Start waits until the server answering on the port
 * is ours (its own log says ready), and on a lost race (ours exited) starts again on another port.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports';
import { trackPid, untrackPid } from './reaper';

export interface RedisProcess {
  port: number;
  address: string; // "127.0.0.1:port"
  pid: number;
  dir: string;
  /** SIGTERM and wait for exit (idempotent). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would (idempotent). */
  kill(): Promise<void>;
  /** Start again on the same port and dir (after stop/kill). */
  restart(): Promise<void>;
  process(): ChildProcess;
}

export interface RedisOptions {
  port?: number;
  args?: string[];
  persistence?: boolean;
}

export function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('redis-server not found: run `bash scripts/install-deps.sh` (installs Debian\'s redis-server)');
  return found;
}

/**
 * Resolve once `child` itself serves `port`: its own log (in its own dir) says it is ready, not
 * merely something accepting on the port. Reject when it exited first (e.g. the port was taken).
 */
async function waitForOwnServer(child: ChildProcess, port: number, logfile: string, logFrom: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new PortLostError(port);
    let log = '';
    try {
      log = fs.readFileSync(logfile).subarray(logFrom).toString('utf8'); // this run's lines only (restart appends)
    } catch {
      /* not written yet */
    }
    if (/Ready to accept connections/.test(log)) return waitForPort(port, '127.0.0.1', Math.max(1000, deadline - Date.now()));
    if (Date.now() > deadline) throw new Error(`redis-server (pid ${child.pid}) not serving 127.0.0.1:${port} after ${timeoutMs} ms:\n${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

class PortLostError extends Error {
  constructor(readonly port: number) {
    super(`redis-server exited before serving 127.0.0.1:${port} (port taken?)`);
  }
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisProcess> {
  if (options.port !== undefined) return startRedisOn(options.port, options);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOn(await freePort(), options);
    } catch (err) {
      if (!(err instanceof PortLostError) || attempt >= 5) throw err;
    }
  }
}

async function startRedisOn(port: number, options: RedisOptions): Promise<RedisProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kvstore-redis-${port}-`));
  const binary = redisServerBinary();
  let child: ChildProcess;
  let exited: Promise<void>;

  const launch = async () => {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--daemonize', 'no',
      '--logfile', path.join(dir, 'redis.log'),
      ...(options.persistence ? [] : ['--save', '', '--appendonly', 'no']),
      ...(options.args ?? []),
    ];
    const logfile = path.join(dir, 'redis.log');
    const logFrom = fs.existsSync(logfile) ? fs.statSync(logfile).size : 0;
    child = spawn(binary, args, { stdio: 'ignore' });
    const pid = child.pid;
    trackPid(pid);
    exited = new Promise((resolve) => child.once('exit', () => {
      untrackPid(pid);
      resolve();
    }));
    await waitForOwnServer(child, port, logfile, logFrom);
  };

  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await exited;
  };

  try {
    await launch();
  } catch (err) {
    await signal('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const handle: RedisProcess = {
    port,
    address: `127.0.0.1:${port}`,
    get pid() {
      return child.pid!;
    },
    dir,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    restart: async () => {
      await signal('SIGTERM');
      await launch();
    },
    process: () => child,
  };
  return handle;
}

/** `n` redis-servers; all are stopped (by PID) and their dirs removed at teardown. */
export async function startRedisGroup(n: number, teardown: (fn: () => Promise<void>) => void, options: RedisOptions = {}): Promise<RedisProcess[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => startRedis(options)));
  teardown(async () => {
    await Promise.all(servers.map((s) => s.kill()));
    for (const s of servers) fs.rmSync(s.dir, { recursive: true, force: true });
  });
  return servers;
}

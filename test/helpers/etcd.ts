/**
 * Real etcd servers for tests (Debian's etcd-server, etcd 3.4): each member on free loopback
 * ports (client and peer), in its own temp data dir, stopped by PID (never by name) when the
 * test ends. `startEtcd` starts one member; `startEtcdCluster(3)` a 3-member cluster for the
 * fault tests (one member killed must change nothing).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports';
import { trackPid, untrackPid } from './reaper';

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  /** "127.0.0.1:port", as `coordination.etcd.endpoints` takes it. */
  endpoint: string;
  dir: string;
  readonly pid: number;
  /** SIGKILL, as a crash would (idempotent). */
  kill(): Promise<void>;
  /** SIGTERM and wait (idempotent). */
  stop(): Promise<void>;
  /** Start again with the same ports and data dir (rejoins its cluster). */
  restart(): Promise<void>;
  process(): ChildProcess;
}

export interface EtcdCluster {
  members: EtcdMember[];
  endpoints: string[];
  /** Kill every member and remove the data dirs. */
  destroy(): Promise<void>;
}

export function etcdBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v etcd || ls /usr/bin/etcd 2>/dev/null'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  if (!found) throw new Error('etcd not found: run `bash scripts/install-deps.sh` (installs Debian\'s etcd-server)');
  return found;
}

interface Planned {
  name: string;
  clientPort: number;
  peerPort: number;
}

function launchMember(p: Planned, initialCluster: string, token: string): EtcdMember {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kvstore-etcd-${p.clientPort}-`));
  const binary = etcdBinary();
  let child: ChildProcess;
  let exited: Promise<void>;
  let state = 'new';
  const launch = () => {
    const log = fs.openSync(path.join(dir, 'etcd.log'), 'a');
    const args = [
      '--name', p.name,
      '--data-dir', path.join(dir, 'data'),
      '--listen-client-urls', `http://127.0.0.1:${p.clientPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${p.clientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${p.peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peerPort}`,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', state,
      '--initial-cluster-token', token,
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ];
    child = spawn(binary, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    state = 'existing';
    const pid = child.pid;
    trackPid(pid);
    const c = child;
    exited = new Promise((resolve) => c.once('exit', () => {
      untrackPid(pid);
      resolve();
    }));
  };
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await exited;
  };
  launch();
  return {
    name: p.name,
    clientPort: p.clientPort,
    peerPort: p.peerPort,
    endpoint: `127.0.0.1:${p.clientPort}`,
    dir,
    get pid() {
      return child.pid!;
    },
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    restart: async () => {
      await signal('SIGTERM');
      launch();
      await waitForPort(p.clientPort);
    },
    process: () => child,
  };
}

/** Resolve when the cluster answers a linearizable read (it has a leader). */
async function waitHealthy(endpoints: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = spawnSync('etcdctl', ['--endpoints', endpoints.join(','), '--command-timeout=2s', 'endpoint', 'health'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
    if (r.status === 0) return;
    if (Date.now() > deadline) throw new Error(`etcd at ${endpoints.join(',')} not healthy after ${timeoutMs} ms: ${r.stderr || r.stdout}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** An etcd cluster of `size` members on loopback; destroyed at teardown. */
export async function startEtcdCluster(size: number, teardown: (fn: () => Promise<void>) => void): Promise<EtcdCluster> {
  const planned: Planned[] = [];
  for (let i = 1; i <= size; i++) planned.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
  const initialCluster = planned.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
  const token = `kvstore-test-${process.pid}-${planned[0].clientPort}`;
  const members = planned.map((p) => launchMember(p, initialCluster, token));
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    async destroy() {
      await Promise.all(members.map((m) => m.kill()));
      for (const m of members) fs.rmSync(m.dir, { recursive: true, force: true });
    },
  };
  teardown(() => cluster.destroy());
  await Promise.all(members.map((m) => waitForPort(m.clientPort, '127.0.0.1', 20_000)));
  await waitHealthy(cluster.endpoints);
  return cluster;
}

/** One etcd member (a cluster of one). */
export async function startEtcd(teardown: (fn: () => Promise<void>) => void): Promise<EtcdMember> {
  return (await startEtcdCluster(1, teardown)).members[0];
}

/** redis-server and Twemproxy processes for the suite: loopback only, temp dirs, no persistence. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../../test/helpers/ports';
import { lastStderr, registerTempDir, startProcess, Started } from './processes';

export interface Server {
  name: string;
  port: number;
  address: string;
  process: Started;
}

export function which(binary: string, fallbacks: string[] = []): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).stdout?.trim();
  if (found) return found;
  return fallbacks.find((f) => fs.existsSync(f)) ?? null;
}

export function makeTempDir(prefix: string): string {
  return registerTempDir(fs.mkdtempSync(path.join(os.tmpdir(), `kvstore-bench-${prefix}-`)));
}

async function waitOrExplain(p: Started, port: number, timeoutMs: number): Promise<void> {
  const exited = p.exited.then(() => {
    throw new Error(`${p.name} exited during start: ${lastStderr(p).trim().slice(-500)}`);
  });
  await Promise.race([waitForPort(port, '127.0.0.1', timeoutMs), exited]);
}

/** A certificate and key for a TLS listener, and the CA that signed the certificate. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * A redis-server; with `tls`, on its TLS port only (`--port 0 --tls-port`, clients not asked for
 * certificates): `port` is then the TLS port.
 */
export async function startRedisServer(name: string, options: { tls?: TlsFiles } = {}): Promise<Server> {
  const binary = which('redis-server');
  if (!binary) throw new Error('redis-server not found: run `bash scripts/install-deps.sh`');
  const port = await freePort();
  const dir = makeTempDir(name);
  const tls = options.tls;
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const p = startProcess(name, binary, [
    ...listen,
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--daemonize', 'no',
    '--save', '',
    '--appendonly', 'no',
    '--logfile', path.join(dir, 'redis.log'),
  ]);
  await waitOrExplain(p, port, 10_000);
  return { name, port, address: `127.0.0.1:${port}`, process: p };
}

export function twemproxyBinary(): string | null {
  return which('nutcracker', ['/usr/sbin/nutcracker']);
}

/** The nutcracker YAML for one pool over `shards` (keys hashed whole unless they hold {tags}). */
export function twemproxyConfig(listenPort: number, shards: Server[], distribution: 'ketama' | 'modula'): string {
  return [
    'kvbench:',
    `  listen: 127.0.0.1:${listenPort}`,
    '  hash: fnv1a_64',
    `  distribution: ${distribution}`,
    '  hash_tag: "{}"',
    '  redis: true',
    '  auto_eject_hosts: false',
    '  server_connections: 1',
    '  preconnect: true',
    '  timeout: 5000',
    '  servers:',
    ...shards.map((s) => `    - ${s.address}:1 ${s.name}`),
    '',
  ].join('\n');
}

export async function startTwemproxy(binary: string, shards: Server[], distribution: 'ketama' | 'modula'): Promise<Server> {
  const port = await freePort();
  const statsPort = await freePort();
  const dir = makeTempDir('twemproxy');
  const conf = path.join(dir, 'nutcracker.yml');
  fs.writeFileSync(conf, twemproxyConfig(port, shards, distribution));
  const p = startProcess('twemproxy', binary, [
    '-c', conf,
    '-o', path.join(dir, 'nutcracker.log'),
    '-p', path.join(dir, 'nutcracker.pid'),
    '-s', String(statsPort),
    '-a', '127.0.0.1',
    '-v', '4',
  ]);
  await waitOrExplain(p, port, 10_000);
  return { name: 'twemproxy', port, address: `127.0.0.1:${port}`, process: p };
}

/**
 * Replication primitives on plain redis-servers: read a server's role and offset, promote,
 * repoint, pause and resume writes. Each call opens its own short-lived connection with a hard
 * timeout (control traffic is rare; a stuck connection must never stall a failover).
 */
import { BackendError } from '../errors';
import { parseAddress, parseInfo, RespClient } from '../resp';

/** How failover reaches a server: one hard timeout for connect and for each command, and AUTH. */
export interface ControlOptions {
  timeoutMs: number;
  username?: string;
  password?: string;
  /** backend.tls: connect over TLS with these options. */
  tls?: import('node:tls').ConnectionOptions;
}

/**
 * A control connection as failover wants it (the shared src/resp/RespClient): text replies
 * (`strings: false` for binary key names), the timeout on connect and on every command, and no
 * reconnect: after one failure the client stays failed, so a decision sees it and stops.
 */
export function connectControl(address: string, options: ControlOptions, strings = true): Promise<RespClient> {
  const { timeoutMs, username, password, tls } = options;
  return RespClient.connect(address, { connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs, username, password, strings, reconnect: false, tls });
}

export interface ReplicationInfo {
  address: string;
  role: 'master' | 'slave';
  /** For a replica: how far it has processed its master's stream; for a master: its own offset. */
  offset: number;
  masterHost?: string;
  masterPort?: number;
  masterLinkUp?: boolean;
  connectedReplicas?: number;
}

export async function withClient<T>(address: string, options: ControlOptions, fn: (c: RespClient) => Promise<T>): Promise<T> {
  const client = await connectControl(address, options);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export async function replicationInfo(address: string, options: ControlOptions): Promise<ReplicationInfo> {
  const text = await withClient(address, options, (c) => c.command(['INFO', 'replication']));
  if (typeof text !== 'string') throw new BackendError(`${address}: INFO replication gave no text`, undefined, address);
  const info = parseInfo(text);
  if (info.role === 'master') {
    return { address, role: 'master', offset: Number(info.master_repl_offset ?? 0), connectedReplicas: Number(info.connected_slaves ?? 0) };
  }
  return {
    address,
    role: 'slave',
    offset: Number(info.slave_repl_offset ?? 0),
    masterHost: info.master_host,
    masterPort: Number(info.master_port),
    masterLinkUp: info.master_link_status === 'up',
  };
}

/** Is `info` a replica of `master` ("host:port")? */
export function isReplicaOf(info: ReplicationInfo, master: string): boolean {
  const { host, port } = parseAddress(master);
  return info.role === 'slave' && info.masterPort === port && sameHost(info.masterHost ?? '', host);
}

function sameHost(a: string, b: string): boolean {
  const norm = (h: string) => (h === 'localhost' || h === '::1' ? '127.0.0.1' : h);
  return norm(a) === norm(b);
}

export async function promote(address: string, options: ControlOptions): Promise<void> {
  await withClient(address, options, (c) => c.command(['REPLICAOF', 'NO', 'ONE']));
}

export async function replicate(address: string, master: string, options: ControlOptions): Promise<void> {
  const { host, port } = parseAddress(master);
  await withClient(address, options, (c) => c.command(['REPLICAOF', host, port]));
}

/**
 * Replication primitives on plain redis-servers: read a server's role and offset, promote,
 * repoint, pause and resume writes. Each call opens its own short-lived connection with a hard
 * timeout (control traffic is rare; a stuck connection must never stall a failover).
 */
import { BackendError } from '../errors';
import { RespClient, RespClientOptions, parseAddress, parseInfo } from './RespClient';

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

export async function withClient<T>(address: string, options: RespClientOptions, fn: (c: RespClient) => Promise<T>): Promise<T> {
  const client = await RespClient.connect(address, options);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export async function replicationInfo(address: string, options: RespClientOptions): Promise<ReplicationInfo> {
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

export async function promote(address: string, options: RespClientOptions): Promise<void> {
  await withClient(address, options, (c) => c.command(['REPLICAOF', 'NO', 'ONE']));
}

export async function replicate(address: string, master: string, options: RespClientOptions): Promise<void> {
  const { host, port } = parseAddress(master);
  await withClient(address, options, (c) => c.command(['REPLICAOF', host, port]));
}

/**
 * Checks that span several keys (the schema checks each key alone). Each problem is one line a
 * person can act on: what is wrong, where, and what to do.
 */
import { canonicalAddress, listenersCollide, parseAddress } from './address';
import type { KvstoreConfig } from './types';

export function crossKeyProblems(config: KvstoreConfig): string[] {
  const problems: string[] = [];

  // Shard names must be unique: they are how the admin API and topology refer to shards.
  const names = new Map<string, number>();
  config.shards.forEach((s, i) => {
    const prev = names.get(s.name);
    if (prev !== undefined) problems.push(`shards: shard ${i + 1} reuses the name "${s.name}" of shard ${prev + 1}; shard names must be unique`);
    else names.set(s.name, i);
  });

  // A redis-server may belong to exactly one shard, in one role.
  const owners = new Map<string, string>();
  config.shards.forEach((s) => {
    const roles: Array<[string, string]> = [[s.master, `master of shard "${s.name}"`], ...s.replicas.map((r): [string, string] => [r, `replica of shard "${s.name}"`])];
    for (const [address, role] of roles) {
      const key = canonicalAddress(address);
      const prev = owners.get(key);
      if (prev) problems.push(`shards: ${address} is both the ${prev} and the ${role}; each redis-server may appear once`);
      else owners.set(key, role);
    }
  });

  // The proxy and admin API must not collide with each other or with a backend.
  if (listenersCollide(config.listen, config.admin)) {
    problems.push(`admin.port: ${config.admin.port} is also listen.port; give the admin API its own port (e.g. ${config.listen.port + 100})`);
  }
  for (const [key, role] of owners) {
    const [host, port] = key.split('|');
    const backend = { host, port: Number(port) };
    if (listenersCollide(config.listen, backend)) problems.push(`listen: ${config.listen.host}:${config.listen.port} is also the address of the ${role}; the proxy would talk to itself`);
    if (listenersCollide(config.admin, backend)) problems.push(`admin: ${config.admin.host}:${config.admin.port} is also the address of the ${role}`);
  }

  if (config.tls.port !== 0) {
    const tlsListen = { host: config.listen.host, port: config.tls.port };
    if (listenersCollide(config.listen, tlsListen)) problems.push(`tls.port: ${config.tls.port} is also listen.port; give the TLS listener its own port (or listen.port: 0 for TLS only)`);
    if (listenersCollide(config.admin, tlsListen)) problems.push(`tls.port: ${config.tls.port} is also admin.port`);
    if (!config.tls.certFile || !config.tls.keyFile) problems.push('tls: tls.port is set but tls.certFile or tls.keyFile is empty; both are needed');
    if (config.tls.requireClientCert && !config.tls.caFile) problems.push('tls.requireClientCert needs tls.caFile (the CA that signs the client certificates)');
  }
  if (config.backend.tls.enabled && (config.backend.tls.certFile === '') !== (config.backend.tls.keyFile === '')) {
    problems.push('backend.tls: certFile and keyFile go together (a client certificate needs its key)');
  }
  if (config.password !== '' && config.users.some((u) => u.name === 'default')) {
    problems.push('users: "default" is listed and password is set; give the default user its password in its rules (">secret") and leave password empty');
  }

  const sentinelSeen = new Set<string>();
  for (const s of config.sentinels) {
    const key = canonicalAddress(s);
    if (sentinelSeen.has(key)) problems.push(`sentinels: ${s} is listed twice`);
    sentinelSeen.add(key);
    if (owners.has(key)) problems.push(`sentinels: ${s} is also the ${owners.get(key)}`);
  }
  if (config.sentinels.length > 0 && config.mode !== 'store') {
    problems.push('sentinels: Sentinel-driven failover needs mode: store (cache mode ejects failed shards instead); remove sentinels or set mode: store');
  }

  const { limits, health, timeouts } = config;
  if (limits.maxBulkBytes > limits.maxRequestBytes) {
    problems.push(`limits.maxBulkBytes (${limits.maxBulkBytes}) is larger than limits.maxRequestBytes (${limits.maxRequestBytes}); a request holds its bulk strings, so raise maxRequestBytes or lower maxBulkBytes`);
  }
  if (limits.maxInlineBytes > limits.maxRequestBytes) {
    problems.push(`limits.maxInlineBytes (${limits.maxInlineBytes}) is larger than limits.maxRequestBytes (${limits.maxRequestBytes})`);
  }
  if (health.timeoutMs > health.intervalMs * 10) {
    problems.push(`health.timeoutMs (${health.timeoutMs}) is more than 10x health.intervalMs (${health.intervalMs}); checks would pile up`);
  }
  if (timeouts.connectMs > timeouts.requestMs * 10) {
    problems.push(`timeouts.connectMs (${timeouts.connectMs}) is more than 10x timeouts.requestMs (${timeouts.requestMs})`);
  }
  if (config.backend.password === '' && config.backend.username !== '') {
    problems.push('backend.username is set but backend.password is empty; ACL users need a password (AUTH username password)');
  }
  const etcd = config.coordination.etcd;
  const etcdSeen = new Set<string>();
  for (const e of etcd.endpoints) {
    const key = canonicalAddress(e);
    if (etcdSeen.has(key)) problems.push(`coordination.etcd.endpoints: ${e} is listed twice`);
    etcdSeen.add(key);
    if (owners.has(key)) problems.push(`coordination.etcd.endpoints: ${e} is also the ${owners.get(key)}`);
  }
  if (etcd.username !== '' && etcd.password === '') problems.push('coordination.etcd.username is set but coordination.etcd.password is empty; etcd auth needs both');
  if (etcd.endpoints.length === 0 && (etcd.username !== '' || etcd.password !== '')) problems.push('coordination.etcd: username/password are set but endpoints is empty; list the etcd endpoints (host:port) or remove the credentials');
  if (config.proxyId !== '' && !/^[\x21-\x7e]{1,128}$/.test(config.proxyId)) problems.push(`proxyId: must be 1-128 printable characters without spaces; got ${JSON.stringify(config.proxyId)}`);
  return problems;
}

/** Parsed shard addresses, for modules that need host and port apart. */
export function shardAddresses(config: KvstoreConfig): Array<{ name: string; master: { host: string; port: number }; replicas: Array<{ host: string; port: number }> }> {
  return config.shards.map((s) => ({ name: s.name, master: parseAddress(s.master), replicas: s.replicas.map(parseAddress) }));
}

/**
 * How long the control client (src/resp/RespClient.ts) takes to read big replies from a real
 * redis-server: a DUMP of a 26 MB string (random bytes, so DUMP cannot compress it) and an
 * LRANGE of 100,000 and 300,000 elements. With `--baseline DIR` (a built checkout, or a copy of
 * its `dist`) that checkout's RespClient runs the same reads, interleaved (baseline, this, this,
 * baseline), so both see the same machine load. `--tls`: over the server's tls-port (the reads
 * then come in TLS records of at most 16 KB, as from a backend with backend.tls).
 *
 *   npm run build && node dist/benchmarks/resp-client-big-reply.js [--baseline ../main/dist] [--mb 26] [--tls]
 *
 * Prints the wall time of each read; not a test (no assertion on time).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RespClient as CurrentClient } from '../src/resp';
import { freePort } from '../test/helpers/ports';
import { startRedis } from '../test/helpers/redis';
import { makeCertificates } from '../test/helpers/tls';

type Client = Pick<CurrentClient, 'command' | 'close'>;
type ClientClass = new (address: string, options?: object) => Client;

function loadBaseline(dir: string): ClientClass {
  // A checkout (dist/src/...) or its dist directory (src/...).
  for (const candidate of [path.join(dir, 'dist', 'src', 'resp', 'RespClient.js'), path.join(dir, 'src', 'resp', 'RespClient.js')]) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      return (require(path.resolve(candidate)) as { RespClient: ClientClass }).RespClient;
    } catch {
      /* try the next layout */
    }
  }
  throw new Error(`no built RespClient under ${dir}`);
}

async function timed(Cls: ClientClass, address: string, options: object, args: string[]): Promise<{ ms: number; size: number }> {
  const client = new Cls(address, options);
  try {
    await client.command(['PING']);
    const t0 = process.hrtime.bigint();
    const reply = await client.command(args);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const size = Buffer.isBuffer(reply) ? reply.length : Array.isArray(reply) ? reply.length : -1;
    return { ms, size };
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { baseline: { type: 'string' }, mb: { type: 'string', default: '26' }, tls: { type: 'boolean', default: false } } });
  const certs = values.tls ? makeCertificates() : null;
  const tlsPort = certs ? await freePort() : 0;
  const tlsArgs = certs
    ? ['--tls-port', String(tlsPort), '--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile, '--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'no']
    : [];
  const redis = await startRedis({ args: tlsArgs });
  const address = certs ? `127.0.0.1:${tlsPort}` : redis.address;
  const options = certs ? { tls: { ca: fs.readFileSync(certs.caFile) } } : {};
  try {
    const admin = new CurrentClient(address, options);
    const mb = Number(values.mb);
    await admin.command(['CONFIG', 'SET', 'proto-max-bulk-len', String(1024 * 1024 * 1024)]);
    await admin.command(['SET', 'big', crypto.randomBytes(mb * 1024 * 1024)]);
    for (const n of [100_000, 300_000]) {
      for (let i = 0; i < n; i += 10_000) await admin.command(['RPUSH', `list${n}`, ...Array.from({ length: Math.min(10_000, n - i) }, (_, k) => `element-${i + k}`)]);
    }
    admin.close();
    const cases: Array<[string, string[]]> = [
      [`DUMP of a ${mb} MB string`, ['DUMP', 'big']],
      ['LRANGE of 100,000 elements', ['LRANGE', 'list100000', '0', '-1']],
      ['LRANGE of 300,000 elements', ['LRANGE', 'list300000', '0', '-1']],
    ];
    const systems: Array<[string, ClientClass]> = [['this checkout', CurrentClient as unknown as ClientClass]];
    if (values.baseline) systems.unshift(['baseline', loadBaseline(values.baseline)]);
    const order = systems.length === 2 ? [systems[0], systems[1], systems[1], systems[0]] : [systems[0], systems[0]];
    console.log(`${certs ? 'TLS' : 'plain TCP'}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (const [label, args] of cases) {
      for (const [name, Cls] of order) {
        const { ms, size } = await timed(Cls, address, options, args);
        console.log(`${label.padEnd(28)} ${name.padEnd(14)} ${ms.toFixed(0).padStart(7)} ms  (${size} ${args[0] === 'DUMP' ? 'bytes' : 'elements'})`);
      }
    }
    console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await redis.kill();
    fs.rmSync(redis.dir, { recursive: true, force: true });
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

/**
 * TLS to the backends (backend.tls): redis-servers listening only on their tls-port (Debian's
 * redis-server 7.0 is built with TLS), the proxy's data path over TLS sockets, and the control
 * client (health checks, failover) over TLS too.
 */
import test from 'ava';
import { oneShot } from '../../src/resp';
import { startProxy } from '../helpers/proxy';
import { freePort } from '../helpers/ports';
import { startRedis } from '../helpers/redis';
import { makeCertificates } from '../helpers/tls';
import fs from 'node:fs';

async function tlsRedis(t: { teardown(fn: () => Promise<void> | void): void }, certs: ReturnType<typeof makeCertificates>) {
  const port = await freePort();
  const server = await startRedis({
    port,
    args: ['--port', '0', '--tls-port', String(port), '--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile, '--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'optional'],
  });
  t.teardown(() => server.stop());
  return server;
}

test('the proxy talks TLS to redis-servers on their tls-port (data path and control client)', async (t) => {
  const certs = makeCertificates((fn) => t.teardown(fn));
  const servers = [await tlsRedis(t, certs), await tlsRedis(t, certs)];
  // The control client (health checks use it) over TLS; plain TCP to a TLS port gets nothing.
  t.is(await oneShot(servers[0].address, ['PING'], { tls: { ca: fs.readFileSync(certs.caFile) } }), 'PONG');
  const started = await startProxy(t, {
    servers,
    config: { backend: { tls: { enabled: true, caFile: certs.caFile, certFile: '', keyFile: '', serverName: '' } } },
  });
  const c = started.client();
  t.is(await c.set('a', '1'), 'OK');
  t.is(await c.set('b', '2'), 'OK');
  t.deepEqual(await c.mget('a', 'b', 'c'), ['1', '2', null], 'split across both TLS shards and merged');
  const p = c.pipeline();
  for (let i = 0; i < 2000; i++) p.incr(`n${i % 10}`);
  const r = (await p.exec())!;
  t.is(r[1999][1], 200);
  // A client certificate for servers that require one (tls-auth-clients yes): given, accepted.
  const withCert = await oneShot(servers[1].address, ['PING'], { tls: { ca: fs.readFileSync(certs.caFile), cert: fs.readFileSync(certs.clientCertFile), key: fs.readFileSync(certs.clientKeyFile) } });
  t.is(withCert, 'PONG');
});

test('backend.tls with the wrong CA: the shard fails with the proxy\'s backend error, not a hang', async (t) => {
  const certs = makeCertificates((fn) => t.teardown(fn));
  const other = makeCertificates((fn) => t.teardown(fn));
  const servers = [await tlsRedis(t, certs)];
  const started = await startProxy(t, { servers, config: { timeouts: { requestMs: 1000, connectMs: 1000 }, backend: { tls: { enabled: true, caFile: other.caFile, certFile: '', keyFile: '', serverName: '' } } } });
  const c = started.client();
  const err = await t.throwsAsync(c.get('a'));
  t.regex(err!.message, /^ERR Kvstore: shard 's0'/);
});

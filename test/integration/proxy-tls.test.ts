/**
 * TLS for clients: ioredis and redis-cli over the proxy's TLS listener (certificates made with
 * openssl by the test), TLS only (listen.port 0) or beside plain TCP, mutual TLS
 * (requireClientCert), certificates reloaded without dropping open connections, and a deep
 * pipeline through the TLS stream.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import tls from 'node:tls';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { freePort } from '../helpers/ports';
import { startProxy, testConfig } from '../helpers/proxy';
import { makeCertificates } from '../helpers/tls';

const run = promisify(execFile);

function tlsClient(port: number, options: tls.ConnectionOptions): Redis {
  const c = new Redis({ host: '127.0.0.1', port, tls: { host: '127.0.0.1', ...options }, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  c.on('error', () => undefined);
  return c;
}

test('ioredis and redis-cli over TLS; listen.port 0 with tls.port means TLS only', async (t) => {
  const certs = makeCertificates((fn) => t.teardown(fn));
  const tlsPort = await freePort();
  const started = await startProxy(t, { shards: 2, config: { listen: { port: 0 }, tls: { port: tlsPort, certFile: certs.certFile, keyFile: certs.keyFile } } });
  t.is(started.proxy.tlsPort, tlsPort);
  t.is(started.port, tlsPort, 'the only listener is the TLS one');
  const c = tlsClient(tlsPort, { ca: fs.readFileSync(certs.caFile) });
  t.teardown(() => c.disconnect());
  await c.connect();
  t.is(await c.set('tls:k', 'v'), 'OK');
  t.is(await c.get('tls:k'), 'v');
  t.deepEqual(await c.mget('tls:k', 'tls:other', '{x}y'), ['v', null, null]);
  // redis-cli, verifying the proxy's certificate against the CA.
  const { stdout } = await run('redis-cli', ['--tls', '--cacert', certs.caFile, '-h', '127.0.0.1', '-p', String(tlsPort), 'GET', 'tls:k']);
  t.is(stdout.trim(), 'v');
  const { stdout: info } = await run('redis-cli', ['--tls', '--cacert', certs.caFile, '-h', '127.0.0.1', '-p', String(tlsPort), 'INFO', 'proxy']);
  t.regex(info, /# Proxy/);
  // Without the CA the client refuses the proxy (the certificate is not trusted).
  const untrusted = tlsClient(tlsPort, {});
  await t.throwsAsync(untrusted.connect());
});

test('TLS beside plain TCP; a deep pipeline over TLS keeps order', async (t) => {
  const certs = makeCertificates((fn) => t.teardown(fn));
  const [plainPort, tlsPort] = [await freePort(), await freePort()];
  const started = await startProxy(t, { shards: 3, config: { listen: { port: plainPort }, tls: { port: tlsPort, certFile: certs.certFile, keyFile: certs.keyFile } } });
  t.is(started.port, plainPort);
  const plain = started.client();
  t.is(await plain.set('both', '1'), 'OK');
  const c = tlsClient(tlsPort, { ca: fs.readFileSync(certs.caFile) });
  t.teardown(() => c.disconnect());
  await c.connect();
  const pipeline = c.pipeline();
  for (let i = 0; i < 5000; i++) pipeline.set(`p:${i}`, 'x'.repeat(i % 300)).get(`p:${i}`);
  const results = (await pipeline.exec())!;
  for (let i = 0; i < 5000; i++) {
    if (results[2 * i + 1][1] !== 'x'.repeat(i % 300)) return t.fail(`reply ${i} out of order`);
  }
  t.is(await c.get('both'), '1');
});

test('requireClientCert: a client without a certificate signed by caFile is refused', async (t) => {
  const certs = makeCertificates((fn) => t.teardown(fn));
  const tlsPort = await freePort();
  await startProxy(t, { shards: 1, config: { listen: { port: 0 }, tls: { port: tlsPort, certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile, requireClientCert: true } } });
  const ca = fs.readFileSync(certs.caFile);
  // Without a client certificate: the handshake is refused (TLS 1.3 may report it only at the
  // first read), so a PING gets no answer.
  const refused = await new Promise<string>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: tlsPort, ca }, () => s.write('*1\r\n$4\r\nPING\r\n'));
    s.on('data', () => resolve('answered'));
    s.on('error', (err) => resolve(err.message));
    s.on('close', () => resolve('closed'));
    setTimeout(() => {
      s.destroy();
      resolve('no answer');
    }, 5000).unref();
  });
  t.not(refused, 'answered');
  const withCert = tlsClient(tlsPort, { ca, cert: fs.readFileSync(certs.clientCertFile), key: fs.readFileSync(certs.clientKeyFile) });
  t.teardown(() => withCert.disconnect());
  await withCert.connect();
  t.is(await withCert.ping(), 'PONG');
  const { stdout } = await run('redis-cli', ['--tls', '--cacert', certs.caFile, '--cert', certs.clientCertFile, '--key', certs.clientKeyFile, '-p', String(tlsPort), 'PING']);
  t.is(stdout.trim(), 'PONG');
});

test('reload: new certificates for new connections, open TLS connections keep working', async (t) => {
  const certs = makeCertificates((fn) => t.teardown(fn));
  const tlsPort = await freePort();
  const started = await startProxy(t, { shards: 1, config: { listen: { port: 0 }, tls: { port: tlsPort, certFile: certs.certFile, keyFile: certs.keyFile } } });
  const ca = fs.readFileSync(certs.caFile);
  const serialOf = () =>
    new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: tlsPort, ca }, () => {
        resolve(s.getPeerCertificate().serialNumber.toLowerCase());
        s.destroy();
      });
      s.on('error', reject);
    });
  const before = certs.serial();
  t.is((await serialOf()).replace(/^0+/, ''), before.replace(/^0+/, ''));
  const open = tlsClient(tlsPort, { ca });
  t.teardown(() => open.disconnect());
  await open.connect();
  t.is(await open.set('r', '1'), 'OK');
  const after = certs.renew();
  t.not(after, before);
  started.proxy.applyConfig(testConfig({ ...started.config }));
  t.is((await serialOf()).replace(/^0+/, ''), after.replace(/^0+/, ''), 'a new handshake gets the new certificate');
  t.is(await open.get('r'), '1', 'the connection opened before the reload still works');
});

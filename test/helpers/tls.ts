/**
 * Test certificates made with openssl in a temp dir: a CA, a server certificate for 127.0.0.1 /
 * localhost signed by it, and a client certificate signed by it (for requireClientCert).
 * `renew` re-issues the server certificate (new serial) to test reloads.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCertificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** Issue a new server certificate into certFile/keyFile; returns its serial (hex). */
  renew(): string;
  serial(file?: string): string;
}

function openssl(dir: string, args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function makeCertificates(teardown?: (fn: () => void) => void): TestCertificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-tls-'));
  teardown?.(() => fs.rmSync(dir, { recursive: true, force: true }));
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Kvstore Test CA']);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  const issue = (name: string, cn: string, ext: string) => {
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`, '-out', `${name}.crt`, '-days', '2', '-extfile', ext]);
  };
  issue('server', 'localhost', 'server.ext');
  issue('client', 'kvstore-test-client', 'client.ext');
  const certs: TestCertificates = {
    dir,
    caFile: path.join(dir, 'ca.crt'),
    certFile: path.join(dir, 'server.crt'),
    keyFile: path.join(dir, 'server.key'),
    clientCertFile: path.join(dir, 'client.crt'),
    clientKeyFile: path.join(dir, 'client.key'),
    renew() {
      issue('server', 'localhost', 'server.ext');
      return certs.serial();
    },
    serial(file = certs.certFile) {
      return openssl(dir, ['x509', '-in', file, '-noout', '-serial']).trim().replace(/^serial=/, '').toLowerCase();
    },
  };
  return certs;
}

/**
 * The issue #16 config keys: users (Redis ACL rule strings, checked when the config loads),
 * tls / backend.tls, slowlog, hotKeys, bigKeys, limits.*PerSec, with their defaults and the
 * problems reported (one line each).
 */
import test from 'ava';
import { parseConfig } from '../../src/config/load';
import { UserDirectory } from '../../src/security/UserDirectory';

const base = { shards: [{ name: 's1', master: '127.0.0.1:6379' }] };

function problems(raw: unknown): string {
  try {
    parseConfig(raw, { env: {} });
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

test('defaults of the security and observability keys', (t) => {
  const c = parseConfig(base, { env: {} });
  t.deepEqual(c.users, []);
  t.deepEqual(c.tls, { port: 0, certFile: '', keyFile: '', caFile: '', requireClientCert: false, minVersion: 'TLSv1.2', ciphers: '' });
  t.deepEqual(c.backend.tls, { enabled: false, caFile: '', certFile: '', keyFile: '', serverName: '' });
  t.deepEqual(c.slowlog, { slowerThanUs: 10000, maxLen: 128 });
  t.deepEqual(c.hotKeys, { hitsPerSec: 500, sampleRate: 0.01 });
  t.deepEqual(c.bigKeys, { bytes: 1048576 });
  t.is(c.limits.clientCommandsPerSec, 0);
});

test('users: the issue example loads; bad rules are reported with Redis\'s reason', (t) => {
  const c = parseConfig({ ...base, users: [{ name: 'app1', rules: 'on >secret ~app1:* %R~shared:* &news.* +@read -@dangerous' }] }, { env: {} });
  const users = UserDirectory.fromConfig(c.password, c.users);
  t.true(users.get('app1')!.checkPassword(Buffer.from('secret')));
  t.true(users.defaultAuthenticated, 'no password: the default user needs no AUTH');
  const p = problems({ ...base, users: [{ name: 'a', rules: 'on +nosuch' }, { name: 'a', rules: 'on' }, { name: 'b' }] });
  t.regex(p, /users: entry 1 \("a"\): Error in ACL SETUSER modifier '\+nosuch': Unknown command or category name in ACL/);
  t.regex(p, /entry 2 \("a"\): the user "a" is listed twice/);
  t.regex(p, /entry 3 \("b"\): must be \{ name/);
  t.regex(problems({ ...base, password: 'x', users: [{ name: 'default', rules: 'on nopass' }] }), /password/);
});

test('password keeps meaning the default user\'s password', (t) => {
  const users = UserDirectory.fromConfig('pw', []);
  t.false(users.defaultAuthenticated);
  t.true(users.defaultUser.checkPassword(Buffer.from('pw')));
  t.false(users.defaultUser.checkPassword(Buffer.from('other')));
  t.true(users.defaultUser.unrestricted);
  t.regex(users.defaultUser.describe(), /^user default on #[0-9a-f]{64} ~\* &\* \+@all$/);
});

test('tls: port collisions and missing files are reported; listen.port 0 is allowed with TLS', (t) => {
  t.regex(problems({ ...base, listen: { port: 7400 }, tls: { port: 7400, certFile: 'a', keyFile: 'b' } }), /tls.port: 7400 is also listen.port/);
  t.regex(problems({ ...base, tls: { port: 7401 } }), /tls.certFile or tls.keyFile is empty/);
  t.regex(problems({ ...base, tls: { port: 7401, certFile: 'a', keyFile: 'b', requireClientCert: true } }), /requireClientCert needs tls.caFile/);
  t.is(problems({ ...base, listen: { port: 0 }, tls: { port: 7401, certFile: 'a', keyFile: 'b' } }), '');
  t.regex(problems({ ...base, backend: { tls: { enabled: true, certFile: 'c' } } }), /certFile and keyFile go together/);
  t.regex(problems({ ...base, hotKeys: { sampleRate: 2 } }), /hotKeys.sampleRate/);
  t.regex(problems({ ...base, slowlog: { slowerThanUs: -2 } }), /slowlog.slowerThanUs/);
});

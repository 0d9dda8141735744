/**
 * The config: the issue's YAML works as is (and the same keys in JSON), defaults are complete,
 * KVSTORE_* environment overrides apply, and bad configs fail with messages that say what to fix.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfigFile, parseConfig, resolveWorkerCount } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { renderConfigDoc } from '../../scripts/gen-config-doc';

const ISSUE_YAML = `listen: { host: 127.0.0.1, port: 7400 }
workers: auto          # or a number
mode: cache            # or store
hash: crc16            # or murmur
admin: { host: 127.0.0.1, port: 7500 }
stateDir: ./state
shards:
  - { name: s1, master: 127.0.0.1:6371, replicas: [127.0.0.1:6372] }
  - { name: s2, master: 127.0.0.1:6373, replicas: [127.0.0.1:6374] }
  - { name: s3, master: 127.0.0.1:6375, replicas: [127.0.0.1:6376] }
`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-config-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function write(text: string, ext = 'yaml'): string {
  const file = path.join(tmp, `c${n++}.${ext}`);
  fs.writeFileSync(file, text);
  return file;
}
const noEnv = { env: {} };
const shard = (name: string, master: string, replicas: string[] = []) => ({ name, master, replicas });
const base = { shards: [shard('s1', '127.0.0.1:6379')] };

function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(raw, { env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

test('the YAML from the issue loads as is, with the shards in order and complete defaults', (t) => {
  const file = write(ISSUE_YAML);
  const c = loadConfigFile(file, noEnv);
  t.deepEqual(c.listen, { host: '127.0.0.1', port: 7400 });
  t.deepEqual(c.admin, { host: '127.0.0.1', port: 7500 });
  t.is(c.workers, 'auto');
  t.is(c.mode, 'cache');
  t.is(c.hash, 'crc16');
  t.is(c.stateDir, path.join(tmp, 'state')); // relative to the config file
  t.deepEqual(c.shards, [shard('s1', '127.0.0.1:6371', ['127.0.0.1:6372']), shard('s2', '127.0.0.1:6373', ['127.0.0.1:6374']), shard('s3', '127.0.0.1:6375', ['127.0.0.1:6376'])]);
  t.is(resolveWorkerCount(c), Math.max(1, os.availableParallelism()));
  // every section has its defaults
  t.is(c.password, '');
  t.is(c.limits.maxInlineBytes, 64 * 1024);
  t.true(c.timeouts.requestMs > 0 && c.timeouts.shutdownDrainMs > 0);
  t.is(c.backend.poolSize, 1);
  t.deepEqual(c.sentinels, []);
  t.is(c.crossSlot, 'slot');
});

test('the same keys in JSON give the same config; replicas may be omitted', (t) => {
  const yamlConfig = loadConfigFile(write(ISSUE_YAML), noEnv);
  const json = JSON.stringify({ ...yamlConfig, stateDir: './state' });
  const jsonConfig = loadConfigFile(write(json, 'json'), noEnv);
  t.deepEqual(jsonConfig, yamlConfig);
  const c = parseConfig({ workers: 3, shards: [{ name: 'a', master: 'localhost:6379' }, { name: 'b', master: '[::1]:6380' }] }, noEnv);
  t.deepEqual(c.shards[0].replicas, []);
  t.is(c.workers, 3);
  t.is(resolveWorkerCount(c), 3);
});

test('environment variables override the file', (t) => {
  const file = write(ISSUE_YAML);
  const c = loadConfigFile(file, {
    env: {
      KVSTORE_LISTEN_PORT: '7600',
      KVSTORE_WORKERS: '3',
      KVSTORE_MODE: 'store',
      KVSTORE_PASSWORD: 'pw',
      KVSTORE_MAX_CLIENTS: '50',
      KVSTORE_ALLOW_FLUSH: 'true',
      KVSTORE_STATE_DIR: '/var/lib/kvstore',
      KVSTORE_SHARDS: '[{"name":"x","master":"127.0.0.1:7000"}]',
      KVSTORE_SENTINELS: '127.0.0.1:26379, 127.0.0.1:26380',
    },
  });
  t.is(c.listen.port, 7600);
  t.is(c.workers, 3);
  t.is(c.mode, 'store');
  t.is(c.password, 'pw');
  t.is(c.limits.maxClients, 50);
  t.true(c.allowFlush);
  t.is(c.stateDir, '/var/lib/kvstore');
  t.deepEqual(c.shards, [shard('x', '127.0.0.1:7000')]);
  t.deepEqual(c.sentinels, ['127.0.0.1:26379', '127.0.0.1:26380']);
  t.regex(problems(base, { KVSTORE_WORKERS: 'lots' }), /workers: must be "auto" \(one worker per CPU core\) or a whole number/);
});

test('unknown keys are errors, with a suggestion', (t) => {
  t.regex(problems({ ...base, workrs: 4 }), /workrs: unknown key; did you mean "workers"\?/);
  t.regex(problems({ ...base, limits: { maxClient: 4 } }), /limits\.maxClient: unknown key; did you mean "limits\.maxClients"\?/);
  t.regex(problems({ shards: [{ name: 's1', master: '127.0.0.1:6379', replica: ['127.0.0.1:6380'] }] }), /shard 1 \("s1"\): unknown key "replica" \(allowed: name, master, replicas\)/);
});

test('bad host:port values say which entry and what is wrong', (t) => {
  t.regex(problems({ shards: [shard('s1', '127.0.0.1')] }), /shard 1 \("s1"\): master: "127\.0\.0\.1" is not "host:port"/);
  t.regex(problems({ shards: [shard('s1', '127.0.0.1:70000')] }), /master: "127\.0\.0\.1:70000": the port must be 1-65535/);
  t.regex(problems({ shards: [shard('s1', 'bad host:6379')] }), /"bad host" is not an IP address or a host name/);
  t.regex(problems({ shards: [shard('s1', '127.0.0.1:6379', ['127.0.0.1:x'])] }), /shard 1 \("s1"\): replica 1: "127\.0\.0\.1:x" is not "host:port"/);
  t.regex(problems({ ...base, listen: { host: 'not a host!', port: 7400 } }), /listen\.host: "not a host!" is not an IP address or a host name/);
  t.regex(problems({ ...base, listen: 7400 }), /listen: must be a section with keys host, port; got 7400/);
  t.regex(problems({ ...base, sentinels: ['127.0.0.1'] }), /sentinels: entry 1: "127\.0\.0\.1" is not "host:port"/);
});

test('duplicate shard names and overlapping addresses are refused', (t) => {
  t.regex(problems({ shards: [shard('a', '127.0.0.1:6379'), shard('a', '127.0.0.1:6380')] }), /shard 2 reuses the name "a" of shard 1; shard names must be unique/);
  t.regex(problems({ shards: [shard('a', '127.0.0.1:6379'), shard('b', 'localhost:6379')] }), /localhost:6379 is both the master of shard "a" and the master of shard "b"/);
  t.regex(problems({ shards: [shard('a', '127.0.0.1:6379', ['127.0.0.1:6380']), shard('b', '127.0.0.1:6380')] }), /127\.0\.0\.1:6380 is both the replica of shard "a" and the master of shard "b"/);
  t.regex(problems({ shards: [shard('a', '127.0.0.1:6379', ['127.0.0.1:6379'])] }), /is both the master of shard "a" and the replica of shard "a"/);
  t.regex(problems({ ...base, listen: { host: '127.0.0.1', port: 7400 }, admin: { host: '0.0.0.0', port: 7400 } }), /admin\.port: 7400 is also listen\.port/);
  t.regex(problems({ ...base, listen: { host: '127.0.0.1', port: 6379 } }), /listen: 127\.0\.0\.1:6379 is also the address of the master of shard "s1"; the proxy would talk to itself/);
});

test('enums, numbers and cross-key rules give actionable messages', (t) => {
  t.regex(problems({ ...base, mode: 'cahce' }), /mode: must be one of the possible values: \["cache","store"\]; got "cahce"/);
  t.regex(problems({ ...base, hash: 'md5' }), /hash: must be one of the possible values: \["crc16","murmur"\]/);
  t.regex(problems({ ...base, workers: 0 }), /workers: must be "auto" \(one worker per CPU core\) or a whole number from 1 to 1024/);
  t.regex(problems({ ...base, limits: { maxPipeline: -1 } }), /limits\.maxPipeline: must be a whole number of at least 1/);
  t.regex(problems({ ...base, timeouts: { requestMs: 'soon' } }), /timeouts\.requestMs: must be a whole number of at least 1/);
  t.regex(problems({ ...base, sentinels: ['127.0.0.1:26379'] }), /Sentinel-driven failover needs mode: store/);
  t.regex(problems({ ...base, limits: { maxBulkBytes: 2048, maxRequestBytes: 1024 } }), /limits\.maxBulkBytes \(2048\) is larger than limits\.maxRequestBytes \(1024\)/);
  t.regex(problems({}), /shards: at least one shard is required/);
  t.regex(problems({ shards: [{ name: 'bad name', master: '127.0.0.1:6379' }] }), /name must be 1-64 characters of letters, digits/);
});

test('every problem is reported at once, one per line', (t) => {
  const message = problems({ workrs: 2, mode: 'x', limits: { maxClients: 0 }, shards: [shard('s1', 'nope')] });
  const lines = message.split('\n');
  t.is(lines.length, 4, message);
  t.true(lines.every((l) => l.startsWith('  - ')));
});

test('file errors name the file and the position', (t) => {
  t.throws(() => loadConfigFile(path.join(tmp, 'missing.yaml'), noEnv), { instanceOf: ConfigError, message: /missing\.yaml: cannot read the config \(no such file\)/ });
  const broken = write('shards:\n  - { name: s1, master: 127.0.0.1:6379\n');
  t.throws(() => loadConfigFile(broken, noEnv), { instanceOf: ConfigError, message: /not valid YAML at line 3, column 1/ });
  const brokenJson = write('{"shards": [}', 'json');
  t.throws(() => loadConfigFile(brokenJson, noEnv), { instanceOf: ConfigError, message: /\.json: not valid JSON/ });
  const list = write('- a\n- b\n');
  t.throws(() => loadConfigFile(list, noEnv), { instanceOf: ConfigError, message: /must be a mapping of keys/ });
  const bad = write('mode: nope\nshards: [{ name: s1, master: "127.0.0.1:6379" }]\n');
  t.throws(() => loadConfigFile(bad, noEnv), { instanceOf: ConfigError, message: new RegExp(`${path.basename(bad)}: invalid config:\\n  - mode: must be one of`) });
});

test('docs/config.md is generated from the schema and up to date', (t) => {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'config.md'), 'utf8');
  t.is(doc, renderConfigDoc(), 'run npm run docs:config');
  for (const key of ['listen.port', 'workers', 'mode', 'hash', 'shards', 'admin.port', 'stateDir', 'password', 'backend.password', 'limits.maxClients', 'timeouts.requestMs']) {
    t.true(doc.includes(`| \`${key}\` |`), key);
  }
});

test('coordination (a fleet through etcd): off by default, fixed keys with defaults, validated', (t) => {
  const off = parseConfig(base, noEnv);
  t.deepEqual(off.coordination, { etcd: { endpoints: [], prefix: '/kvstore/', leaseTtlMs: 3000, username: '', password: '' }, failoverConfirmShare: 0.5, barrierTimeoutMs: 10000 });
  t.is(off.proxyId, '');
  const on = parseConfig({ ...base, proxyId: 'edge-1', coordination: { etcd: { endpoints: ['127.0.0.1:2379', '127.0.0.2:2379'], prefix: '/fleet-a/', leaseTtlMs: 5000, username: 'kv', password: 'secret' } } }, noEnv);
  t.deepEqual(on.coordination.etcd, { endpoints: ['127.0.0.1:2379', '127.0.0.2:2379'], prefix: '/fleet-a/', leaseTtlMs: 5000, username: 'kv', password: 'secret' });
  t.is(on.proxyId, 'edge-1');
  const env = parseConfig(base, { env: { KVSTORE_ETCD_ENDPOINTS: '127.0.0.1:2379, 127.0.0.1:22379', KVSTORE_PROXY_ID: 'p9' } });
  t.deepEqual(env.coordination.etcd.endpoints, ['127.0.0.1:2379', '127.0.0.1:22379']);
  t.is(env.proxyId, 'p9');
  t.regex(problems({ ...base, coordination: { etcd: { endpoints: ['nohost'] } } }), /coordination\.etcd\.endpoints: entry 1/);
  t.regex(problems({ ...base, coordination: { etcd: { endpoints: ['127.0.0.1:2379'], prefix: 'kvstore' } } }), /coordination\.etcd\.prefix: must start with "\/"/);
  t.regex(problems({ ...base, coordination: { etcd: { endpoints: ['127.0.0.1:2379'], leaseTtlMs: 0 } } }), /coordination\.etcd\.leaseTtlMs: must be a whole number of at least 1/);
  t.regex(problems({ ...base, coordination: { etcd: { endpoints: ['127.0.0.1:2379', '127.0.0.1:2379'] } } }), /coordination\.etcd\.endpoints: 127\.0\.0\.1:2379 is listed twice/);
  t.regex(problems({ ...base, coordination: { etcd: { endpoints: ['127.0.0.1:6379'] } } }), /coordination\.etcd\.endpoints: 127\.0\.0\.1:6379 is also the master of shard "s1"/);
  t.regex(problems({ ...base, coordination: { etcd: { endpoints: ['127.0.0.1:2379'], username: 'kv' } } }), /coordination\.etcd\.username is set but coordination\.etcd\.password is empty/);
  t.regex(problems({ ...base, coordination: { etcd: { password: 'x' } } }), /username\/password are set but endpoints is empty/);
  t.regex(problems({ ...base, coordination: { etcd: { endpoint: ['127.0.0.1:2379'] } } }), /coordination\.etcd\.endpoint: unknown key; did you mean "coordination\.etcd\.endpoints"\?/);
  t.regex(problems({ ...base, coordination: { failoverConfirmShare: 1.5 } }), /coordination\.failoverConfirmShare: must be a number above 0 and at most 1/);
  t.regex(problems({ ...base, coordination: { failoverConfirmShare: 0 } }), /coordination\.failoverConfirmShare: must be a number above 0/);
  t.is(parseConfig({ ...base, coordination: { failoverConfirmShare: 1 } }, noEnv).coordination.failoverConfirmShare, 1);
  t.regex(problems({ ...base, proxyId: 'has space' }), /proxyId: must be 1-128 printable characters without spaces/);
});

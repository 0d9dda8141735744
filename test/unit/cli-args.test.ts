/**
 * The CLI's argument parsing (util.parseArgs, src/cli/args.ts): ctl's global options anywhere,
 * the subcommand's own arguments passed on untouched and in order, usage errors exit 2. Runs
 * `main` in-process; ctl commands point at 127.0.0.1:1 (nothing listens) so a parsed command
 * fails with exit 1 "cannot reach", and a usage error exits 2 before any request.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { extractOptions, parseCommand, UsageError } from '../../src/cli/args';
import { main } from '../../src/cli/main';
import { writePortFile } from '../../src/supervisor/portFile';

const globals = { admin: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } } as const;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('extractOptions: global options before or after the subcommand; the rest in order', (t) => {
  const r = extractOptions(['failover', 's1', '--to', 'h:1', '--admin=10.0.0.1:9', '--json', '--wait'], globals);
  t.deepEqual(r.rest, ['failover', 's1', '--to', 'h:1', '--wait']);
  t.deepEqual(r.order, [
    { name: 'admin', value: '10.0.0.1:9' },
    { name: 'json', value: true },
  ]);
  const r2 = extractOptions(['--admin', 'a:1', 'move-slots', '0-9', 's1', '--', '--admin', 'b:2'], globals);
  t.deepEqual(r2.rest, ['move-slots', '0-9', 's1', '--', '--admin', 'b:2'], 'after -- everything is the subcommand\'s');
  t.deepEqual(r2.order, [{ name: 'admin', value: 'a:1' }]);
  t.throws(() => extractOptions(['topology', '--admin'], globals), { instanceOf: UsageError, message: /--admin needs a value/ });
});

test('parseCommand: strict options, repeated options, positionals', (t) => {
  const p = parseCommand(['n', '--master', 'h:1', '--replica=h:2', '--replica', 'h:3'], { master: { type: 'string' }, replica: { type: 'string', multiple: true } });
  t.deepEqual(p.positionals, ['n']);
  t.deepEqual(p.values, { master: 'h:1', replica: ['h:2', 'h:3'] });
  t.throws(() => parseCommand(['--bogus'], { wait: { type: 'boolean' } }), { instanceOf: UsageError, message: /Unknown option '--bogus'/ });
});

test('main: usage errors exit 2 with the usage; parsed commands reach the admin API', async (t) => {
  const bad = await run('ctl', '--admin', '127.0.0.1:1', 'move-slots', '0-9', 's1', '--bogus');
  t.is(bad.code, 2);
  t.regex(bad.err, /^kvstore ctl move-slots: Unknown option '--bogus'.*\nusage: kvstore ctl \[--admin HOST:PORT\] move-slots FIRST-LAST SHARD \[--wait\]/s);
  const ok = await run('ctl', 'move-slots', '0-9', 's1', '--wait', '--admin', '127.0.0.1:1');
  t.is(ok.code, 1, 'options parsed, then the API is unreachable');
  t.regex(ok.err, /cannot reach the admin API at 127\.0\.0\.1:1/);
  const missing = await run('ctl', 'add-shard', 'x', '--replica', 'h:2', '--admin=127.0.0.1:1');
  t.is(missing.code, 2);
  t.regex(missing.err, /usage: kvstore ctl add-shard NAME --master HOST:PORT/);
  t.is((await run('ctl', 'key-rewrite', 'reclaim', '--rate', '--admin', '127.0.0.1:1')).code, 2, '--rate takes a value');
  t.is((await run('start')).code, 2);
  t.is((await run('start', '--bogus', 'x.yaml')).code, 2);
  t.is((await run('ctl', 'topology', '--admin')).code, 2);
});

test('main: check-config takes FILE, -c FILE or --config=FILE', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-cli-args-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'k.yaml');
  fs.writeFileSync(file, 'shards:\n  - { name: s1, master: 127.0.0.1:6379 }\n');
  for (const argv of [[file], ['-c', file], [`--config=${file}`]]) {
    const r = await run('check-config', ...argv);
    t.is(r.code, 0, argv.join(' '));
    t.regex(r.out, /k\.yaml: OK — 1 shard\(s\)/);
  }
  t.is((await run('check-config', file, 'extra')).code, 2);
});

test('main: ctl --config with admin.port 0 finds the admin API in stateDir/ports.json, and says when it cannot', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-cli-ports-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const stateDir = path.join(dir, 'state');
  const file = path.join(dir, 'k.yaml');
  fs.writeFileSync(file, `admin: { port: 0 }\nstateDir: ${stateDir}\nshards:\n  - { name: s1, master: 127.0.0.1:6379 }\n`);
  const none = await run('ctl', '--config', file, 'health');
  t.is(none.code, 1);
  t.regex(none.err, /admin\.port is 0 \(any free port\) and .*ports\.json does not exist/);

  writePortFile(stateDir, { pid: process.pid, listen: { host: '127.0.0.1', port: 1 }, admin: { host: '127.0.0.1', port: 1 } });
  const found = await run('ctl', '--config', file, 'health');
  t.is(found.code, 1);
  t.regex(found.err, /cannot reach the admin API at 127\.0\.0\.1:1 /, 'the port from the file was used');

  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writePortFile(stateDir, { pid: Number(dead.stdout), listen: { host: '127.0.0.1', port: 1 }, admin: { host: '127.0.0.1', port: 1 } });
  const stale = await run('ctl', '--config', file, 'health');
  t.is(stale.code, 1);
  t.regex(stale.err, /was left by kvstore pid \d+, which is not running/);
});

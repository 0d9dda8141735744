/**
 * The plain C++ stream core (native/stream_core.{h,cc}: output buffers and their memory policy,
 * the read batch, the stream state rules) has its own C++ unit tests with a randomized model
 * check (native/test/). This runs them when a C++ compiler is installed (they need no libuv and
 * no N-API), built with ASan + UBSan where available.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const compiler = ['g++', 'clang++'].find((c) => spawnSync(c, ['--version']).status === 0);

(compiler ? test : test.skip)('C++ unit tests of the stream core pass (native/test/run.sh)', (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-stream-core-'));
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  const log = execFileSync('bash', [path.join(root, 'native/test/run.sh'), out], { cwd: root, encoding: 'utf8', timeout: 170_000 });
  t.log(log.trim().split('\n').pop());
  t.regex(log, /^7 tests passed$/m);
  t.notRegex(log, /CHECK failed/);
});

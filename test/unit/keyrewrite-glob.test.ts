import test from 'ava';
import { globMatch, literalPrefix } from '../../src/keyrewrite/glob';

const b = (s: string) => Buffer.from(s, 'latin1');

// [pattern, key, expected] — expected values are Redis 7's KEYS behaviour (checked against a
// real redis-server by the differential test in test/integration/keyrewrite-glob.test.ts).
const table: [string, string, boolean][] = [
  ['*', '', true],
  ['*', 'anything', true],
  ['', '', true],
  ['', 'a', false],
  ['a', '', false],
  ['user:*', 'user:1', true],
  ['user:*', 'user:', true],
  ['user:*', 'users:1', false],
  ['h?llo', 'hello', true],
  ['h?llo', 'hllo', false],
  ['h*llo', 'hllo', true],
  ['h*llo', 'heeeello', true],
  ['h[ae]llo', 'hello', true],
  ['h[ae]llo', 'hallo', true],
  ['h[ae]llo', 'hillo', false],
  ['h[^e]llo', 'hallo', true],
  ['h[^e]llo', 'hello', false],
  ['h[a-b]llo', 'hbllo', true],
  ['h[a-b]llo', 'hcllo', false],
  ['h[b-a]llo', 'hallo', true], // reversed range
  ['[a-]', ']', true], // Redis quirk: "a-]" is the range a..]
  ['[a-]', 'a', true],
  ['[a-]', 'b', false],
  ['**', '', false], // only the exact pattern "*" is "all keys" (KEYS's shortcut)
  ['[abc', 'a', true], // unclosed set ends at the end of the pattern
  ['[abc', 'ab', false],
  ['[', 'a', false],
  ['[^', 'a', true],
  ['[]', 'a', false],
  ['[]]', ']', false],
  ['[\\]]', ']', true],
  ['[\\', '\\', true],
  ['\\*', '*', true],
  ['\\*', 'a', false],
  ['a\\', 'a\\', true], // trailing lone backslash is literal
  ['a\\?', 'a?', true],
  ['a\\?', 'ab', false],
  ['**a', 'xa', true],
  ['a*', 'a', true],
  ['a**', 'a', true],
  ['*a*b', 'xxaxxb', true],
  ['*a*b', 'xxaxxbx', false],
  ['[\x01-\xff]', 'b', false], // signed chars: 0xff is -1, so the range is -1..1
  ['[\x01-\xff]', '\xff', true],
  ['[\x01-\xff]', '\x00', true],
  ['{*}', '{tag}', true],
];

for (const [pattern, key, expected] of table) {
  test(`glob ${JSON.stringify(pattern)} vs ${JSON.stringify(key)} → ${expected}`, (t) => {
    t.is(globMatch(b(pattern), b(key)), expected);
  });
}

test('matching a sub-range of a buffer equals matching a copy of it', (t) => {
  const chunk = b('xxuser:42yy');
  t.true(globMatch(b('user:*'), chunk, 2, 7));
  t.false(globMatch(b('user:*'), chunk, 1, 8));
  t.true(globMatch(b('*42'), chunk, 2, 7));
});

test('hostile patterns stay fast (backtracking is cut off)', (t) => {
  const key = Buffer.alloc(5000, 'a');
  const pattern = b('*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b');
  t.false(globMatch(pattern, key));
});

test('literal prefix stops at the first special byte', (t) => {
  t.is(literalPrefix(b('user:*')).toString(), 'user:');
  t.is(literalPrefix(b('a?b')).toString(), 'a');
  t.is(literalPrefix(b('[ab]')).toString(), '');
  t.is(literalPrefix(b('a\\*')).toString(), 'a');
  t.is(literalPrefix(b('plain')).toString(), 'plain');
});

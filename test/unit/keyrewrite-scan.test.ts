import test from 'ava';
import { scanOptions } from '../../src/keyrewrite/keyNameCommands';
import { mapKeyNames } from '../../src/keyrewrite/WorkerKeyRewrite';
import type { KeyNameView } from '../../src/proxy/Hooks';

const b = (s: string) => Buffer.from(s);
const view = (active: boolean) => ({ active }) as unknown as KeyNameView;
const strs = (a: Buffer[]) => a.map(String);

test('SCAN options: MATCH is taken out only while rules are active, keyword/value pairs kept', (t) => {
  const opts = [b('COUNT'), b('10'), b('MATCH'), b('user:*'), b('TYPE'), b('string')];
  const active = scanOptions(view(true), opts);
  t.deepEqual(strs(active.options), ['COUNT', '10', 'TYPE', 'string']);
  t.is(String(active.pattern), 'user:*');
  t.deepEqual(strs(scanOptions(view(false), opts).options), strs(opts));
  t.deepEqual(strs(scanOptions(null, opts).options), strs(opts));
  // A value that reads "match" is not a keyword.
  const tricky = scanOptions(view(true), [b('TYPE'), b('match'), b('match'), b('x*')]);
  t.deepEqual(strs(tricky.options), ['TYPE', 'match']);
  t.is(String(tricky.pattern), 'x*');
  // A dangling MATCH is left for the shard to refuse.
  t.deepEqual(strs(scanOptions(view(true), [b('MATCH')]).options), ['MATCH']);
});

test('reply key names are mapped back: LMPOP/ZMPOP first element, XREAD first of each entry', (t) => {
  const names = new Map([['D1', b('k1')], ['D2', b('k2')]]);
  t.is(mapKeyNames(b('*2\r\n$2\r\nD1\r\n*1\r\n$1\r\nv\r\n'), 'first', names).toString(), '*2\r\n$2\r\nk1\r\n*1\r\n$1\r\nv\r\n');
  t.is(mapKeyNames(b('$-1\r\n'), 'first', names).toString(), '$-1\r\n');
  t.is(mapKeyNames(b('*-1\r\n'), 'firstOfEach', names).toString(), '*-1\r\n');
  const xread = '*2\r\n*2\r\n$2\r\nD2\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$2\r\nD1\r\n*2\r\n$5\r\nother\r\n*0\r\n';
  t.is(mapKeyNames(b(xread), 'firstOfEach', names).toString(), xread.replace('$2\r\nD2', '$2\r\nk2'));
});

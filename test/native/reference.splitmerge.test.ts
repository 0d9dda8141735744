import test, { ExecutionContext } from 'ava';
import { HotPath, MergeKind, PLAN_HEADER, PLAN_KEY_STRIDE, PLAN_SUB_STRIDE } from '../../src/native/api';
import { ReferenceHotPath, MERGE_UNEXPECTED_REPLY } from '../../src/native/reference/ReferenceHotPath';
import { BatchHandles, bind, feed, makeBatch, oracleSlot, setup } from './wire-cases';

const mb = (...args: string[]): Buffer => Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`, 'latin1');
const bulk = (v: string | null): string => (v === null ? '$-1\r\n' : `$${Buffer.byteLength(v, 'latin1')}\r\n${v}\r\n`);

/** Three shards over even slot ranges. */
function threeShards(): Uint16Array {
  const table = new Uint16Array(16384);
  for (let s = 0; s < 16384; s++) table[s] = s < 5461 ? 0 : s < 10923 ? 1 : 2;
  return table;
}

interface Sub {
  shard: number;
  bytes: Buffer;
  args: string[];
}

function prepare(hotPath: HotPath = new ReferenceHotPath()) {
  setup(hotPath);
  const handles = makeBatch(16, 4096, 4096, 64, 16384);
  bind(hotPath, handles);
  const slotTable = threeShards();
  hotPath.bindSlotTable(slotTable);
  return { hotPath, handles, slotTable };
}

/** Parse `wire` (one command), split it, and decode the plan and every sub-command. */
function splitOne(t: ExecutionContext, hotPath: HotPath, handles: BatchHandles, slotTable: Uint16Array, wire: Buffer) {
  t.is(hotPath.parseRequests(wire, 0), 1);
  const out = hotPath.split(wire, 0);
  const plan = handles.plan;
  const n = plan[0];
  const kind = plan[1] as MergeKind;
  const k = plan[2];
  const subs: Sub[] = [];
  let expectStart = 0;
  const parser = new ReferenceHotPath();
  setup(parser);
  const ph = makeBatch(4, 8192, 8192);
  bind(parser, ph);
  for (let s = 0; s < n; s++) {
    const o = PLAN_HEADER + s * PLAN_SUB_STRIDE;
    t.is(plan[o + 1], expectStart, 'sub-commands are back to back');
    const bytes = out.subarray(plan[o + 1], plan[o + 2]);
    expectStart = plan[o + 2];
    const parsed = feed(parser, ph, [bytes]);
    t.is(parsed.commands.length, 1, 'each sub-command is one RESP command');
    t.is(parsed.rest, 0);
    subs.push({ shard: plan[o], bytes, args: parsed.commands[0].args });
    // Every key of the sub-command belongs to its shard.
    for (const key of parsed.commands[0].keys) t.is(slotTable[oracleSlot(Buffer.from(key, 'latin1'))], plan[o], 'key sent to its shard');
    t.is(parsed.commands[0].keys.length, plan[o + 3], 'key count in the plan');
  }
  t.is(expectStart, out.length, 'sub-commands fill the buffer');
  const keyRecords: Array<[number, number]> = [];
  for (let j = 0; j < k; j++) {
    const o = PLAN_HEADER + n * PLAN_SUB_STRIDE + j * PLAN_KEY_STRIDE;
    keyRecords.push([plan[o], plan[o + 1]]);
  }
  return { n, kind, k, subs, keyRecords, plan: Int32Array.from(plan.subarray(0, PLAN_HEADER + n * PLAN_SUB_STRIDE + k * PLAN_KEY_STRIDE)) };
}

test('MGET of 1,000 keys over 3 shards: one sub-command per shard, values merged in client order', (t) => {
  const { hotPath, handles, slotTable } = prepare();
  const keys = Array.from({ length: 1000 }, (_, i) => `key:${(i * 7919) % 1000}:${i % 3 === 0 ? '{t}' : ''}`);
  const { n, kind, k, subs, keyRecords, plan } = splitOne(t, hotPath, handles, slotTable, mb('MGET', ...keys));
  t.is(n, 3);
  t.is(kind, MergeKind.Array);
  t.is(k, 1000);
  // Sub-commands are ordered by each shard's first key in client order.
  const firstShards: number[] = [];
  for (const key of keys) {
    const shard = slotTable[oracleSlot(Buffer.from(key))];
    if (!firstShards.includes(shard)) firstShards.push(shard);
  }
  t.deepEqual(subs.map((s) => s.shard), firstShards);
  // The key records point at the client's key inside its sub-command.
  keys.forEach((key, j) => {
    const [sub, pos] = keyRecords[j];
    t.is(subs[sub].args[0], 'MGET');
    if (subs[sub].args[1 + pos] !== key) t.fail(`key ${j} misplaced`);
  });
  // Backends: every third key is missing; values are derived from the key.
  const value = (key: string) => (key.length % 3 === 0 ? null : `v(${key})`);
  const replies = subs.map((s) => Buffer.from(`*${s.args.length - 1}\r\n${s.args.slice(1).map((key) => bulk(value(key))).join('')}`, 'latin1'));
  const merged = hotPath.merge(plan, replies);
  t.is(merged.toString('latin1'), `*1000\r\n${keys.map((key) => bulk(value(key))).join('')}`);
});

test('MGET: RESP3 nulls and nested values are copied as they are', (t) => {
  const { hotPath, handles, slotTable } = prepare();
  const keys = ['a', 'b', 'c', 'd'];
  const { subs, plan } = splitOne(t, hotPath, handles, slotTable, mb('MGET', ...keys));
  const elem = (key: string) => (key === 'b' ? '_\r\n' : key === 'c' ? '*2\r\n:1\r\n$1\r\nx\r\n' : bulk(key.toUpperCase()));
  const replies = subs.map((s) => Buffer.from(`*${s.args.length - 1}\r\n${s.args.slice(1).map(elem).join('')}`, 'latin1'));
  t.is(hotPath.merge(plan, replies).toString('latin1'), `*4\r\n${keys.map(elem).join('')}`);
});

test('DEL / EXISTS / UNLINK / TOUCH: integers summed, a repeated key counted each time', (t) => {
  const { hotPath, handles, slotTable } = prepare();
  const store = new Set(['a', 'c', 'e', 'x{1}', 'y{1}']);
  for (const name of ['DEL', 'EXISTS', 'UNLINK', 'TOUCH']) {
    const keys = ['a', 'b', 'a', 'c', 'd', 'e', 'x{1}', 'y{1}', 'a'];
    const { kind, subs, plan } = splitOne(t, hotPath, handles, slotTable, mb(name, ...keys));
    t.is(kind, MergeKind.Sum);
    // Each backend answers like Redis: EXISTS counts repeats, DEL counts each existing key once.
    const replies = subs.map((s) => {
      const subKeys = s.args.slice(1);
      const count = name === 'EXISTS' || name === 'TOUCH' ? subKeys.filter((k) => store.has(k)).length : new Set(subKeys.filter((k) => store.has(k))).size;
      return Buffer.from(`:${count}\r\n`);
    });
    const want = name === 'EXISTS' || name === 'TOUCH' ? keys.filter((k) => store.has(k)).length : new Set(keys.filter((k) => store.has(k))).size;
    t.is(hotPath.merge(plan, replies).toString(), `:${want}\r\n`, name);
  }
});

test('MSET: key/value pairs per shard, +OK only when every shard said OK, else the first error', (t) => {
  const { hotPath, handles, slotTable } = prepare();
  const pairs = Array.from({ length: 50 }, (_, i) => [`k${i}`, `value ${i}\r\n`]).flat();
  const { n, kind, k, subs, plan } = splitOne(t, hotPath, handles, slotTable, mb('MSET', ...pairs));
  t.is(kind, MergeKind.AllOk);
  t.is(k, 25 * 2);
  t.is(n, 3);
  for (const s of subs) {
    for (let i = 1; i < s.args.length; i += 2) t.is(s.args[i + 1], `value ${s.args[i].slice(1)}\r\n`, 'value follows its key');
  }
  const ok = subs.map(() => Buffer.from('+OK\r\n'));
  t.is(hotPath.merge(plan, ok).toString(), '+OK\r\n');
  const failing = subs.map((_, i) => Buffer.from(i === 0 ? '+OK\r\n' : `-OOM shard ${i}\r\n`));
  t.is(hotPath.merge(plan, failing).toString(), '-OOM shard 1\r\n');
});

test('merge: an error sub-reply becomes the reply; malformed sub-replies give the proxy error', (t) => {
  const { hotPath, handles, slotTable } = prepare();
  const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
  const mget = splitOne(t, hotPath, handles, slotTable, mb('MGET', ...keys));
  const good = mget.subs.map((s) => Buffer.from(`*${s.args.length - 1}\r\n${s.args.slice(1).map(() => '$-1\r\n').join('')}`));
  const withError = good.map((r, i) => (i === mget.n - 1 ? Buffer.from('-MOVED 1 127.0.0.1:1\r\n') : r));
  t.is(hotPath.merge(mget.plan, withError).toString(), '-MOVED 1 127.0.0.1:1\r\n');
  const blobError = good.map((r, i) => (i === 0 ? Buffer.from('!5\r\nERR x\r\n') : r));
  t.is(hotPath.merge(mget.plan, blobError).toString(), '!5\r\nERR x\r\n');
  const wrongCount = good.map((r, i) => (i === 0 ? Buffer.from('*0\r\n') : r));
  t.deepEqual(hotPath.merge(mget.plan, wrongCount), MERGE_UNEXPECTED_REPLY);

  const del = splitOne(t, hotPath, handles, slotTable, mb('DEL', ...keys));
  const ints = del.subs.map(() => Buffer.from(':1\r\n'));
  t.is(hotPath.merge(del.plan, ints).toString(), `:${del.n}\r\n`);
  t.is(hotPath.merge(del.plan, ints.map((r, i) => (i === 1 ? Buffer.from('-ERR boom\r\n') : r))).toString(), '-ERR boom\r\n');
  t.deepEqual(hotPath.merge(del.plan, ints.map((r, i) => (i === 1 ? Buffer.from('+OK\r\n') : r))), MERGE_UNEXPECTED_REPLY);
  t.deepEqual(hotPath.merge(del.plan, ints.map((r, i) => (i === 1 ? Buffer.from(':x\r\n') : r))), MERGE_UNEXPECTED_REPLY);

  const mset = splitOne(t, hotPath, handles, slotTable, mb('MSET', 'a', '1', 'b', '2', 'c', '3'));
  t.deepEqual(hotPath.merge(mset.plan, mset.subs.map(() => Buffer.from(':1\r\n'))), MERGE_UNEXPECTED_REPLY);
});

test('split of a single-shard command yields one sub-command equal to the request', (t) => {
  const { hotPath, handles, slotTable } = prepare();
  const wire = mb('MGET', '{u}1', '{u}2', '{u}3');
  const { n, subs } = splitOne(t, hotPath, handles, slotTable, wire);
  t.is(n, 1);
  t.deepEqual(subs[0].bytes, wire);
});

test('split of a quoted inline MGET uses the decoded arguments', (t) => {
  const { hotPath, handles, slotTable } = prepare();
  const wire = Buffer.from('mget "a b" \'c\' d{x} "\\x41"\r\n');
  const { subs, keyRecords, k } = splitOne(t, hotPath, handles, slotTable, wire);
  t.is(k, 4);
  const keys = ['a b', 'c', 'd{x}', 'A'];
  keys.forEach((key, j) => t.is(subs[keyRecords[j][0]].args[1 + keyRecords[j][1]], key));
  for (const s of subs) t.is(s.args[0], 'mget', 'the name as the client sent it');
});

test('split refuses commands it cannot split', (t) => {
  const { hotPath } = prepare();
  const wire = Buffer.concat([mb('GET', 'a'), mb('MGET'), mb('MSET', 'a', '1', 'b')]);
  t.is(hotPath.parseRequests(wire, 0), 3);
  t.throws(() => hotPath.split(wire, 0));
  t.throws(() => hotPath.split(wire, 1));
  t.throws(() => hotPath.split(wire, 2));
});

test('split follows slot-table updates made in place', (t) => {
  const { hotPath, handles, slotTable } = prepare();
  const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  t.is(splitOne(t, hotPath, handles, slotTable, mb('MGET', ...keys)).n, 3);
  slotTable.fill(1);
  const after = splitOne(t, hotPath, handles, slotTable, mb('MGET', ...keys));
  t.is(after.n, 1);
  t.is(after.subs[0].shard, 1);
});

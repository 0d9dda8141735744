/**
 * Differential property tests: the C++ addon against the TypeScript reference (the oracle), call
 * by call. Random pipelines (valid and corrupted, multibulk / inline / quoted inline), random
 * cut points, random array capacities and limits; every parseRequests call must leave the same
 * status and the same cmds/args/keys in both. Same for reply framing, split and merge.
 */
import test from 'ava';
import fc from 'fast-check';
import { MergeKind, PLAN_HEADER, PLAN_KEY_STRIDE, PLAN_SUB_STRIDE, R_ERROR, R_RESUME_AT, R_RESUME_OWED } from '../../src/native/api';
import { EngineOptions, cut, nativeEngine, referenceEngine, runReplies, runRequests, Engine } from './native-setup';
import { command as refCommand, cutAt, respValue, soup } from './wire-cases';

const NAMES = ['GET', 'set', 'MGET', 'mget', 'MSET', 'DEL', 'exists', 'UNLINK', 'touch', 'EVAL', 'XREAD', 'ZUNIONSTORE', 'OBJECT', 'xinfo', 'LMOVE', 'SORT', 'BLPOP', 'MIGRATE', 'GEORADIUS', 'CLIENT', 'PING', 'NOSUCH', 'object|encoding'];
const WORDS = ['a', 'b', '{t}x', '{t}y', 'k{', '}{', 'foo{}{bar}', '0', '1', '2', '3', '-1', 'STREAMS', 'streams', 'STORE', 'KEYS', 'WEIGHTS', 'ENCODING', 'STREAM', 'LEFT', 'COUNT', ''];

const arg = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...WORDS).map((w) => Buffer.from(w)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)) },
);
const argv = fc.tuple(fc.constantFrom(...NAMES), fc.array(arg, { maxLength: 7 })).map(([n, rest]) => [Buffer.from(n), ...rest]);

function multibulk(args: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

function quoteArg(a: Buffer, style: number): string {
  const s = a.toString('latin1');
  if (style === 0 && a.length > 0 && /^[\x21-\x7e]+$/.test(s) && !/["']/.test(s)) return s;
  if (style === 1 && !/[\\'\0\r\n]/.test(s)) return `'${s}'`;
  let out = '"';
  for (const b of a) {
    if (b === 0x22 || b === 0x5c) out += '\\' + String.fromCharCode(b);
    else if (b < 0x20 || b >= 0x7f) out += `\\x${b.toString(16).padStart(2, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out + '"';
}

const command = fc.oneof(
  { weight: 4, arbitrary: argv.map(multibulk) },
  {
    weight: 2,
    arbitrary: fc.tuple(argv, fc.array(fc.nat(2), { maxLength: 8 }), fc.constantFrom(' ', '  ', '\t', ' \v'), fc.constantFrom('\r\n', '\n')).map(([a, styles, sep, eol]) =>
      Buffer.from(a.map((x, i) => quoteArg(x, styles[i] ?? 0)).join(sep) + eol, 'latin1')),
  },
  { weight: 1, arbitrary: fc.constantFrom('\r\n', '*0\r\n', '*-1\r\n', '  \n', 'PING\r\n').map((s) => Buffer.from(s)) },
);

/** Corruptions: overwrite, insert or delete bytes, preferring the ones the grammar cares about. */
const INTERESTING = [0x0d, 0x0a, 0x24, 0x2a, 0x22, 0x27, 0x00, 0x2d, 0x30, 0x39, 0x20, 0x78, 0x5c, 0x7b, 0x7d];
const mutation = fc.tuple(fc.nat(), fc.nat(2), fc.oneof(fc.constantFrom(...INTERESTING), fc.nat(255)));
function mutate(wire: Buffer, muts: Array<[number, number, number]>): Buffer {
  let w = Buffer.from(wire);
  for (const [pos, op, byte] of muts) {
    if (w.length === 0) break;
    const p = pos % w.length;
    if (op === 0) w[p] = byte;
    else if (op === 1) w = Buffer.concat([w.subarray(0, p), Buffer.from([byte]), w.subarray(p)]);
    else w = Buffer.concat([w.subarray(0, p), w.subarray(p + 1)]);
  }
  return w;
}

const options: fc.Arbitrary<EngineOptions> = fc.record({
  cmds: fc.constantFrom(1, 2, 5, 64),
  args: fc.constantFrom(1, 3, 8, 512),
  keys: fc.constantFrom(1, 2, 512),
  maxInlineBytes: fc.constantFrom(6, 24, 64 * 1024),
  maxBulkBytes: fc.constantFrom(3, 512 * 1024 * 1024),
  hash: fc.constantFrom('crc16' as const, 'murmur' as const),
  murmurSeed: fc.nat(),
  shards: fc.constantFrom(1, 3, 7),
});

interface SplitOutcome {
  index: number;
  ok: boolean;
  bytes?: string;
  plan?: number[];
}

/** Runs a stream and splits every split-able command right after the parse that framed it. */
function runWithSplits(e: Engine, pieces: Buffer[]) {
  const splits: SplitOutcome[] = [];
  let seen = 0;
  const result = runRequests(e, pieces, (buf, index) => {
    const cmdsSeen = seen++;
    const c = e.batch.cmds.subarray(index * 9, index * 9 + 9);
    if (c[3] < 0) return;
    try {
      const out = e.hp.split(buf, index);
      const p = e.plan;
      const len = PLAN_HEADER + p[0] * PLAN_SUB_STRIDE + p[2] * PLAN_KEY_STRIDE;
      splits.push({ index: cmdsSeen, ok: true, bytes: out.toString('latin1'), plan: Array.from(p.subarray(0, len)) });
    } catch {
      splits.push({ index: cmdsSeen, ok: false });
    }
  });
  return { result, splits };
}

test('requests: native == reference on every call (random pipelines, corruptions, cuts, capacities, limits)', (t) => {
  let withErrors = 0;
  let withSplits = 0;
  fc.assert(
    fc.property(fc.array(command, { minLength: 1, maxLength: 10 }), fc.array(mutation, { maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), options, (cmds, muts, cuts, o) => {
      const wire = mutate(Buffer.concat(cmds), muts);
      const pieces = cut(wire, cuts.map((c) => c % (wire.length + 1)));
      const n = runWithSplits(nativeEngine(o), pieces);
      const r = runWithSplits(referenceEngine(o), pieces);
      if (n.result.error) withErrors++;
      if (n.splits.some((s) => s.ok)) withSplits++;
      t.deepEqual(n.result.calls, r.result.calls);
      t.is(n.result.error, r.result.error);
      t.is(n.result.errorByte, r.result.errorByte);
      t.deepEqual(n.splits, r.splits);
      return true;
    }),
    { numRuns: 2500 },
  );
  // The generator really reaches the interesting paths.
  t.true(withErrors > 100, `only ${withErrors} runs ended in a protocol error`);
  t.true(withSplits > 100, `only ${withSplits} runs split a multi-key command`);
});

/* ---------- replies ---------- */

const scalar = fc.oneof(
  fc.string({ maxLength: 8 }).map((s) => `+${s.replace(/[\r\n]/g, '')}\r\n`),
  fc.string({ maxLength: 8 }).map((s) => `-ERR ${s.replace(/[\r\n]/g, '')}\r\n`),
  fc.integer().map((n) => `:${n}\r\n`),
  fc.uint8Array({ maxLength: 16 }).map((a) => `$${a.length}\r\n${Buffer.from(a).toString('latin1')}\r\n`),
  fc.constantFrom('$-1\r\n', '*-1\r\n', '_\r\n', '#f\r\n', ',-2.5\r\n', '(1234567890123456789012\r\n', '=7\r\ntxt:abc\r\n', '!3\r\nERR\r\n', '*0\r\n', '$0\r\n\r\n', '$007\r\n1234567\r\n'),
);
const { value } = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.tuple(fc.constantFrom('*', '~', '>'), fc.array(tie('value'), { maxLength: 4 })).map(([k, xs]) => `${k}${xs.length}\r\n${xs.join('')}`),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((kv) => `%${kv.length}\r\n${kv.map(([a, b]) => a + b).join('')}`),
    fc.tuple(scalar, scalar, tie('value')).map(([a, b, x]) => `|1\r\n${a}${b}${x}`),
  ),
}));

test('replies: native == reference on every frameReplies call (random RESP2/RESP3, corruptions, cuts, capacities)', (t) => {
  let errors = 0;
  fc.assert(
    fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), fc.array(mutation, { maxLength: 2 }), fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom(1, 2, 64), (replies, muts, cuts, cap) => {
      const wire = mutate(Buffer.from(replies.join(''), 'latin1'), muts);
      const pieces = cut(wire, cuts.map((c) => c % (wire.length + 1)));
      const n = runReplies(nativeEngine({ replyEnds: cap }), pieces);
      const r = runReplies(referenceEngine({ replyEnds: cap }), pieces);
      if (n.error) errors++;
      t.deepEqual(n, r);
      return true;
    }),
    { numRuns: 3000 },
  );
  t.true(errors > 100, `only ${errors} runs hit a framing error`);
});

/* ---------- merge ---------- */

const subReply = (kind: MergeKind, keys: number) =>
  fc.oneof(
    { weight: 6, arbitrary: kind === MergeKind.Array
      ? fc.array(fc.oneof(fc.uint8Array({ maxLength: 8 }).map((a) => `$${a.length}\r\n${Buffer.from(a).toString('latin1')}\r\n`), fc.constant('$-1\r\n')), { minLength: keys, maxLength: keys }).map((xs) => `*${keys}\r\n${xs.join('')}`)
      : kind === MergeKind.Sum ? fc.nat(keys).map((n) => `:${n}\r\n`) : fc.constant('+OK\r\n') },
    { weight: 1, arbitrary: fc.constantFrom('-ERR boom\r\n', '-MOVED 1 x\r\n', '!3\r\nERR\r\n', ':x\r\n', '+QUEUED\r\n', '*1\r\n$-1\r\n', '$-1\r\n', `*${keys + 1}\r\n` + ':1\r\n'.repeat(keys + 1)) },
  );

test('merge: native == reference for random plans and sub-replies (good, errors, wrong shapes)', (t) => {
  const plan = fc.tuple(fc.constantFrom(MergeKind.Array, MergeKind.Sum, MergeKind.AllOk), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })).chain(([kind, counts]) => {
    const keyRecs: number[] = [];
    counts.forEach((c, s) => { for (let k = 0; k < c; k++) keyRecs.push(s, k); });
    const p = [counts.length, kind, keyRecs.length / 2, ...counts.flatMap((c, s) => [s, 0, 0, c]), ...keyRecs];
    return fc.tuple(fc.constant(Int32Array.from(p)), fc.tuple(...counts.map((c) => subReply(kind, c))), fc.shuffledSubarray(keyRecs.map((_, i) => i).filter((i) => i % 2 === 0)));
  });
  fc.assert(
    fc.property(plan, ([p, replies, order]) => {
      // Key records in a shuffled client order (keys interleave across shards).
      const base = PLAN_HEADER + p[0] * PLAN_SUB_STRIDE;
      const recs = Array.from(p.subarray(base));
      const reordered = [...order, ...recs.map((_, i) => i).filter((i) => i % 2 === 0 && !order.includes(i))].flatMap((i) => [recs[i], recs[i + 1]]);
      const plan2 = Int32Array.from([...p.subarray(0, base), ...reordered]);
      const bufs = replies.map((r) => Buffer.from(r, 'latin1'));
      const n = nativeEngine().hp.merge(plan2, bufs).toString('latin1');
      const r = referenceEngine().hp.merge(plan2, bufs).toString('latin1');
      t.is(n, r);
      // mergeStore (split/merge's form): the same sub-replies in one buffer, in reverse order,
      // behind a junk prefix, with spans longer than needed, gives the same reply.
      const store = Buffer.concat([Buffer.from('junk'), ...[...bufs].reverse()]);
      const spans = new Int32Array(bufs.length * 2 + 4).fill(-1);
      let at = store.length;
      bufs.forEach((b, s) => {
        spans[2 * s] = at - b.length;
        spans[2 * s + 1] = at;
        at -= b.length;
      });
      t.is(nativeEngine().hp.mergeStore(plan2, store, spans).toString('latin1'), n);
      t.is(referenceEngine().hp.mergeStore(plan2, store, spans).toString('latin1'), n);
      return true;
    }),
    { numRuns: 1500 },
  );
});

/* ---------- the reference's own generators (wire-cases.ts): encoded commands and byte soup ---------- */


test("requests and replies: native == reference on the reference's generators (commands, byte soup, RESP values)", (t) => {
  fc.assert(
    fc.property(fc.array(fc.oneof(refCommand.map((c) => c.wire), soup), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom(1, 4, 64), (parts, cuts, cap) => {
      const wire = Buffer.concat(parts);
      const pieces = cutAt(wire, cuts);
      const o = { cmds: cap, args: cap, keys: cap };
      t.deepEqual(runRequests(nativeEngine(o), pieces), runRequests(referenceEngine(o), pieces));
      const replies = cutAt(Buffer.concat(parts.map((p) => Buffer.concat([p, Buffer.from('\r\n')]))), cuts);
      t.deepEqual(runReplies(nativeEngine({ replyEnds: cap }), replies), runReplies(referenceEngine({ replyEnds: cap }), replies));
      return true;
    }),
    { numRuns: 1500 },
  );
  fc.assert(
    fc.property(fc.array(respValue, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 6 }), (values, cuts) => {
      const pieces = cutAt(Buffer.from(values.join(''), 'latin1'), cuts);
      t.deepEqual(runReplies(nativeEngine({ replyEnds: 2 }), pieces), runReplies(referenceEngine({ replyEnds: 2 }), pieces));
      return true;
    }),
    { numRuns: 1000 },
  );
});

test('replies: resuming an incomplete reply frames exactly what a rescan from its start does', (t) => {
  fc.assert(
    fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), fc.array(mutation, { maxLength: 1 }), fc.array(fc.nat(), { maxLength: 10 }), (replies, muts, cuts) => {
      const wire = mutate(Buffer.from(replies.join(''), 'latin1'), muts);
      const pieces = cut(wire, cuts.map((c) => c % (wire.length + 1)));
      for (const engine of [nativeEngine({ replyEnds: 64 }), referenceEngine({ replyEnds: 64 })]) {
        const resumed = runReplies(engine, pieces, true);
        const rescanned = runReplies(engine, pieces, false);
        t.deepEqual(resumed.ends, rescanned.ends);
        t.is(resumed.error, rescanned.error);
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});

test('replies: the resume point is the first value not yet complete, with the values still owed', (t) => {
  const head = '*3\r\n$1\r\na\r\n*2\r\n:1\r\n'; // the outer array owes one more, the inner one more
  const wire = Buffer.from(`${head}:2\r\n$3\r\nxyz\r\n`, 'latin1');
  for (const e of [nativeEngine(), referenceEngine()]) {
    t.is(e.hp.frameReplies(wire, 0, head.length + 2), 0);
    t.is(e.replyStatus[R_RESUME_AT], head.length, 'stops at ":2" (incomplete), not at the start of the reply');
    t.is(e.replyStatus[R_RESUME_OWED], 2);
    // Resumed with more bytes, the reply completes and ends where a full scan says.
    t.is(e.hp.frameReplies(wire, 0, wire.length, head.length, 2), 1);
    t.is(e.replyEnds[0], wire.length);
    // No resume state once the data is complete, or when the reply is broken.
    t.is(e.replyStatus[R_RESUME_OWED], 0);
    t.is(e.hp.frameReplies(Buffer.from('*2\r\n?x\r\n'), 0), 0);
    t.is(e.replyStatus[R_ERROR], 1);
    t.is(e.replyStatus[R_RESUME_OWED], 0);
  }
});

/* ---------- requests: resumable framing ---------- */

/** A multibulk with many small arguments (MSET/MGET/DEL shaped), the case resumption is for. */
const wideCommand = fc.tuple(fc.constantFrom('MSET', 'MGET', 'DEL', 'SET', 'NOSUCH'), fc.array(arg, { minLength: 1, maxLength: 40 })).map(([n, rest]) => multibulk([Buffer.from(n), ...rest]));

test('requests: resuming an incomplete command frames exactly what one parse of the whole stream does (native and reference)', (t) => {
  let resumedRuns = 0;
  fc.assert(
    fc.property(
      fc.array(fc.oneof({ weight: 3, arbitrary: wideCommand }, { weight: 1, arbitrary: command }), { minLength: 1, maxLength: 5 }),
      fc.array(mutation, { maxLength: 1 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.constantFrom(8, 512),
      (cmds, muts, cuts, cap) => {
        const wire = mutate(Buffer.concat(cmds), muts);
        const pieces = cut(wire, cuts.map((c) => c % (wire.length + 1)));
        const o = { cmds: 64, args: cap, keys: cap };
        const n = runRequests(nativeEngine(o), pieces);
        const r = runRequests(referenceEngine(o), pieces);
        t.deepEqual(n.calls, r.calls); // same resume points, call by call
        if (n.calls.some((c) => c.status[7] > 0)) resumedRuns++;
        for (const [name, resumed] of [['native', n], ['reference', r]] as const) {
          const engine = name === 'native' ? nativeEngine(o) : referenceEngine(o);
          const whole = runRequests(engine, [wire]);
          const rescanned = runRequests(name === 'native' ? nativeEngine(o) : referenceEngine(o), pieces, undefined, false);
          t.deepEqual(resumed.commands, whole.commands, `${name}: resumed == whole`);
          t.deepEqual([resumed.error, resumed.errorByte, resumed.consumed], [whole.error, whole.errorByte, whole.consumed]);
          t.deepEqual(resumed.commands, rescanned.commands, `${name}: resumed == rescanned`);
        }
        return true;
      },
    ),
    { numRuns: 1500 },
  );
  t.true(resumedRuns > 300, `only ${resumedRuns} runs stopped inside a multibulk`);
});

test('requests: the resume point is the first argument not yet complete; a late protocol error is still found', (t) => {
  const head = '*4\r\n$4\r\nMSET\r\n$1\r\na\r\n'; // two arguments complete
  const wire = Buffer.from(`XX${head}$1\r\nb\r\n$1\r\nc\r\n`, 'latin1');
  for (const e of [nativeEngine(), referenceEngine()]) {
    const st = e.batch.status;
    t.is(e.hp.parseRequests(wire, 2, 2 + head.length + 2), 0);
    t.deepEqual([st[1], st[7], st[8]], [0, head.length, 2], 'S_CONSUMED 0, S_RESUME_AT at "$1\\r\\nb", 2 arguments before it');
    // Resumed with the rest: one MSET with all four arguments where one whole parse puts them.
    t.is(e.hp.parseRequests(wire, 2, wire.length, head.length, 2), 1);
    const args = Array.from(e.batch.args.subarray(0, 8));
    t.is(e.hp.parseRequests(wire, 2), 1);
    t.deepEqual(args, Array.from(e.batch.args.subarray(0, 8)));
    t.deepEqual([st[7], st[8]], [0, 0], 'no resume point once complete');
    // A bad length line after the resume point: the error Redis gives, no resume point.
    const bad = Buffer.from(`${head}$1\r\nb\r\n?1\r\nc\r\n`, 'latin1');
    t.is(e.hp.parseRequests(bad, 0, bad.length, head.length, 2), 0);
    t.deepEqual([st[2], st[6], st[7]], [3, '?'.charCodeAt(0), 0]);
  }
});

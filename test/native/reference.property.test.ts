/**
 * Property tests: random commands encoded as multibulk, plain inline or quoted inline, pipelined
 * and cut at random points, parse to exactly the encoded arguments, the same as unsplit; random
 * RESP replies frame to exactly their boundaries at random cut points.
 */
import test from 'ava';
import fc from 'fast-check';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import { bind, feed, makeBatch, sameOutcome, setup } from './wire-cases';

const NAMES = ['GET', 'set', 'MGET', 'mset', 'DEL', 'exists', 'EVAL', 'xread', 'OBJECT', 'ping', 'NOSUCH'];

type Encoded = { wire: Buffer; args: Buffer[] };

const argBytes = fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
const argList = fc.tuple(fc.constantFrom(...NAMES), fc.array(argBytes, { maxLength: 6 }));

function multibulk([name, rest]: [string, Buffer[]]): Encoded {
  const args = [Buffer.from(name), ...rest];
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return { wire: Buffer.concat(parts), args };
}

/** Plain inline: tokens of bytes that need no quoting. */
const plainToken = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((a) => Buffer.from(a.filter((b) => b > 0x20 && b !== 0x22 && b !== 0x27 && b < 0x7f)));
function inline([name, rest]: [string, Buffer[]], sep: string, eol: string): Encoded {
  const args = [Buffer.from(name), ...rest.filter((b) => b.length > 0)];
  return { wire: Buffer.concat([Buffer.from(args.map((a) => a.toString('latin1')).join(sep), 'latin1'), Buffer.from(eol)]), args };
}

/** Quoted inline: every byte escaped the way sdssplitargs reads it back. */
function quote(arg: Buffer, single: boolean): string {
  if (single) return `'${arg.toString('latin1').replace(/'/g, "\\'")}'`; // no backslashes here (singleQuotable)
  let s = '"';
  for (const b of arg) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += '\\\\';
    else if (b < 0x20 || b >= 0x7f) s += `\\x${b.toString(16).padStart(2, '0')}`;
    else s += String.fromCharCode(b);
  }
  return s + '"';
}
const singleQuotable = (b: Buffer) => !b.includes(0) && !b.includes(0x0a) && !b.includes(0x0d) && !b.includes(0x5c);
function quotedInline([name, rest]: [string, Buffer[]], singles: boolean[]): Encoded {
  const args = [Buffer.from(name), ...rest];
  const line = args.map((a, i) => (i === 0 ? name : quote(a, Boolean(singles[i]) && singleQuotable(a)))).join(' ');
  return { wire: Buffer.from(line + '\r\n', 'latin1'), args };
}

const command: fc.Arbitrary<Encoded> = fc.oneof(
  { weight: 3, arbitrary: argList.map(multibulk) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.array(plainToken, { maxLength: 5 }), fc.constantFrom(' ', '  ', '\t'), fc.constantFrom('\r\n', '\n')).map(([n, r, sep, eol]) => inline([n, r], sep, eol)) },
  { weight: 1, arbitrary: fc.tuple(argList, fc.array(fc.boolean(), { maxLength: 7 })).map(([a, s]) => quotedInline(a, s)) },
);

function cutAt(wire: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    pieces.push(wire.subarray(prev, p));
    prev = p;
  }
  pieces.push(wire.subarray(prev));
  return pieces.filter((p) => p.length > 0);
}

test('random pipelines cut at random points parse to the encoded arguments', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp);
  fc.assert(
    fc.property(
      fc.array(command, { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.constantFrom(1, 2, 5, 64),
      (cmds, cuts, capacity) => {
        const wire = Buffer.concat(cmds.map((c) => c.wire));
        const roomy = makeBatch(64, 512, 512);
        bind(hp, roomy);
        const whole = feed(hp, roomy, [wire]);
        const tiny = makeBatch(capacity, capacity, capacity);
        bind(hp, tiny);
        const split = feed(hp, tiny, cutAt(wire, cuts));
        const expected = cmds.map((c) => c.args.map((a) => a.toString('latin1')));
        return (
          whole.error === undefined && whole.rest === 0 &&
          JSON.stringify(whole.commands.map((c) => c.args)) === JSON.stringify(expected) &&
          sameOutcome(whole, split)
        );
      },
    ),
    { numRuns: 1500 },
  );
  t.pass();
});

/* ---------- replies ---------- */

const scalar = fc.oneof(
  fc.string({ maxLength: 10 }).map((s) => `+${s.replace(/[\r\n]/g, '')}\r\n`),
  fc.string({ maxLength: 10 }).map((s) => `-ERR ${s.replace(/[\r\n]/g, '')}\r\n`),
  fc.integer().map((n) => `:${n}\r\n`),
  fc.uint8Array({ maxLength: 20 }).map((a) => `$${a.length}\r\n${Buffer.from(a).toString('latin1')}\r\n`),
  fc.constantFrom('$-1\r\n', '*-1\r\n', '_\r\n', '#t\r\n', ',1.5\r\n', '(12345678901234567890\r\n', '=7\r\ntxt:abc\r\n'),
);
const { value } = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.tuple(fc.constantFrom('*', '~', '>'), fc.array(tie('value'), { maxLength: 4 })).map(([t, xs]) => `${t}${xs.length}\r\n${xs.join('')}`),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((kv) => `%${kv.length}\r\n${kv.map(([k, v]) => k + v).join('')}`),
    fc.tuple(scalar, scalar, tie('value')).map(([k, v, x]) => `|1\r\n${k}${v}${x}`),
  ),
}));

test('random RESP replies cut at random points frame to their exact boundaries', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp);
  const h = makeBatch(1, 1, 1, 3);
  bind(hp, h);
  fc.assert(
    fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (replies, cuts) => {
      const bufs = replies.map((r) => Buffer.from(r, 'latin1'));
      const wire = Buffer.concat(bufs);
      const want: number[] = [];
      bufs.reduce((off, b) => (want.push(off + b.length), off + b.length), 0);
      const got: number[] = [];
      let pending: Buffer = Buffer.alloc(0);
      let base = 0;
      for (const piece of cutAt(wire, cuts)) {
        pending = Buffer.concat([pending, piece]);
        let from = 0;
        for (;;) {
          const n = hp.frameReplies(pending, from);
          if (h.replyStatus[3] !== 0) return false;
          for (let i = 0; i < n; i++) got.push(base + h.replyEnds[i]);
          from += h.replyStatus[1];
          if (n < h.replyEnds.length) break;
        }
        base += from;
        pending = pending.subarray(from);
      }
      return pending.length === 0 && JSON.stringify(got) === JSON.stringify(want);
    }),
    { numRuns: 1500 },
  );
  t.pass();
});

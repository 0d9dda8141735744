/**
 * Property tests: random commands encoded as multibulk, plain inline or quoted inline, pipelined
 * and cut at random points, parse to exactly the encoded arguments, the same as unsplit; random
 * RESP replies frame to exactly their boundaries at random cut points.
 */
import test from 'ava';
import fc from 'fast-check';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import { bind, command, cutAt, soup, respValue as value, feed, makeBatch, sameOutcome, setup } from './wire-cases';

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

/* ---------- garbage ---------- */

test('byte soup: never throws, and the outcome does not depend on where it is cut', (t) => {
  const hp = new ReferenceHotPath();
  fc.assert(
    fc.property(soup, fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom(6, 12, 64 * 1024), fc.constantFrom(3, 100), (wire, cuts, maxInline, maxBulk) => {
      setup(hp, { maxInlineBytes: maxInline, maxBulkBytes: maxBulk });
      const roomy = makeBatch(64, 512, 512);
      bind(hp, roomy);
      const whole = feed(hp, roomy, [wire]);
      const tiny = makeBatch(1, 1, 1);
      bind(hp, tiny);
      const split = feed(hp, tiny, cutAt(wire, cuts));
      return sameOutcome(whole, split);
    }),
    { numRuns: 4000 },
  );
  t.pass();
});

test('reply soup: never throws; the replies framed before an error or the end do not depend on cuts', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp);
  const h = makeBatch(1, 1, 1, 64);
  bind(hp, h);
  const frame = (pieces: Buffer[]) => {
    const ends: number[] = [];
    let pending: Buffer = Buffer.alloc(0);
    let base = 0;
    for (const piece of pieces) {
      pending = Buffer.concat([pending, piece]);
      const n = hp.frameReplies(pending, 0);
      for (let i = 0; i < n; i++) ends.push(base + h.replyEnds[i]);
      if (h.replyStatus[3]) return { ends, error: true };
      base += h.replyStatus[1];
      pending = pending.subarray(h.replyStatus[1]);
    }
    return { ends, error: false };
  };
  fc.assert(
    fc.property(soup, fc.array(fc.nat(), { maxLength: 6 }), (wire, cuts) => JSON.stringify(frame([wire])) === JSON.stringify(frame(cutAt(wire, cuts)))),
    { numRuns: 4000 },
  );
  t.pass();
});

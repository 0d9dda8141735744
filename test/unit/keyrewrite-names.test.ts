import test from 'ava';
import fc from 'fast-check';
import { decodeName, deriveName, hasReservedPrefix, RESERVED_PREFIX, SlotTagTable } from '../../src/keyrewrite/derivedName';
import { KeyRewriter } from '../../src/keyrewrite/KeyRewriter';
import { SLOT_COUNT } from '../../src/topology/types';
import { specKeySlot as keySlot } from '../helpers/specSlot';

/** A different slot function (as the murmur option is): the table must adapt to it. */
function otherSlot(key: Buffer): number {
  const open = key.indexOf(0x7b);
  let part = key;
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) part = key.subarray(open + 1, close);
  }
  let h = 2166136261;
  for (const byte of part) h = Math.imul(h ^ byte, 16777619) >>> 0;
  return h % SLOT_COUNT;
}

const table = SlotTagTable.build(keySlot);
const b = (s: string) => Buffer.from(s, 'latin1');
// Keys rich in braces so every hash-tag case shows up: valid tags, empty tags, unclosed, '}' first.
const keyArb = fc.array(fc.oneof(fc.constantFrom(0x7b, 0x7d, 0x61, 0x62, 0x3a), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }).map((a) => Buffer.from(a));
const genArb = fc.integer({ min: 1, max: 2 ** 40 });

test('the slot tag table covers every slot with a short brace-free tag that hashes to it', (t) => {
  t.is(table.tags.length, SLOT_COUNT);
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const tag = table.tags[slot];
    t.true(tag.length >= 1 && tag.length <= 3 && !tag.includes(0x7d) && !tag.includes(0x7b));
    if (keySlot(b(`{${tag.toString('latin1')}}`)) !== slot) t.fail(`slot ${slot}`);
  }
});

test('the table is deterministic (same names in every process)', (t) => {
  const again = SlotTagTable.build(keySlot);
  t.true(again.tags.every((tag, i) => tag.equals(table.tags[i])));
});

test('derived names keep the slot of the original key (crc16), for any key and generation', (t) => {
  fc.assert(
    fc.property(keyArb, genArb, (key, gen) => keySlot(deriveName(key, gen, keySlot(key), table)) === keySlot(key)),
    { numRuns: 5000 },
  );
  // The hash-tag cases by hand.
  for (const k of ['user:{42}:a', '{42}', '{}x', 'x{}', '{x', 'x}', '}{x}', '{{x}}', '', 'plain', '{a}{b}']) {
    const key = b(k);
    t.is(keySlot(deriveName(key, 9, keySlot(key), table)), keySlot(key), k);
  }
});

test('derived names keep the slot under another hash function too', (t) => {
  const other = SlotTagTable.build(otherSlot);
  fc.assert(fc.property(keyArb, genArb, (key, gen) => otherSlot(deriveName(key, gen, otherSlot(key), other)) === otherSlot(key)), { numRuns: 3000 });
  t.pass();
});

test('keys sharing a hash tag still share a slot after rewrite', (t) => {
  const a = b('user:{42}:profile');
  const c = b('user:{42}:cart');
  const rw = new KeyRewriter([{ pattern: 'user:*', generation: 3 }], keySlot, table);
  t.is(keySlot(rw.rewrite(a)!), keySlot(rw.rewrite(c)!));
  t.is(keySlot(rw.rewrite(a)!), keySlot(b('42')));
});

test('derived names decode to (generation, key) and always carry the reserved prefix', (t) => {
  fc.assert(
    fc.property(keyArb, genArb, (key, gen) => {
      const name = deriveName(key, gen, keySlot(key), table);
      const d = decodeName(name);
      return hasReservedPrefix(name) && d !== null && d.generation === gen && d.key.equals(key) && d.tag.equals(table.tags[keySlot(key)]);
    }),
    { numRuns: 5000 },
  );
  t.is(decodeName(b('plain')), null);
  t.is(decodeName(Buffer.concat([RESERVED_PREFIX, b('{x}k')])), null); // no generation
  t.is(decodeName(Buffer.concat([RESERVED_PREFIX, b('07{x}k')])), null); // leading zero
  t.is(decodeName(Buffer.concat([RESERVED_PREFIX, b('7{}k')])), null); // empty tag
});

test('different generations or keys give different names (no collisions)', (t) => {
  fc.assert(
    fc.property(keyArb, keyArb, genArb, genArb, (k1, k2, g1, g2) => {
      const n1 = deriveName(k1, g1, keySlot(k1), table);
      const n2 = deriveName(k2, g2, keySlot(k2), table);
      return n1.equals(n2) === (k1.equals(k2) && g1 === g2);
    }),
    { numRuns: 5000 },
  );
  t.pass();
});

test('the rewriter uses the highest generation among matching rules', (t) => {
  const rw = new KeyRewriter(
    [
      { pattern: 'user:*', generation: 5 },
      { pattern: 'user:1*', generation: 9 },
    ],
    keySlot,
    table,
  );
  t.is(rw.generationOf(b('user:10')), 9);
  t.is(rw.generationOf(b('user:2')), 5);
  t.is(rw.generationOf(b('item:1')), 0);
  t.is(rw.rewrite(b('item:1')), null);
  t.is(decodeName(rw.rewrite(b('user:10'))!)!.generation, 9);
  t.true(rw.active);
  t.false(new KeyRewriter([], keySlot, table).active);
});

test('rewrite on a sub-range of a chunk equals rewrite of the key alone', (t) => {
  const rw = new KeyRewriter([{ pattern: 'user:*', generation: 5 }], keySlot, table);
  const chunk = b('$6\r\nuser:1\r\n');
  t.deepEqual(rw.rewrite(chunk, 4, 10), rw.rewrite(b('user:1')));
});

test('reveal: exactly one stored name per original key is visible, under the original name', (t) => {
  const rules = [{ pattern: 'user:*', generation: 5 }];
  const rw = new KeyRewriter(rules, keySlot, table);
  const user = b('user:1');
  const plain = b('item:1');
  const current = rw.rewrite(user)!;
  const old = deriveName(user, 4, keySlot(user), table);
  t.deepEqual(rw.reveal(current), user);
  t.is(rw.reveal(user), null); // the dropped plain key
  t.is(rw.reveal(old), null); // an older generation
  t.deepEqual(rw.reveal(plain), plain);
  t.deepEqual(rw.visibleNames([user, current, old, plain, current], b('user:*')), [user]);
  t.deepEqual(rw.visibleNames([user, current, old, plain]).map(String).sort(), ['item:1', 'user:1']);
  // A look-alike with the wrong tag stays hidden.
  const fake = Buffer.concat([RESERVED_PREFIX, b('5{zzzz}user:1')]);
  t.is(rw.reveal(fake), null);
  // After remove (no rules) plain keys are visible again and derived names are dead.
  const none = new KeyRewriter([], keySlot, table);
  t.deepEqual(none.reveal(user), user);
  t.is(none.reveal(current), null);
  t.true(none.isDead(current));
  t.false(none.isDead(user));
});

test('the KEYS backend patterns select every visible derived name', (t) => {
  const rw = new KeyRewriter([{ pattern: 'user:*', generation: 5 }], keySlot, table);
  const [plainPattern, derivedPattern] = rw.backendKeysPatterns(b('user:?'));
  t.deepEqual(plainPattern, b('user:?'));
  const { globMatch } = require('../../src/keyrewrite/glob') as typeof import('../../src/keyrewrite/glob');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 9 }), (n) => globMatch(derivedPattern, rw.rewrite(b(`user:${n}`))!)),
  );
  t.pass();
});

test('keys with the reserved prefix are refused, with rules and without', (t) => {
  const reserved = Buffer.concat([RESERVED_PREFIX, b('x')]);
  t.true(new KeyRewriter([{ pattern: 'a', generation: 1 }], keySlot, table).isReserved(reserved));
  t.true(new KeyRewriter([], keySlot, table).isReserved(reserved));
  t.true(new KeyRewriter([], keySlot, table).needsRewrite(reserved));
  t.false(new KeyRewriter([], keySlot, table).needsRewrite(b('user:1')));
  t.false(new KeyRewriter([], keySlot, table).isReserved(b('\xffkr')));
});

test('with the cluster hashes (crc16, murmur with a seed) derived names keep the slot', async (t) => {
  const { SlotHasher } = await import('../../src/native/reference/hash');
  for (const [hash, seed] of [['crc16', 0], ['murmur', 0], ['murmur', 987654]] as const) {
    const hasher = new SlotHasher();
    hasher.configure(hash, seed);
    const slotOf = (k: Buffer) => hasher.slot(k, 0, k.length);
    const built = SlotTagTable.build(slotOf);
    const background = await SlotTagTable.buildInBackground(slotOf);
    t.true(built.tags.every((tag, i) => tag.equals(background.tags[i])), `${hash}/${seed}: background build differs`);
    fc.assert(fc.property(keyArb, genArb, (key, gen) => slotOf(deriveName(key, gen, slotOf(key), built)) === slotOf(key)), { numRuns: 2000 });
    if (hash === 'crc16') t.true(built.tags.every((tag, i) => tag.equals(table.tags[i])), 'SlotHasher crc16 agrees with the spec CRC16');
  }
});

test('the prefix/suffix prefilters never reject a key the glob matches', (t) => {
  const { globMatch } = require('../../src/keyrewrite/glob') as typeof import('../../src/keyrewrite/glob');
  const bytes = (max: number) => fc.array(fc.constantFrom(...Buffer.from('ab*?[]^-\\:')), { maxLength: max }).map((a) => Buffer.from(a));
  fc.assert(
    fc.property(bytes(7), bytes(9), (pattern, key) => {
      const rw = new KeyRewriter([{ pattern: pattern.toString('latin1'), generation: 5 }], keySlot, table);
      // Patterns are strings in the topology: compare on the bytes the rewriter really uses.
      const p = Buffer.from(pattern.toString('latin1'), 'utf8');
      return (rw.generationOf(key) === 5) === globMatch(p, key);
    }),
    { numRuns: 20000 },
  );
  t.pass();
});

import test from 'ava';
import fc from 'fast-check';
import { loadAddon } from '../../src/native/NativeHotPath';
import { nativeEngine, referenceEngine } from './native-setup';

const slotOf = (key: string | Buffer) => nativeEngine().hp.keySlot(Buffer.isBuffer(key) ? key : Buffer.from(key));

test('CRC16 slots match the values Redis Cluster documents', (t) => {
  // Redis cluster spec: CRC16("123456789") = 0x31C3; CLUSTER KEYSLOT examples.
  t.is(loadAddon().crc16(Buffer.from('123456789')), 0x31c3);
  t.is(slotOf('123456789'), 12739);
  t.is(slotOf('foo'), 12182);
  t.is(slotOf('bar'), 5061);
  t.is(slotOf('hello'), 866);
  t.is(slotOf(''), 0);
  t.is(loadAddon().keySlot(Buffer.from('foo{bar}{zap}')), 5061); // the module-level CRC16 helper
});

test('hash tags follow keyHashSlot: first { then first } after it, empty tag = whole key', (t) => {
  const crc = (s: string) => loadAddon().crc16(Buffer.from(s)) & 16383;
  t.is(slotOf('foo{bar}{zap}'), slotOf('bar'));
  t.is(slotOf('foo{{bar}}zap'), crc('{bar'));
  t.is(slotOf('foo{}{bar}'), crc('foo{}{bar}'));
  t.is(slotOf('{user1000}.following'), slotOf('{user1000}.followers'));
  t.is(slotOf('a{b'), crc('a{b'));
  t.is(slotOf('a}b{c}'), slotOf('c'));
  // Binary keys: bytes, not characters.
  const bin = Buffer.from([0xff, 0x00, 0x7b, 0x80, 0x7d, 0x01]); // \xff \0 { \x80 } \x01
  t.is(slotOf(bin), loadAddon().crc16(Buffer.from([0x80])) & 16383);
});

test('native and reference agree on every slot, CRC16 and murmur (any seed), binary keys', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom('', '{', '}', '{}', '{x}'), (bytes, murmur, seed, extra) => {
      const key = Buffer.concat([Buffer.from(bytes), Buffer.from(extra)]);
      const o = { hash: murmur ? ('murmur' as const) : ('crc16' as const), murmurSeed: seed };
      const n = nativeEngine(o).hp.keySlot(key);
      const r = referenceEngine(o).hp.keySlot(key);
      return n === r && n >= 0 && n < 16384;
    }),
    { numRuns: 400 },
  );
  t.pass();
});

test('murmur slot = MurmurHash2(tag, seed) mod 16384, and the seed matters', (t) => {
  const addon = loadAddon();
  const e = nativeEngine({ hash: 'murmur', murmurSeed: 0x1234 });
  t.is(e.hp.keySlot(Buffer.from('user:{42}:name')), addon.murmur2(Buffer.from('42'), 0x1234) % 16384);
  t.is(e.hp.keySlot(Buffer.from('plain')), addon.murmur2(Buffer.from('plain'), 0x1234) % 16384);
  // MurmurHash2 reference vector: empty input with seed 0 hashes to 0.
  t.is(addon.murmur2(Buffer.alloc(0), 0), 0);
  const seeds = new Set([0, 1, 2, 3, 4].map((seed) => addon.murmur2(Buffer.from('kvstore'), seed)));
  t.is(seeds.size, 5);
});

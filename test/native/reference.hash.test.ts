import test from 'ava';
import fc from 'fast-check';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import { murmur2 } from '../../src/native/reference/hash';
import { SLOT_CROSS } from '../../src/native/api';
import { DEFAULT_OPTIONS, bind, feed, makeBatch, oracleSlot, setup } from './wire-cases';

function crcPath(): ReferenceHotPath {
  const hp = new ReferenceHotPath();
  hp.configure(DEFAULT_OPTIONS);
  return hp;
}

test('CRC16 slot: Redis vectors and hash-tag rules', (t) => {
  const hp = crcPath();
  const slot = (k: string) => hp.keySlot(Buffer.from(k, 'latin1'));
  t.is(slot('123456789'), 12739); // CRC16-XMODEM check value 0x31C3
  t.is(slot('{123456789}'), 12739);
  t.is(slot('foo'), 12182); // CLUSTER KEYSLOT foo
  t.is(slot('bar'), 5061);
  t.is(slot('foo{bar}{zap}'), slot('bar')); // first tag only
  t.is(slot('foo{{bar}}zap'), slot('{bar')); // tag runs from the first '{' to the first '}'
  t.is(slot('foo{}{bar}'), oracleSlot(Buffer.from('foo{}{bar}'))); // empty tag: whole key
  t.not(slot('foo{}{bar}'), slot('bar'));
  t.is(slot('{user1000}.following'), slot('{user1000}.followers'));
  t.is(slot('foo{bar'), oracleSlot(Buffer.from('foo{bar'))); // no closing brace: whole key
  t.is(slot(''), 0);
});

test('CRC16 slot equals the bitwise oracle on random binary keys', (t) => {
  const hp = crcPath();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.constantFrom('', '{', '}', '{}', '{a}'), fc.nat(40), (bytes, brace, at) => {
      const b = Buffer.from(bytes);
      const key = Buffer.concat([b.subarray(0, at), Buffer.from(brace), b.subarray(at)]);
      return hp.keySlot(key) === oracleSlot(key);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

// [seed, key index, MurmurHash2 32-bit] from a C implementation of Appleby's algorithm
// (compiled separately; see the report), keys as below.
const MURMUR_KEYS = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', '123456789', 'foo', 'user:1000', '\xff\xfe\x80\x01\x00z'];
const MURMUR_VECTORS: Array<[number, number, number]> = [
  [0, 0, 0], [0, 1, 2456313694], [0, 2, 446775395], [0, 3, 324500635], [0, 4, 646393889],
  [0, 5, 1594468574], [0, 6, 3704291687], [0, 7, 2414502773], [0, 8, 3055339274], [0, 9, 3947291626],
  [1, 0, 1540447798], [1, 1, 626045324], [1, 2, 1692487918], [1, 3, 1621425345], [1, 4, 3376380438],
  [1, 5, 3469237630], [1, 6, 2788329418], [1, 7, 197930586], [1, 8, 3752402301], [1, 9, 662919224],
  [2538058380, 0, 275646681], [2538058380, 1, 2731586172], [2538058380, 2, 316155434], [2538058380, 3, 479470107], [2538058380, 4, 2971317748],
  [2538058380, 5, 461995741], [2538058380, 6, 2472730214], [2538058380, 7, 597841616], [2538058380, 8, 1476113441], [2538058380, 9, 2697246933],
  [3735928559, 0, 1552874934], [3735928559, 1, 1262581116], [3735928559, 2, 4184437907], [3735928559, 3, 4223119408], [3735928559, 4, 3776755315],
  [3735928559, 5, 2403634528], [3735928559, 6, 4093200522], [3735928559, 7, 3112852664], [3735928559, 8, 1347167473], [3735928559, 9, 2165341093],
  [4294967295, 0, 3008980656], [4294967295, 1, 713507990], [4294967295, 2, 2476664650], [4294967295, 3, 3964373856], [4294967295, 4, 1555318719],
  [4294967295, 5, 3902088345], [4294967295, 6, 2713838756], [4294967295, 7, 617945242], [4294967295, 8, 2093788177], [4294967295, 9, 1158515401],
];

test('MurmurHash2 vectors', (t) => {
  for (const [seed, i, want] of MURMUR_VECTORS) {
    const key = Buffer.from(MURMUR_KEYS[i], 'latin1');
    t.is(murmur2(key, 0, key.length, seed), want, `seed ${seed} key ${JSON.stringify(MURMUR_KEYS[i])}`);
  }
});

test('murmur slot: mod 16384 with seed, hash tags honoured', (t) => {
  const hp = new ReferenceHotPath();
  hp.configure({ ...DEFAULT_OPTIONS, hash: 'murmur', murmurSeed: 1 });
  const key = Buffer.from('a');
  t.is(hp.keySlot(key), 626045324 % 16384);
  t.is(hp.keySlot(Buffer.from('x{a}y')), 626045324 % 16384);
  t.is(hp.keySlot(Buffer.from('x{}a')), murmur2(Buffer.from('x{}a'), 0, 4, 1) % 16384);
  hp.configure({ ...DEFAULT_OPTIONS, hash: 'murmur', murmurSeed: 0 });
  t.is(hp.keySlot(key), 2456313694 % 16384);
});

test('parsed key slots follow the configured hash (murmur), tags included', (t) => {
  const hp = new ReferenceHotPath();
  setup(hp, { hash: 'murmur', murmurSeed: 0x9747b28c });
  const h = makeBatch(4, 16, 16);
  bind(hp, h);
  const keys = ['x{a}y', 'a', 'user:1000'];
  const got = feed(hp, h, [Buffer.from(`*4\r\n$4\r\nMGET\r\n${keys.map((k) => `$${k.length}\r\n${k}\r\n`).join('')}`)]);
  const want = keys.map((k) => {
    const b = Buffer.from(k === 'x{a}y' ? 'a' : k);
    return murmur2(b, 0, b.length, 0x9747b28c) % 16384;
  });
  t.deepEqual(got.commands[0].keySlots, want);
  t.is(want[0], want[1]);
  t.is(got.commands[0].slot, SLOT_CROSS);
});
